"""The SPEC's roles table, as data, and the pure decision over it.

Deny by default: an action missing from RULES is allowed to nobody. Each row says, per
role, which objects the action may touch, and what a refused caller is told:

* ``HIDE``: 404, exactly as for a missing object, unless the caller may read the metadata of
  the object's case (then hiding gains nothing, and the answer is 403). Objects outside any
  case that are someone else's (tokens) are always hidden.
* ``FORBID``: 403; the object's existence is no secret to this caller (accounts, the log).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import NamedTuple

from casework.access.roles import Role
from casework.access.targets import Target


class Scope(Enum):
    NO = "no"
    ALL = "all"  # any object of this kind
    MEMBER = "member"  # objects of cases the caller is a member of (listings: narrowed by query)
    OWN = "own"  # the object's owner, and a member of its case if it has one


class Denial(Enum):
    HIDE = "hide"
    FORBID = "forbid"


class Decision(Enum):
    ALLOW = "allow"
    UNAUTHENTICATED = "unauthenticated"
    FORBID = "forbid"
    HIDE = "hide"


class Rule(NamedTuple):
    admin: Scope
    interviewer: Scope
    legal: Scope
    auditor: Scope
    denied: Denial

    def scope(self, role: Role) -> Scope:
        scope: Scope = getattr(self, role.value)
        return scope


NO, ALL, MEMBER, OWN = Scope.NO, Scope.ALL, Scope.MEMBER, Scope.OWN
HIDE, FORBID = Denial.HIDE, Denial.FORBID

_METADATA = Rule(ALL, MEMBER, MEMBER, ALL, HIDE)
_CONTENT = Rule(NO, OWN, MEMBER, NO, HIDE)  # own interviews / witnesses recorded; member cases
_LEGAL_WORK = Rule(NO, NO, MEMBER, NO, HIDE)
_FIELD_WORK = Rule(NO, MEMBER, NO, NO, HIDE)
_CASE_WORK = Rule(NO, MEMBER, MEMBER, NO, HIDE)
_ADMIN = Rule(ALL, NO, NO, NO, FORBID)
_AUDIT = Rule(NO, NO, NO, ALL, FORBID)
_SELF = Rule(OWN, OWN, OWN, OWN, HIDE)

RULES: dict[str, Rule] = {
    #                              admin  interviewer  legal   auditor  refused
    # accounts: manage users and others' tokens (admin); one's own session and tokens
    "user.create": _ADMIN,
    "user.list": _ADMIN,
    "user.read": _ADMIN,
    "user.update": _ADMIN,
    "user.mfa.reset": _ADMIN,
    "auth.me": _SELF,
    "auth.logout": _SELF,
    "token.create": _SELF,
    "token.list": Rule(ALL, OWN, OWN, OWN, FORBID),
    "token.revoke": Rule(ALL, OWN, OWN, OWN, HIDE),
    # one's own password and second factor (each proven again by a password or a code)
    "auth.password.change": _SELF,
    "auth.mfa.enrol": _SELF,
    "auth.mfa.confirm": _SELF,
    "auth.mfa.disable": _SELF,
    # cases and membership
    "case.create": Rule(ALL, NO, ALL, NO, FORBID),
    "case.list": _METADATA,
    "case.read": _METADATA,
    "case.update": Rule(ALL, NO, MEMBER, NO, HIDE),
    # membership: an admin proposes; a lawyer of the case approves, or, where the case has no
    # other lawyer, a second admin (the service decides which, and that they are independent)
    "case.member.add": Rule(ALL, NO, NO, NO, HIDE),
    "case.member.approve": Rule(ALL, NO, MEMBER, NO, HIDE),
    "case.member.reject": Rule(ALL, NO, MEMBER, NO, HIDE),
    "case.member.remove": Rule(ALL, NO, NO, NO, HIDE),
    # incidents
    "incident.list": _METADATA,
    "incident.read": _METADATA,
    "incident.create": _CASE_WORK,
    "incident.update": _CASE_WORK,
    # witnesses: edited by the one who recorded them; consent by that interviewer or a lawyer
    "witness.list": _METADATA,
    "witness.read": _METADATA,
    "witness.create": _FIELD_WORK,
    "witness.update": Rule(NO, OWN, NO, NO, HIDE),
    "witness.identity.read": _CONTENT,
    "witness.consent.record": _CONTENT,
    # erasure: a withdrawal suspends the witness's records at once; a second person, a lawyer of
    # the case who did not record it, confirms (destroys the key) or rejects it, places or lifts
    # legal holds (the service refuses the withdrawal's recorder and a lift by one person alone)
    "erasure.read": _METADATA,
    "erasure.confirm": _LEGAL_WORK,
    "erasure.reject": _LEGAL_WORK,
    "erasure.hold.place": _LEGAL_WORK,
    "erasure.hold.lift": _LEGAL_WORK,
    "erasure.list": Rule(NO, NO, MEMBER, ALL, FORBID),
    # interviews and their statements: the interview's interviewer uploads; content for
    # one's own interviews and the case's lawyers
    "interview.list": _METADATA,
    "interview.read": _METADATA,
    "interview.create": _FIELD_WORK,
    "interview.update": Rule(NO, OWN, NO, NO, HIDE),
    "transcript.list": _METADATA,
    "transcript.create": Rule(NO, OWN, NO, NO, HIDE),
    "transcript.read": _CONTENT,
    # derived versions (a transcription of an exhibit, a translation): own interviews, member cases
    "transcript.derive": Rule(NO, OWN, MEMBER, NO, HIDE),
    # exhibits: uploads (tus) by the interview's interviewer, or by a member for an incident; the
    # upload's owner continues and completes it; content as transcripts; metadata as interviews
    "exhibit.discover": Rule(ALL, ALL, ALL, ALL, FORBID),
    "exhibit.upload.create": Rule(NO, OWN, NO, NO, HIDE),
    "incident.exhibit.upload.create": _CASE_WORK,
    "exhibit.upload.status": Rule(NO, OWN, OWN, NO, HIDE),
    "exhibit.upload.write": Rule(NO, OWN, OWN, NO, HIDE),
    "exhibit.upload.terminate": Rule(NO, OWN, OWN, NO, HIDE),
    "exhibit.create": Rule(NO, OWN, OWN, NO, HIDE),
    "exhibit.list": _METADATA,
    "exhibit.metadata.read": _METADATA,
    "exhibit.read": _CONTENT,
    # legal work
    "casefile.read": _LEGAL_WORK,
    # redactions and disclosures: the case's lawyers; their metadata like any case object's
    "redaction.create": _LEGAL_WORK,
    "redaction.list": _METADATA,
    "redaction.read": _LEGAL_WORK,
    "disclosure.create": _LEGAL_WORK,
    "disclosure.preview": _LEGAL_WORK,
    "disclosure.item": _LEGAL_WORK,
    "disclosure.list": _METADATA,
    "disclosure.read": _METADATA,
    "disclosure.purpose.read": _LEGAL_WORK,
    "disclosure.bundle": _LEGAL_WORK,
    # the second lawyer: the service refuses the one who proposed it
    "disclosure.approve": _LEGAL_WORK,
    # the custody log itself
    "custody.events.list": _AUDIT,
    "custody.event.read": _AUDIT,
    "custody.checkpoint.read": _AUDIT,
    "custody.proof.inclusion": _AUDIT,
    "custody.proof.consistency": _AUDIT,
    # the log's public key is public: recipients of bundles need it, interviewers check receipts with it
    "custody.key.read": Rule(ALL, ALL, ALL, ALL, FORBID),
}

MembershipCheck = Callable[[int, int], bool]


def scope_of(action: str, role: Role) -> Scope:
    rule = RULES.get(action)
    return rule.scope(role) if rule else NO


def _allows(scope: Scope, user_id: int, target: Target, is_member: MembershipCheck) -> bool:
    if scope is ALL:
        return True
    if scope is NO:
        return False
    if target.case_id is not None and not is_member(user_id, target.case_id):
        return False
    if scope is OWN:
        return target.owner_id == user_id
    return True  # MEMBER: a member of the object's case, or a listing narrowed by the query


def decide(action: str, role: Role | None, user_id: int | None, target: Target, is_member: MembershipCheck) -> Decision:
    """Allow, or say how to refuse; reads only RULES and membership."""
    if role is None or user_id is None:
        return Decision.UNAUTHENTICATED
    rule = RULES.get(action)
    if rule is None:
        return Decision.FORBID
    if _allows(rule.scope(role), user_id, target, is_member):
        return Decision.ALLOW
    if rule.denied is FORBID:
        return Decision.FORBID
    if target.case_id is None:
        return Decision.HIDE
    case = Target("case", target.case_id, case_id=target.case_id)
    return Decision.FORBID if _allows(scope_of("case.read", role), user_id, case, is_member) else Decision.HIDE
