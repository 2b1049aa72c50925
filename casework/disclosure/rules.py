"""Which consent a disclosure needs, as data, and the one pure decision over it.

Think of a disclosure officer's checklist, in order (the first that fails is the reason):

1. An item with no witness (an incident, an incident's exhibit) carries no witness's consent
   and is released: ``no_witness``.
2. A latest consent record that is a withdrawal: ``consent_withdrawn``. A witness whose
   records were crypto-shredded otherwise (an erasure order): ``witness_shredded``. No consent
   record at all: ``no_consent_record``. A record without the ``record`` scope (the witness
   never agreed their statement be kept): ``consent_record_scope_missing``.
3. The recipient's kind must be covered by a scope, per ``SCOPE_FOR_RECIPIENT``:

   * ``prosecutor`` needs ``share_with_prosecutors``;
   * ``court`` and ``defence`` need ``share_with_prosecutors`` too: a witness who agreed that
     their statement go to a prosecution agreed that it enter criminal proceedings, where the
     chamber receives it and the defence is entitled to it (ICC Rules 76-77); no consent scope
     is narrower than that, and none wider is implied;
   * ``un_body`` needs ``share_with_un_bodies``;
   * ``other`` (an NGO, a journalist, a national authority outside a prosecution) is covered by
     no scope, so nothing of a witness goes there: ``recipient_kind_not_covered``.

   Missing scope: ``consent_scope_missing:<scope>``.
4. A witness's identity needs, on top, the ``disclose_identity`` scope
   (``consent_scope_missing:disclose_identity``) and the disclosure's explicit
   ``include_identity`` request (``identity_not_requested``), and an identity on record
   (``no_identity_recorded``).

Included items carry ``consent:<scope>`` (or ``consent:<scope>+disclose_identity``).
A redaction follows its source's witness; so does an exhibit of an interview.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCOPE_FOR_RECIPIENT: Mapping[str, str | None] = {
    "prosecutor": "share_with_prosecutors",
    "court": "share_with_prosecutors",
    "defence": "share_with_prosecutors",
    "un_body": "share_with_un_bodies",
    "other": None,
}
IDENTITY_SCOPE = "disclose_identity"
RECORD_SCOPE = "record"


@dataclass(frozen=True)
class ConsentState:
    """What the decision reads of a witness: shredded or not, and the consent in force (if any)."""

    shredded: bool
    has_record: bool
    withdrawn: bool = False
    scopes: Mapping[str, Any] | None = None
    has_identity: bool = False


@dataclass(frozen=True)
class Verdict:
    included: bool
    reason: str


def decide(item_kind: str, recipient_kind: str, witness: ConsentState | None, *, identity_requested: bool) -> Verdict:
    """Include or exclude one item for one recipient, and say why (a code, never content)."""
    if witness is None:
        return Verdict(True, "no_witness")
    if witness.has_record and witness.withdrawn:
        return Verdict(False, "consent_withdrawn")
    if witness.shredded:
        return Verdict(False, "witness_shredded")
    if not witness.has_record:
        return Verdict(False, "no_consent_record")
    scopes = witness.scopes or {}
    if scopes.get(RECORD_SCOPE) is not True:
        return Verdict(False, "consent_record_scope_missing")
    needed = SCOPE_FOR_RECIPIENT[recipient_kind]
    if needed is None:
        return Verdict(False, "recipient_kind_not_covered")
    if scopes.get(needed) is not True:
        return Verdict(False, f"consent_scope_missing:{needed}")
    if item_kind != "witness_identity":
        return Verdict(True, f"consent:{needed}")
    if scopes.get(IDENTITY_SCOPE) is not True:
        return Verdict(False, f"consent_scope_missing:{IDENTITY_SCOPE}")
    if not identity_requested:
        return Verdict(False, "identity_not_requested")
    if not witness.has_identity:
        return Verdict(False, "no_identity_recorded")
    return Verdict(True, f"consent:{needed}+{IDENTITY_SCOPE}")


# --- the second lawyer ---------------------------------------------------------------------------
# What makes a disclosure wait for a second lawyer of the case (SPEC v3): each is a release that
# one coerced or mistaken colleague must never make alone.
APPROVAL_WITNESS_IDENTITY = "witness_identity"  # a witness's protected identity goes out
APPROVAL_REDACTED_SOURCE = "redacted_source"  # a transcript version that has a redaction, unredacted
APPROVAL_DEFENCE = "defence"  # anything to the defence
APPROVAL_STAFF_IDENTITY = "staff_identity"  # staff names in the custody trail (a court only)
STAFF_IDENTITY_RECIPIENTS = ("court",)


def approval_reasons(
    recipient_kind: str, *, identity_items: int, redacted_sources: int, staff_identity: bool
) -> list[str]:
    """Why this disclosure needs a second lawyer (empty: one lawyer may release it).

    Counts are of items *included*: an item the consent rules exclude is never sent, so it
    cannot make a release dangerous.
    """
    reasons = []
    if identity_items:
        reasons.append(APPROVAL_WITNESS_IDENTITY)
    if redacted_sources:
        reasons.append(APPROVAL_REDACTED_SOURCE)
    if recipient_kind == "defence":
        reasons.append(APPROVAL_DEFENCE)
    if staff_identity:
        reasons.append(APPROVAL_STAFF_IDENTITY)
    return reasons
