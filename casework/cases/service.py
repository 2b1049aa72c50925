"""Cases and membership. Membership is what opens a case's objects to interviewers and lawyers."""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import select

from casework.auth.policy import authorize, forget_membership, load_authorized, load_with_event, visible_cases
from casework.auth.target import Target
from casework.cases.models import Case, CaseMember
from casework.db import db
from casework.errors import ProblemError
from casework.pagination import Page, keyset_page
from casework.users.models import Role, User


def _check_reference_free(reference: str | None, case_id: int | None = None) -> None:
    if reference is None:
        return
    existing = db.session.execute(select(Case.id).where(Case.reference == reference)).scalar_one_or_none()
    if existing is not None and existing != case_id:
        raise ProblemError(409, "Another case has that reference.", errors={"json": {"reference": ["Already used."]}})


def create_case(data: dict[str, Any]) -> Case:
    event = authorize("case.create", Target("case"))
    _check_reference_free(data.get("reference"))
    case = Case(created_by_id=current_user.id, **data)
    db.session.add(case)
    db.session.flush()
    if current_user.role == Role.LEGAL:
        # A lawyer who opens a case works on it; without membership they could not see it.
        db.session.add(CaseMember(case_id=case.id, user_id=current_user.id, added_by_id=current_user.id))
    event.resource_id = str(case.id)
    event.case_id = case.id
    return case


def list_cases(args: dict[str, Any]) -> Page:
    authorize("case.list")
    statement = select(Case).where(visible_cases("case.list", Case.id))
    return keyset_page(statement, Case.id, args)


def get_case(case_id: int, action: str = "case.read") -> Case:
    return load_authorized(Case, case_id, action)


def case_detail(case_id: int) -> dict[str, Any]:
    case = get_case(case_id)
    rows = db.session.execute(
        select(CaseMember, User).join(User, User.id == CaseMember.user_id)
        .where(CaseMember.case_id == case.id).order_by(User.id)
    ).all()
    members = [
        {"user_id": user.id, "username": user.username, "role": user.role, "added_at": member.added_at}
        for member, user in rows
    ]
    return {**{c.key: getattr(case, c.key) for c in Case.__table__.columns}, "members": members}


def update_case(case_id: int, changes: dict[str, Any]) -> Case:
    case, event = load_with_event(Case, case_id, "case.update")
    if "reference" in changes:
        _check_reference_free(changes["reference"], case.id)
    for name, value in changes.items():
        setattr(case, name, value)
    event.details["changed"] = sorted(changes)
    return case


def add_member(case_id: int, user_id: int) -> CaseMember:
    case, event = load_with_event(Case, case_id, "case.member.add")
    user = db.session.get(User, user_id)
    event.details["user_id"] = user_id
    if user is None or not user.active:
        raise ProblemError(422, "No such active user.", errors={"path": {"user_id": ["Unknown or inactive user."]}})
    if user.role not in (Role.INTERVIEWER, Role.LEGAL):
        raise ProblemError(422, "Only interviewers and lawyers are case members; admins and auditors see all cases.",
                           errors={"path": {"user_id": [f"Role {user.role} cannot be a member."]}})
    member = db.session.get(CaseMember, (case.id, user.id))
    if member is None:
        member = CaseMember(case_id=case.id, user_id=user.id, added_by_id=current_user.id)
        db.session.add(member)
        db.session.flush()
    forget_membership()
    return member


def remove_member(case_id: int, user_id: int) -> None:
    case, event = load_with_event(Case, case_id, "case.member.remove")
    event.details["user_id"] = user_id
    member = db.session.get(CaseMember, (case.id, user_id))
    if member is None:
        raise ProblemError(404, "That user is not a member of this case.")
    db.session.delete(member)
    forget_membership()
