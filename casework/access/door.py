"""The one protection door: decide, record the decision, and hand back an ``Access``.

Every service reaches case data, accounts or the log through ``authorize`` or
``load_authorized``. Both record a custody event whose action, actor, resource, case and
witness are fixed here from the ``Target``, identically for allowed and refused attempts,
then raise a domain error unless allowed. The ``Access`` they return lets a service add
details (``note``) and nothing else. ``system_access`` is the one door for operator
commands, and ``record_authentication`` for logins, where the actor is not yet the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from flask import g, has_request_context
from flask_login import current_user
from sqlalchemy import ColumnElement, select, true

from casework.access.models import CaseMember
from casework.access.policy import Decision, Scope, decide, scope_of
from casework.access.roles import Role
from casework.access.targets import Target
from casework.custody import recorder
from casework.custody.log import NewEvent
from casework.db import db
from casework.errors import Forbidden, NotFound, Unauthenticated

ALLOWED, DENIED, ERROR = recorder.ALLOWED, recorder.DENIED, recorder.ERROR


@dataclass(frozen=True)
class Principal:
    """Who acts: a user, nobody (anonymous), or the operator's shell (``system``)."""

    id: int | None
    username: str | None
    role: str | None

    @property
    def known_role(self) -> Role | None:
        if self.id is None or self.role not in {role.value for role in Role}:
            return None
        return Role(self.role)


ANONYMOUS = Principal(None, None, None)
SYSTEM = Principal(None, "system", "system")


def principal_of(user: Any) -> Principal:
    return Principal(user.id, user.username, user.role)


def current_principal() -> Principal:
    if has_request_context() and current_user and current_user.is_authenticated:
        return principal_of(current_user)
    return ANONYMOUS


class Guarded(Protocol):
    __resource_type__: str
    id: Any

    def custody_target(self) -> Target: ...


G = TypeVar("G", bound=Guarded)
T = TypeVar("T")


class Access(Generic[T]):
    """A recorded access decision. Read-only but for ``note``."""

    __slots__ = ("_actor", "_event", "_obj", "_target")

    def __init__(self, event: NewEvent, target: Target, actor: Principal, obj: T) -> None:
        self._event, self._target, self._actor, self._obj = event, target, actor, obj

    @property
    def action(self) -> str:
        return self._event.action

    @property
    def outcome(self) -> str:
        return self._event.outcome

    @property
    def target(self) -> Target:
        return self._target

    @property
    def actor(self) -> Principal:
        return self._actor

    @property
    def obj(self) -> T:
        return self._obj

    @property
    def user_id(self) -> int:
        """The acting user's id (allowed accesses always have one, but for system access)."""
        if self._actor.id is None:
            raise Unauthenticated("Authentication is required.")
        return self._actor.id

    def promise(self) -> NewEvent | None:
        """Seal this access's event now: its leaf hash and time, for a receipt to promise.

        None only with the benchmark-only switch that disables recording.
        """
        return recorder.promise(self._event)

    def spill(self) -> None:
        """Write this request's queued events to intake now: a request recording many keeps its queue short."""
        recorder.spill()

    def note(self, **details: Any) -> None:
        """Add what the service learned (new ids, changed field names, content hashes; never plaintext)."""
        assert self._event.details is not None
        self._event.details.update(details)


def queue_event(action: str, outcome: str, target: Target, actor: Principal, details: dict[str, Any]) -> NewEvent:
    return recorder.queue(
        NewEvent(
            action=action,
            outcome=outcome,
            actor_id=actor.id,
            actor_username=actor.username,
            actor_role=actor.role,
            resource_type=target.resource_type,
            resource_id=None if target.resource_id is None else str(target.resource_id),
            case_id=target.case_id,
            witness_id=target.witness_id,
            details=dict(details),
        )
    )


def is_member(user_id: int, case_id: int) -> bool:
    """Membership, read once per request and case."""
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


def _refuse(decision: Decision) -> None:
    if decision is Decision.UNAUTHENTICATED:
        raise Unauthenticated("Authentication is required.")
    if decision is Decision.HIDE:
        raise NotFound("No such resource.")
    if decision is Decision.FORBID:
        raise Forbidden("You are not allowed to do this.")


def _decide_and_record(action: str, target: Target, obj: T, details: dict[str, Any]) -> Access[T]:
    actor = current_principal()
    decision = decide(action, actor.known_role, actor.id, target, is_member)
    event = queue_event(action, ALLOWED if decision is Decision.ALLOW else DENIED, target, actor, details)
    _refuse(decision)
    _integrate_committed_for(action)
    return Access(event, target, actor, obj)


# What reads the log's events: the tree first takes in every event recorded so far. Proofs,
# checkpoints and the key are served from the latest published checkpoint, which its
# publication caught up to, so they need not drain the intake queue first.
_READS_OF_EVENTS = frozenset({"custody.events.list", "custody.event.read"})


def _integrate_committed_for(action: str) -> None:
    if action in _READS_OF_EVENTS:
        recorder.integrate_committed()


def authorize(action: str, target: Target, **details: Any) -> Access[None]:
    """Decide ``action`` on ``target``, record it, and raise unless allowed."""
    return _decide_and_record(action, target, None, details)


def load_authorized(
    model: type[G], object_id: int, action: str, *, part: tuple[str, int | str] | None = None, **details: Any
) -> Access[G]:
    """Load ``model`` by id for ``action``; a missing object is refused exactly like a hidden one.

    ``part`` names a part of the object as the resource (a transcript version of an
    interview), recorded the same whether or not the object exists.
    """
    obj = db.session.get(model, object_id)
    if obj is None:
        target = Target(*part) if part else Target(model.__resource_type__, object_id)
        queue_event(action, DENIED, target, current_principal(), {**details, "reason": "not_found"})
        raise NotFound("No such resource.")
    target = obj.custody_target()
    return _decide_and_record(action, target.part(*part) if part else target, obj, details)


def system_access(action: str, target: Target, **details: Any) -> Access[None]:
    """Operator commands and maintenance: allowed, recorded with actor ``system``."""
    access = Access(queue_event(action, ALLOWED, target, SYSTEM, details), target, SYSTEM, None)
    _integrate_committed_for(action)
    return access


def commit() -> None:
    """Operator commands: record what was queued, commit it with the command's writes, and
    integrate it before returning (a publication signs a head that includes its own event)."""
    recorder.commit(integrate=True)


def record_authentication(
    action: str, target: Target, *, actor: Principal, allowed: bool, **details: Any
) -> Access[None]:
    """A login attempt: the actor is the account that logged in, or anonymous when refused."""
    event = queue_event(action, ALLOWED if allowed else DENIED, target, actor, details)
    return Access(event, target, actor, None)


def visible_cases(action: str, case_id_column: Any) -> ColumnElement[bool]:
    """SQL condition limiting a listing to the cases whose objects the caller may ``action``."""
    actor = current_principal()
    role = actor.known_role
    if role is not None and scope_of(action, role) is Scope.ALL:
        return true()
    member_of: ColumnElement[bool] = case_id_column.in_(
        select(CaseMember.case_id).where(CaseMember.user_id == actor.id)
    )
    return member_of
