"""Cases and membership. Membership is what opens a case's objects to interviewers and lawyers.

Membership follows the SPEC's two-person rule: no change that gives someone a way to a case's
content takes effect on one person's word. An admin never reads content, and cannot give
themselves (or an account they made or reset) a way to: every such change waits, as a
``MembershipProposal``, for a second person.

* ``PUT /cases/{id}/members/{user_id}`` (admin): a pending proposal (``status: pending``, 202;
  ``kind: add``); nobody gains any access. Already a member: 200.
* ``POST /cases/{id}/members/{user_id}/approve``: the second person. A lawyer of the case other
  than the account approves; where the case has no lawyer other than the account (its first
  lawyer, or its only lawyer suspended), an admin approves who is not the proposer and
  independent of both the proposer and the account (``casework.auth.control``: no admin may
  hold a way into both). An admin is refused while the case has another lawyer.
* ``DELETE /cases/{id}/members/{user_id}/proposal``: a lawyer of the case rejects it (never one
  about themselves), or an admin withdraws it.
* ``DELETE /cases/{id}/members/{user_id}`` (admin): an interviewer leaves at once (less access
  needs no second person); a lawyer's removal is a proposal (``kind: remove``, 202; the lawyer
  stays until another lawyer of the case approves), and the case's last lawyer cannot be removed.
* Suspension (``suspend_memberships``): an admin's password or second-factor reset, making the
  account a lawyer, and deactivation or reactivation turn every membership of the account,
  including where it is the case's only lawyer, into a pending proposal (``kind: restore``),
  restored only by the second person above.

Membership changes lock the account's row (when they read or change it) and then the case row
(``FOR NO KEY UPDATE``), so changes to one case's members are serial; like every row lock, they
are taken before the custody head.

Case references are unique across all cases. A reference in use is answered 409
``case-reference-taken`` with the same body whoever asks, whether or not they may see the case
that uses it: no id, no title, nothing of that case. (That the reference is taken is what
uniqueness means; nothing else about the other case leaks.) Two requests racing for one
reference get the same 409, never a database error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.access.door import Access, authorize, forget_membership, load_authorized, visible_cases
from casework.access.models import CaseMember
from casework.access.roles import Role
from casework.access.targets import Target
from casework.auth import control
from casework.auth.models import User
from casework.cases.models import Case, MembershipProposal
from casework.db import db, utcnow, written_unique
from casework.errors import Conflict, Forbidden, Invalid, NotFound
from casework.fields import Extended
from casework.pagination import Page, keyset_page

MEMBER, PENDING = "member", "pending"


def _reference_taken() -> Conflict:
    return Conflict(
        "That case reference is already in use.",
        problem="case-reference-taken",
        errors={"json": {"reference": ["Already in use."]}},
    )


def _check_reference_free(reference: str | None, case_id: int | None = None) -> None:
    if reference is None:
        return
    existing = db.session.execute(select(Case.id).where(Case.reference == reference)).scalar_one_or_none()
    if existing is not None and existing != case_id:
        raise _reference_taken()


def create_case(data: dict[str, Any]) -> Case:
    access = authorize("case.create", Target("case"))
    _check_reference_free(data.get("reference"))
    case = Case(created_by_id=access.user_id, **data)
    with written_unique(lambda: _check_reference_free(data.get("reference"))):
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
    with written_unique(lambda: _check_reference_free(changes.get("reference"), access.obj.id)):
        for name, value in changes.items():
            setattr(access.obj, name, value)
    access.note(changed=sorted(changes))
    return access.obj


# Membership ------------------------------------------------------------------------------

MEMBER, PENDING, REMOVED = "member", "pending", "removed"
# What a proposal would change: a new member, a suspended membership back, a lawyer out.
ADD, RESTORE, REMOVE = "add", "restore", "remove"
# Why memberships were suspended (a restore proposal's reason).
PASSWORD_RESET, MFA_RESET, ROLE_CHANGE = "password_reset", "mfa_reset", "role_change"
DEACTIVATION, REACTIVATION = "deactivation", "reactivation"


def _lock_case(case_id: int) -> Case:
    """Serialise membership changes of one case (a row lock on PostgreSQL; SQLite is serial)."""
    return db.session.execute(select(Case).where(Case.id == case_id).with_for_update(key_share=True)).scalar_one()


def lock_account(user_id: int, *, share: bool = False) -> None:
    """Lock an account's row before its memberships: changes of its role or state (``share`` false)
    and approvals of its memberships (``share``) are serial. Taken before any case row."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update(read=share, key_share=not share))


def _legal_members(case_id: int) -> list[int]:
    """The case's lawyers: active legal accounts that are members now (suspended ones are not)."""
    return list(
        db.session.scalars(
            select(CaseMember.user_id)
            .join(User, User.id == CaseMember.user_id)
            .where(CaseMember.case_id == case_id, User.role == Role.LEGAL, User.active.is_(True))
            .order_by(CaseMember.user_id)
        )
    )


def _member_candidate(user_id: int) -> User:
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or not user.active:
        raise Invalid("No such active user.", errors={"path": {"user_id": ["Unknown or inactive user."]}})
    if user.role not in (Role.INTERVIEWER, Role.LEGAL):
        raise Invalid(
            "Only interviewers and lawyers are case members; admins and auditors see all cases.",
            errors={"path": {"user_id": [f"Role {user.role} cannot be a member."]}},
        )
    return user


def _proposal(case_id: int, user_id: int) -> MembershipProposal:
    proposal = db.session.get(MembershipProposal, (case_id, user_id))
    if proposal is None:
        raise NotFound("No membership change of that user is waiting for approval in this case.")
    return proposal


def _propose(case_id: int, user_id: int, proposed_by_id: int, kind: str) -> MembershipProposal:
    proposal = db.session.get(MembershipProposal, (case_id, user_id))
    if proposal is None:
        proposal = MembershipProposal(case_id=case_id, user_id=user_id, proposed_by_id=proposed_by_id, kind=kind)
        db.session.add(proposal)
        db.session.flush()
    return proposal


def add_member(case_id: int, user_id: int) -> Extended:
    """A pending proposal (``status`` pending) that a second person approves; 200 if already a member."""
    access = load_authorized(Case, case_id, "case.member.add", user_id=user_id)
    case = _lock_case(access.obj.id)
    user = _member_candidate(user_id)
    member = db.session.get(CaseMember, (case.id, user.id))
    if member is not None:
        access.note(result="already_member")
        return Extended(member, status=MEMBER)
    proposal = _propose(case.id, user.id, access.user_id, ADD)
    access.note(result="proposed", kind=proposal.kind, proposed_by_id=proposal.proposed_by_id)
    return Extended(proposal, status=PENDING)


def suspend_memberships(user_id: int, by_id: int, reason: str) -> list[int]:
    """Every membership of the account becomes a pending ``restore`` proposal; returns the cases.

    After an admin sets someone's password or removes their second factor, the admin may be the
    one who logs in as them; after a role change the lawyers approved someone else; a deactivated
    account comes back only as far as a second person lets it. So no membership survives, not even
    where the account is the case's only lawyer: there an admin independent of ``by_id`` restores
    it. A pending removal of the account becomes the restore proposal (it is out already).
    """
    suspended = []
    case_ids = db.session.scalars(
        select(CaseMember.case_id).where(CaseMember.user_id == user_id).order_by(CaseMember.case_id)
    ).all()
    for case_id in case_ids:
        _lock_case(case_id)
        member = db.session.execute(
            select(CaseMember).where(CaseMember.case_id == case_id, CaseMember.user_id == user_id)
        ).scalar_one_or_none()
        if member is None:
            continue
        db.session.delete(member)
        proposal = db.session.get(MembershipProposal, (case_id, user_id))
        if proposal is None:
            proposal = MembershipProposal(case_id=case_id, user_id=user_id)
            db.session.add(proposal)
        proposal.kind, proposal.reason, proposal.proposed_by_id = RESTORE, reason, by_id
        proposal.proposed_at = utcnow()
        suspended.append(case_id)
    db.session.flush()
    forget_membership()
    return suspended


def memberships_for_role(user: User, new_role: str, changed_by_id: int) -> dict[str, list[int]]:
    """A role change must not skip the two-person rule (call before the role is changed, with the
    account's row locked).

    A lawyer who is a member of a case keeps the role (409 ``legal-member``): taking a lawyer out
    of a case needs a second person (``remove_member``). An account made a lawyer has every
    membership suspended: its cases' lawyers approved an interviewer, not a lawyer. A role that
    cannot be a member (admin, auditor) leaves every case and every proposal (less access).
    Returns what was changed, for the custody event.
    """
    if new_role == user.role:
        return {}
    if user.role == Role.LEGAL:
        cases = db.session.scalars(
            select(CaseMember.case_id).where(CaseMember.user_id == user.id).order_by(CaseMember.case_id)
        ).all()
        if cases:
            raise Conflict(
                "The user is a lawyer of cases: remove them from each (another lawyer of the case "
                "approves) before changing the role.",
                problem="legal-member",
                errors={"json": {"role": [f"A lawyer of cases {list(cases)}."]}},
            )
    if new_role == Role.LEGAL:
        return {"memberships_suspended": suspend_memberships(user.id, changed_by_id, ROLE_CHANGE)}
    if new_role == Role.INTERVIEWER:
        return {}
    members = db.session.scalars(
        select(CaseMember).where(CaseMember.user_id == user.id).order_by(CaseMember.case_id)
    ).all()
    proposals = db.session.scalars(select(MembershipProposal).where(MembershipProposal.user_id == user.id)).all()
    for row in [*members, *proposals]:
        db.session.delete(row)
    db.session.flush()
    forget_membership()
    return {
        "memberships_ended": [member.case_id for member in members],
        "proposals_withdrawn": [proposal.case_id for proposal in proposals],
    }


def _second_person(access: Access[Case], case_id: int, proposal: MembershipProposal) -> str:
    """Refuse unless the caller may be the second person for ``proposal``; say how they are."""
    approver = access.user_id
    if approver in (proposal.proposed_by_id, proposal.user_id):
        raise Forbidden(
            "The second person must be someone else than the proposer and the account itself.",
            problem="second-person-required",
        )
    lawyers = [lawyer for lawyer in _legal_members(case_id) if lawyer != proposal.user_id]
    if access.actor.role == Role.LEGAL:
        if approver not in lawyers:  # no longer a lawyer of the case (decided again under the lock)
            raise Forbidden("Only a lawyer of the case approves.", problem="second-person-required")
        return "lawyer"
    if lawyers:
        raise Forbidden(
            "This case has a lawyer other than the account: one of its lawyers approves, not an admin.",
            problem="lawyer-approves",
        )
    if not control.independent(approver, proposal.proposed_by_id, proposal.user_id):
        raise Forbidden(
            "You may hold a way into the proposer's or the account's credentials (one of you "
            "set or reset the other's, or someone set both): another admin must approve.",
            problem="admin-not-independent",
        )
    return "second_admin"


def approve_member(case_id: int, user_id: int) -> Extended:
    """The second person approves a pending change: the account becomes (again) a member, or a
    lawyer's removal takes effect."""
    access = load_authorized(Case, case_id, "case.member.approve", user_id=user_id)
    lock_account(user_id, share=True)
    case = _lock_case(access.obj.id)
    proposal = _proposal(case.id, user_id)
    access.note(kind=proposal.kind, reason=proposal.reason, proposed_by_id=proposal.proposed_by_id)
    access.note(approved_as=_second_person(access, case.id, proposal))
    if proposal.kind == REMOVE:
        if _legal_members(case.id) == [user_id]:
            raise Conflict(
                "The case's last lawyer cannot be removed: they approve every change of its members.",
                problem="last-legal-member",
            )
        member = db.session.get(CaseMember, (case.id, user_id))
        if member is not None:
            db.session.delete(member)
        db.session.delete(proposal)
        db.session.flush()
        forget_membership()
        access.note(result="removed")
        return Extended(proposal, status=REMOVED)
    user = _member_candidate(user_id)
    member = CaseMember(case_id=case.id, user_id=user.id, added_by_id=proposal.proposed_by_id)
    access.note(result="added")
    db.session.delete(proposal)
    db.session.add(member)
    db.session.flush()
    forget_membership()
    return Extended(member, status=MEMBER)


def reject_proposal(case_id: int, user_id: int) -> None:
    """A lawyer of the case rejects a proposal (never one about themselves), or an admin withdraws it."""
    access = load_authorized(Case, case_id, "case.member.reject", user_id=user_id)
    case = _lock_case(access.obj.id)
    proposal = _proposal(case.id, user_id)
    access.note(kind=proposal.kind, proposed_by_id=proposal.proposed_by_id)
    if access.user_id == proposal.user_id:
        raise Forbidden("A change of your own membership is decided by someone else.", problem="second-person-required")
    db.session.delete(proposal)
    db.session.flush()


def remove_member(case_id: int, user_id: int) -> Extended | None:
    """An interviewer leaves at once (None); a lawyer's removal waits for another lawyer of the case."""
    access = load_authorized(Case, case_id, "case.member.remove", user_id=user_id)
    case = _lock_case(access.obj.id)
    member = db.session.get(CaseMember, (case.id, user_id))
    if member is None:
        raise NotFound("That user is not a member of this case.")
    lawyers = _legal_members(case.id)
    if user_id not in lawyers:
        stale = db.session.get(MembershipProposal, (case.id, user_id))
        if stale is not None:  # a removal proposed while they were a lawyer: done now
            db.session.delete(stale)
        db.session.delete(member)
        db.session.flush()
        forget_membership()
        access.note(result="removed")
        return None
    if lawyers == [user_id]:
        raise Conflict(
            "The case's last lawyer cannot be removed: they approve every change of its members. "
            "Have another lawyer approved first.",
            problem="last-legal-member",
        )
    proposal = _propose(case.id, user_id, access.user_id, REMOVE)
    access.note(result="proposed", kind=proposal.kind, proposed_by_id=proposal.proposed_by_id)
    return Extended(proposal, status=PENDING)
