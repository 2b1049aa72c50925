"""The one authorization entry point: ``authorize`` (and ``load_authorized`` for objects).

Deny by default: an action missing from RULES is allowed to nobody. Every decision, allowed
or denied, is recorded as a custody event, so no service can check access without leaving
a trace. Objects in a case the caller may not see answer 404 (no existence leak); a caller
who can see an object but may not do this to it gets 403.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Protocol, TypeVar

from flask import g
from flask_login import current_user
from sqlalchemy import select, true

from casework.cases.models import CaseMember
from casework.auth.target import Target
from casework.custody import recorder
from casework.custody.log import NewEvent
from casework.db import db
from casework.errors import ProblemError
from casework.users.models import Role


class Scope(Enum):
    ALL = "all"  # any object of this kind
    MEMBER = "member"  # objects of cases the caller is a member of
    OWN = "own"  # member, and the caller is the object's owner (recorder, interviewer, holder)


ADMIN, INTERVIEWER, LEGAL, AUDITOR = Role.ADMIN, Role.INTERVIEWER, Role.LEGAL, Role.AUDITOR
ALL, MEMBER, OWN = Scope.ALL, Scope.MEMBER, Scope.OWN

_METADATA = {ADMIN: ALL, AUDITOR: ALL, INTERVIEWER: MEMBER, LEGAL: MEMBER}
_ADMIN_ONLY = {ADMIN: ALL}
_EVERYONE_OWN = {ADMIN: ALL, INTERVIEWER: OWN, LEGAL: OWN, AUDITOR: OWN}

# The SPEC's roles table, one line per action.
RULES: dict[str, dict[Role, Scope]] = {
    # accounts
    "user.create": _ADMIN_ONLY,
    "user.list": _ADMIN_ONLY,
    "user.read": _ADMIN_ONLY,
    "user.update": _ADMIN_ONLY,
    "token.create": {ADMIN: ALL, INTERVIEWER: ALL, LEGAL: ALL, AUDITOR: ALL},
    "token.list": {ADMIN: ALL, INTERVIEWER: ALL, LEGAL: ALL, AUDITOR: ALL},
    "token.revoke": _EVERYONE_OWN,
    # cases and membership
    "case.create": {ADMIN: ALL, LEGAL: ALL},
    "case.list": _METADATA,
    "case.read": _METADATA,
    "case.update": {ADMIN: ALL, LEGAL: MEMBER},
    "case.member.add": _ADMIN_ONLY,
    "case.member.remove": _ADMIN_ONLY,
    # incidents
    "incident.list": _METADATA,
    "incident.read": _METADATA,
    "incident.create": {INTERVIEWER: MEMBER, LEGAL: MEMBER},
    "incident.update": {INTERVIEWER: MEMBER, LEGAL: MEMBER},
    # witnesses
    "witness.list": _METADATA,
    "witness.read": _METADATA,
    "witness.create": {INTERVIEWER: MEMBER},
    "witness.update": {INTERVIEWER: MEMBER},
    "witness.identity.read": {INTERVIEWER: OWN, LEGAL: MEMBER},
    "witness.identity.update": {INTERVIEWER: OWN},
    "witness.consent.record": {INTERVIEWER: MEMBER},
    # interviews and transcripts
    "interview.list": _METADATA,
    "interview.read": _METADATA,
    "interview.create": {INTERVIEWER: MEMBER},
    "interview.update": {INTERVIEWER: MEMBER},
    "transcript.list": _METADATA,
    "transcript.create": {INTERVIEWER: MEMBER},
    "transcript.read": {INTERVIEWER: OWN, LEGAL: MEMBER},
    "casefile.read": {LEGAL: MEMBER},
    # the custody log itself
    "custody.events.list": {AUDITOR: ALL},
    "custody.event.read": {AUDITOR: ALL},
    "custody.checkpoint.read": {AUDITOR: ALL},
    "custody.proof.inclusion": {AUDITOR: ALL},
    "custody.proof.consistency": {AUDITOR: ALL},
    "custody.key.read": {AUDITOR: ALL},
}


class Guarded(Protocol):
    __resource_type__: str

    def custody_target(self) -> Target: ...


G = TypeVar("G", bound=Guarded)


def _not_found() -> ProblemError:
    return ProblemError(404, "No such resource.")


def _forbidden() -> ProblemError:
    return ProblemError(403, "You are not allowed to do this.")


def is_member(user_id: int, case_id: int) -> bool:
    cache: dict[tuple[int, int], bool] = g.setdefault("_membership", {})
    key = (user_id, case_id)
    if key not in cache:
        cache[key] = (
            db.session.execute(
                select(CaseMember.user_id).where(CaseMember.case_id == case_id, CaseMember.user_id == user_id)
            ).first()
            is not None
        )
    return cache[key]


def forget_membership() -> None:
    """Membership changed in this request; decide afresh."""
    g.pop("_membership", None)


def _scope_allows(scope: Scope | None, user: Any, target: Target | None) -> bool:
    if scope is None:
        return False
    if scope is ALL or target is None:
        return True  # no target: a listing, narrowed by ``visible_cases`` in the query
    if target.case_id is not None and not is_member(user.id, target.case_id):
        return False
    if scope is OWN:
        return target.owner_id == user.id
    return target.case_id is not None


def visible_cases(action: str, case_id_column: Any) -> Any:
    """SQL condition limiting a listing to the cases whose objects the caller may ``action``."""
    scope = RULES.get(action, {}).get(Role(current_user.role))
    if scope is ALL:
        return true()
    return case_id_column.in_(select(CaseMember.case_id).where(CaseMember.user_id == current_user.id))


def decide(action: str, target: Target | None) -> int:
    """200 to allow, otherwise the status to answer (403 or 404)."""
    if not current_user.is_authenticated:
        return 401
    role = Role(current_user.role)
    rule = RULES.get(action, {})
    if _scope_allows(rule.get(role), current_user, target):
        return 200
    if target is None:
        return 403
    if target.case_id is None:
        # Outside cases: admins' business or one's own. Hide what is someone else's.
        return 404 if rule.get(role) is OWN else 403
    if _scope_allows(RULES["case.read"].get(role), current_user, Target("case", target.case_id, target.case_id)):
        return 403  # the caller can see the object exists; hiding it gains nothing
    return 404


def authorize(action: str, target: Target | None = None, **details: Any) -> NewEvent:
    """Decide, record the decision as a custody event, and raise unless allowed.

    Returns the queued event so the service can add what it learns later (new ids,
    changed field names, content hashes).
    """
    status = decide(action, target)
    event = recorder.record(
        action,
        outcome=recorder.ALLOWED if status == 200 else recorder.DENIED,
        resource_type=target.resource_type if target else None,
        resource_id=target.resource_id if target else None,
        case_id=target.case_id if target else None,
        witness_id=target.witness_id if target else None,
        details=details,
    )
    if status == 401:
        raise ProblemError(401, "Authentication is required.")
    if status == 403:
        raise _forbidden()
    if status == 404:
        raise _not_found()
    return event


def load_with_event(model: type[G], object_id: int, action: str) -> tuple[G, NewEvent]:
    """Load ``model`` by id for ``action``; a missing object is denied exactly like a hidden one.

    Returns the object and its queued custody event, for services that add details to it.
    """
    obj = db.session.get(model, object_id)
    if obj is None:
        recorder.record(
            action,
            outcome=recorder.DENIED,
            resource_type=model.__resource_type__,
            resource_id=object_id,
            details={"reason": "not_found"},
        )
        raise _not_found()
    return obj, authorize(action, obj.custody_target())


def load_authorized(model: type[G], object_id: int, action: str) -> G:
    return load_with_event(model, object_id, action)[0]
