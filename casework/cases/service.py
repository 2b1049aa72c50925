"""Cases and membership. Membership is what opens a case's objects to interviewers and lawyers."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.access.door import authorize, forget_membership, load_authorized, visible_cases
from casework.access.models import CaseMember
from casework.access.roles import Role
from casework.access.targets import Target
from casework.auth.models import User
from casework.cases.models import Case
from casework.db import db
from casework.errors import Conflict, Invalid, NotFound
from casework.pagination import Page, keyset_page


def _check_reference_free(reference: str | None, case_id: int | None = None) -> None:
    if reference is None:
        return
    existing = db.session.execute(select(Case.id).where(Case.reference == reference)).scalar_one_or_none()
    if existing is not None and existing != case_id:
        raise Conflict("Another case has that reference.", errors={"json": {"reference": ["Already used."]}})


def create_case(data: dict[str, Any]) -> Case:
    access = authorize("case.create", Target("case"))
    _check_reference_free(data.get("reference"))
    case = Case(created_by_id=access.user_id, **data)
    db.session.add(case)
    db.session.flush()
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
    for name, value in changes.items():
        setattr(access.obj, name, value)
    access.note(changed=sorted(changes))
    return access.obj


def add_member(case_id: int, user_id: int) -> CaseMember:
    access = load_authorized(Case, case_id, "case.member.add", user_id=user_id)
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise Invalid("No such active user.", errors={"path": {"user_id": ["Unknown or inactive user."]}})
    if user.role not in (Role.INTERVIEWER, Role.LEGAL):
        raise Invalid("Only interviewers and lawyers are case members; admins and auditors see all cases.",
                      errors={"path": {"user_id": [f"Role {user.role} cannot be a member."]}})
    member = db.session.get(CaseMember, (access.obj.id, user.id))
    if member is None:
        member = CaseMember(case_id=access.obj.id, user_id=user.id, added_by_id=access.user_id)
        db.session.add(member)
        db.session.flush()
    forget_membership()
    return member


def remove_member(case_id: int, user_id: int) -> None:
    access = load_authorized(Case, case_id, "case.member.remove", user_id=user_id)
    member = db.session.get(CaseMember, (access.obj.id, user_id))
    if member is None:
        raise NotFound("That user is not a member of this case.")
    db.session.delete(member)
    forget_membership()
