"""What an exhibit's row holds sealed: its data key, and its free text (file name, device hash, SHA-256).

The data key is sealed under the witness's key (interview exhibits) or the KEK (incident
exhibits), so a withdrawal shreds it with the witness. The plain SHA-256 of the whole content
is sealed beside the file name once the upload completes: at rest it is never in the clear,
and only readers of the content see it (``Repr-Digest``, the case file). The file name and
device hash are shown beside the metadata only to those who may read the content
(``casework.interviews.free_text``).
"""

from __future__ import annotations

import json

from casework.errors import Gone
from casework.exhibits.models import Exhibit
from casework.fields import Extended
from casework.interviews.free_text import as_seen, may_read_content

Sealed = dict[str, str | None]


def data_key(exhibit: Exhibit) -> bytes:
    """The key of the exhibit's chunks; ``Gone`` once it is shredded."""
    return exhibit.sealed_datakey.open()


def opened(exhibit: Exhibit) -> Sealed:
    """What ``sealed_freetext`` holds: file name, device hash and (once complete) the plain SHA-256.

    Empty when there is nothing sealed or it is shredded; see ``sealed_or_shredded`` to tell the two apart.
    """
    sealed = exhibit.sealed_freetext.open_or_none()
    return json.loads(sealed) if sealed is not None else {}


def sealed_or_shredded(exhibit: Exhibit) -> Sealed | None:
    """Like ``opened``, but None when the exhibit's keys are gone: its row's, or its witness's in the
    provider (a database restored from before a withdrawal; an erasure pending)."""
    if exhibit.shredded:
        return None
    if not exhibit.sealed_freetext.present:
        return {}
    try:
        return json.loads(exhibit.sealed_freetext.open())
    except Gone:
        return None


def seal(exhibit: Exhibit, sealed: Sealed) -> None:
    exhibit.sealed_freetext.seal(json.dumps(sealed).encode())


def seal_digest(exhibit: Exhibit, sealed: Sealed, sha256: str) -> None:
    """Add the plain SHA-256 (hex) of the whole content to what is sealed, beside the file name."""
    seal(exhibit, {**sealed, "sha256": sha256})


def free_text_of(sealed: Sealed) -> Sealed:
    """The identifying free text of what ``opened`` returned: file name and device hash."""
    return {"filename": sealed.get("filename"), "device_hash": sealed.get("device_hash")}


def sha256_of(sealed: Sealed) -> bytes | None:
    """The plain SHA-256 of the whole content from what ``opened`` returned; None if it holds none."""
    found = sealed.get("sha256")
    return bytes.fromhex(found) if found else None


def free_text(exhibit: Exhibit) -> Sealed:
    """The original file name and device hash; None when absent or shredded."""
    return free_text_of(opened(exhibit))


def as_seen_by_caller(exhibit: Exhibit) -> Extended:
    """The exhibit with its file name and device hash shown only if the caller may read its content."""
    readable = may_read_content("exhibit.read", exhibit.custody_target())
    return Extended(exhibit, **as_seen(free_text(exhibit), readable))
