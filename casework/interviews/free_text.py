"""Who sees identifying free text: file names, correction reasons, translators, interpreters, people present.

SPEC: free text that could identify a witness is shown only to those who may read that witness's
content. So beside a metadata read (an interview, a transcript listing, an exhibit) the free text
is shown exactly when the caller may also read the content it describes: ``transcript.read`` for
an interview and its transcript versions, ``exhibit.read`` for an exhibit (the policy's
``_CONTENT`` rule, with the same membership the door uses). Nothing more is released by this
decision, so it records nothing of its own: the metadata read that carries the answer is recorded
by the door as usual.

Anyone else gets each value that exists as ``WITHHELD`` (dumped ``null`` with ``<name>_withheld``
true, ``casework.fields.FreeTextSchema``); a value that is absent, or destroyed with the witness's
key, reads the same for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.access.door import current_principal, is_member
from casework.access.policy import Decision, decide
from casework.access.targets import Target
from casework.fields import WITHHELD


def may_read_content(action: str, target: Target) -> bool:
    """Whether the caller may do the content read ``action`` on ``target`` (decided, not recorded)."""
    actor = current_principal()
    return decide(action, actor.known_role, actor.id, target, is_member) is Decision.ALLOW


def as_seen(values: Mapping[str, Any], readable: bool) -> dict[str, Any]:
    """The free text as the caller sees it: as it is, or ``WITHHELD`` for each value that exists."""
    if readable:
        return dict(values)
    return {name: WITHHELD if value else value for name, value in values.items()}
