"""Who may hold a way into which account, so that "two admins" means two people.

An admin who chose an account's password (created it through the API, or reset it) may know it
still, or may have made the forced change themselves; one who removed its second factor may
know the password by other means. So they may act as that account, and, through it, as every
account whose password *it* set. ``holders`` follows those links (``CredentialSetter``) to their
end; two accounts are independent when no one may hold a way into both.

Consequence, on purpose: every admin an admin creates through the API stays tied to their
creator. Independent admins are made by the operator (``flask users create``), whose accounts
have no setter.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from casework.auth.models import CredentialSetter
from casework.db import db

CREATED, PASSWORD_RESET, MFA_RESET = "created", "password_reset", "mfa_reset"


def record_setter(user_id: int, set_by_id: int, via: str) -> None:
    """``set_by_id`` chose ``user_id``'s password (replacing earlier setters) or removed its second factor."""
    if via != MFA_RESET:
        db.session.execute(delete(CredentialSetter).where(CredentialSetter.user_id == user_id))
    elif db.session.get(CredentialSetter, (user_id, set_by_id)) is not None:
        return
    db.session.add(CredentialSetter(user_id=user_id, set_by_id=set_by_id, via=via))
    db.session.flush()


def holders(user_ids: Iterable[int]) -> set[int]:
    """The accounts and every account that may hold a way into one of them, transitively."""
    seen = set(user_ids)
    frontier = set(seen)
    while frontier:
        found = set(
            db.session.scalars(select(CredentialSetter.set_by_id).where(CredentialSetter.user_id.in_(sorted(frontier))))
        )
        frontier = found - seen
        seen |= frontier
    return seen


def independent(approver_id: int, *others: int) -> bool:
    """No one may act both as ``approver_id`` and as one of ``others``."""
    return not holders([approver_id]) & holders(others)
