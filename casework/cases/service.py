"""Cases and membership. Membership is what opens a case's objects to interviewers and lawyers.

Membership follows the SPEC's two-person rule: an admin proposes; once a case has a legal
member, one of them must approve. An admin never reads content, and cannot give themselves (or an
account they made) a way to: a lawyer they add to a case that has a lawyer sees nothing until that
lawyer approves.

* ``PUT /cases/{id}/members/{user_id}`` (admin): on a case with no legal member yet the user is a
  member at once (``status: member``); otherwise a proposal is stored (``status: pending``, 202)
  and nobody gains any access.
* ``POST /cases/{id}/members/{user_id}/approve`` (a legal member of the case): the proposal becomes
  a membership. Only admins propose and admins are never members, so the approver is always a
  second person; a proposal is still refused to its proposer and to the proposed user.
* ``DELETE /cases/{id}/members/{user_id}/proposal``: a legal member of the case rejects it, or an
  admin withdraws it.
* ``DELETE /cases/{id}/members/{user_id}`` (admin) removes a member at once (less access needs no
  second person), except the case's last legal member: without them the next addition would
  need no approval.

Membership changes lock the case row first (``FOR NO KEY UPDATE``), so changes to one case's
members are serial; like every row lock, it is taken before the custody head.

Case references are unique across all cases. A reference in use is answered 409
``case-reference-taken`` with the same body whoever asks, whether or not they may see the case
that uses it: no id, no title, nothing of that case. (That the reference is taken is what
uniqueness means; nothing else about the other case leaks.) Two requests racing for one
reference get the same 409, never a database error.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from casework.access.door import authorize, forget_membership, load_authorized, visible_cases
from casework.access.models import CaseMember
from casework.access.roles import Role
from casework.access.targets import Target
from casework.auth.models import User
from casework.cases.models import Case, MembershipProposal
from casework.db import db
from casework.errors import Conflict, Forbidden, Invalid, NotFound
from casework.fields import Extended
from casework.pagination import Page, keyset_page

MEMBER, PENDING = "member", "pending"


def _reference_taken() -> Conflict:
    return Conflict("That case reference is already in use.", problem="case-reference-taken",
                    errors={"json": {"reference": ["Already in use."]}})


def _check_reference_free(reference: str | None, case_id: int | None = None) -> None:
    if reference is None:
        return
    existing = db.session.execute(select(Case.id).where(Case.reference == reference)).scalar_one_or_none()
    if existing is not None and existing != case_id:
        raise _reference_taken()


@contextmanager
def _case_written(reference: str | None, case_id: int | None = None) -> Iterator[None]:
    """Write the case's changes now, in a savepoint (before the custody head is taken).

    A reference another request took since ``_check_reference_free`` is the same 409.
    """
    savepoint = db.session.begin_nested()
    try:
        yield
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        _check_reference_free(reference, case_id)
        raise
    savepoint.commit()


def create_case(data: dict[str, Any]) -> Case:
    access = authorize("case.create", Target("case"))
    _check_reference_free(data.get("reference"))
    case = Case(created_by_id=access.user_id, **data)
    with _case_written(data.get("reference")):
        db.session.add(case)
    if access.actor.role == Role.LEGAL:
        # A lawyer who opens a case works on it; without membership they could not see it.
        db.session.add(CaseMember(case_id=case.id, user_id=access.user_id, added_by_id=access.user_id))
    access.note(created_case_id=case.id)
    return case


def list_cases(args: dict[str, Any]) -> Page:
    authorize("case.list", Target("case"))
    return keyset_page(select(Case).where(visible_cases("case.list", Case.id)), Case.id, args)


def case_detail(case_id: int) -> Case:
    """The case; its members (with their accounts) load in one more query."""
    return load_authorized(Case, case_id, "case.read").obj


def update_case(case_id: int, changes: dict[str, Any]) -> Case:
    access = load_authorized(Case, case_id, "case.update")
    if "reference" in changes:
        _check_reference_free(changes["reference"], access.obj.id)
    with _case_written(changes.get("reference"), access.obj.id):
        for name, value in changes.items():
            setattr(access.obj, name, value)
    access.note(changed=sorted(changes))
    return access.obj


# Membership ------------------------------------------------------------------------------


def _lock_case(case_id: int) -> Case:
    """Serialise membership changes of one case (a row lock on PostgreSQL; SQLite is serial)."""
    return db.session.execute(
        select(Case).where(Case.id == case_id).with_for_update(key_share=True)
    ).scalar_one()


def _has_legal_member(case_id: int) -> bool:
    return db.session.execute(
        select(CaseMember.user_id).join(User, User.id == CaseMember.user_id)
        .where(CaseMember.case_id == case_id, User.role == Role.LEGAL).limit(1)
    ).first() is not None


def _legal_members(case_id: int) -> list[int]:
    return list(db.session.scalars(
        select(CaseMember.user_id).join(User, User.id == CaseMember.user_id)
        .where(CaseMember.case_id == case_id, User.role == Role.LEGAL)
    ))


def _member_candidate(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise Invalid("No such active user.", errors={"path": {"user_id": ["Unknown or inactive user."]}})
    if user.role not in (Role.INTERVIEWER, Role.LEGAL):
        raise Invalid("Only interviewers and lawyers are case members; admins and auditors see all cases.",
                      errors={"path": {"user_id": [f"Role {user.role} cannot be a member."]}})
    return user


def _proposal(case_id: int, user_id: int) -> MembershipProposal:
    proposal = db.session.get(MembershipProposal, (case_id, user_id))
    if proposal is None:
        raise NotFound("No membership of that user is waiting for approval in this case.")
    return proposal


def add_member(case_id: int, user_id: int) -> Extended:
    """A member now (``status`` member) if the case has no legal member yet, else a pending proposal."""
    access = load_authorized(Case, case_id, "case.member.add", user_id=user_id)
    case = _lock_case(access.obj.id)
    user = _member_candidate(user_id)
    member = db.session.get(CaseMember, (case.id, user.id))
    if member is not None:
        access.note(result="already_member")
        return Extended(member, status=MEMBER)
    if not _has_legal_member(case.id):
        member = CaseMember(case_id=case.id, user_id=user.id, added_by_id=access.user_id)
        db.session.add(member)
        db.session.flush()
        forget_membership()
        access.note(result="added")
        return Extended(member, status=MEMBER)
    proposal = db.session.get(MembershipProposal, (case.id, user.id))
    if proposal is None:
        proposal = MembershipProposal(case_id=case.id, user_id=user.id, proposed_by_id=access.user_id)
        db.session.add(proposal)
        db.session.flush()
    access.note(result="proposed", proposed_by_id=proposal.proposed_by_id)
    return Extended(proposal, status=PENDING)


def suspend_memberships(user_id: int, proposed_by_id: int) -> list[int]:
    """After an admin sets someone's password, the admin may be the one who logs in as them.

    So each of that user's memberships in a case that has another lawyer goes back to a pending
    proposal, which a lawyer of the case (not the user, not the admin) must approve again. Where
    the user is the case's only lawyer nobody else could approve; the SPEC lets an admin add a
    case's first lawyer directly, so suspending there would change nothing, and it is kept.
    Returns the cases suspended.
    """
    suspended = []
    members = db.session.scalars(
        select(CaseMember).where(CaseMember.user_id == user_id).order_by(CaseMember.case_id)
    ).all()
    for member in members:
        case = _lock_case(member.case_id)
        if not [lawyer for lawyer in _legal_members(case.id) if lawyer != user_id]:
            continue
        db.session.delete(member)
        if db.session.get(MembershipProposal, (case.id, user_id)) is None:
            db.session.add(MembershipProposal(case_id=case.id, user_id=user_id, proposed_by_id=proposed_by_id))
        suspended.append(case.id)
    db.session.flush()
    forget_membership()
    return suspended


def memberships_for_role(user: User, new_role: str, changed_by_id: int) -> dict[str, list[int]]:
    """A role change must not skip the two-person rule (call before the role is changed).

    A lawyer approved an interviewer, not a lawyer: an account made a lawyer goes back to a pending
    proposal in each case with another lawyer (``suspend_memberships``), as after a reset; where it
    is the case's only lawyer, an admin could have added it as the first one. A case's last lawyer
    keeps the role (409, as ``remove_member``): without them the next member needs no approval. A
    role that cannot be a member (admin, auditor) leaves every case and every proposal.
    Returns what was changed, for the custody event.
    """
    if new_role == user.role:
        return {}
    if new_role == Role.LEGAL:
        return {"memberships_suspended": suspend_memberships(user.id, changed_by_id)}
    members = db.session.scalars(
        select(CaseMember).where(CaseMember.user_id == user.id).order_by(CaseMember.case_id)
    ).all()
    if user.role == Role.LEGAL:
        for member in members:  # case rows locked in id order, as every membership change
            if _legal_members(_lock_case(member.case_id).id) == [user.id]:
                raise Conflict("The user is a case's last legal member, who approves every new member: "
                               "have them approve another lawyer of that case first.", problem="last-legal-member")
    if new_role == Role.INTERVIEWER:
        return {}
    proposals = db.session.scalars(select(MembershipProposal).where(MembershipProposal.user_id == user.id)).all()
    for row in [*members, *proposals]:
        db.session.delete(row)
    db.session.flush()
    forget_membership()
    return {"memberships_ended": [member.case_id for member in members],
            "proposals_withdrawn": [proposal.case_id for proposal in proposals]}


def approve_member(case_id: int, user_id: int) -> Extended:
    """A legal member of the case approves a proposal: the user becomes a member."""
    access = load_authorized(Case, case_id, "case.member.approve", user_id=user_id)
    case = _lock_case(access.obj.id)
    proposal = _proposal(case.id, user_id)
    if access.user_id in (proposal.proposed_by_id, proposal.user_id):
        raise Forbidden("The second person must be someone else than the proposer and the proposed member.")
    user = _member_candidate(user_id)
    member = CaseMember(case_id=case.id, user_id=user.id, added_by_id=proposal.proposed_by_id)
    access.note(result="added", proposed_by_id=proposal.proposed_by_id)
    db.session.delete(proposal)
    db.session.add(member)
    db.session.flush()
    forget_membership()
    return Extended(member, status=MEMBER)


def reject_proposal(case_id: int, user_id: int) -> None:
    """A legal member of the case rejects a proposal, or an admin withdraws it."""
    access = load_authorized(Case, case_id, "case.member.reject", user_id=user_id)
    case = _lock_case(access.obj.id)
    proposal = _proposal(case.id, user_id)
    access.note(proposed_by_id=proposal.proposed_by_id)
    db.session.delete(proposal)
    db.session.flush()


def remove_member(case_id: int, user_id: int) -> None:
    access = load_authorized(Case, case_id, "case.member.remove", user_id=user_id)
    case = _lock_case(access.obj.id)
    member = db.session.get(CaseMember, (case.id, user_id))
    if member is None:
        raise NotFound("That user is not a member of this case.")
    if _legal_members(case.id) == [user_id]:
        raise Conflict("The case's last legal member cannot be removed: they approve every new member. "
                       "Have them approve another lawyer first.", problem="last-legal-member")
    db.session.delete(member)
    db.session.flush()
    forget_membership()
