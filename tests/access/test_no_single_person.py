"""No single person gives themselves a way to content: a stateful property test over the real app.

People: two admins the operator made (independent of each other), two lawyers and an interviewer,
each with an account, and the accounts created as the run goes. Every step is one person's act
through the test client, as some account they control: an admin creates users, resets passwords
and second factors, changes roles, proposes, withdraws and removes members, deactivates and
reactivates accounts and revokes tokens; whoever knows an account's password makes its (forced)
password change, enrols or drops its authenticator and makes tokens; lawyers approve and reject,
open cases and read; interviewers record witnesses, interviews and statements and read them.

The model is who controls which credentials. A person controls an account when they know its
password and, if it has a second factor, its authenticator (or hold a live session or token of
it, which the app ends whenever that knowledge changes hands). An admin who created an account
or reset its password knows the password they chose (so does the account's owner, to whom they
would give it); one who reset its second factor is taken to control it from then on (they may
know the password some other way). A password change leaves only the one who made it knowing
the password; enrolling leaves only the enroller knowing the authenticator.

A person's reach is the set of content items (statements and protected identities) that some
account they control may read: decided by the app's own rules (``casework.access.policy``) over
the roles, states and memberships in the database, and spot-checked by real reads. After every
step: an item that existed before the step entered a person's reach only through another
person's act (someone else, acting through an account the person did not control); admins and
auditors read nothing. The model is checked against the app as it goes: a credential the model
holds live must work, a login the model allows must succeed.

Runs on both databases (about half a minute for both); its examples are kept in
``tests/.hypothesis-no-single-person``. The insider paths of issue #22 are also replayed step by
step through the same model and invariant (``test_the_insider_paths_of_issue_22``), since a random
search within a minute rarely strings four particular steps together.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from casework.access.models import CaseMember
from casework.access.policy import Decision, decide
from casework.access.roles import Role
from casework.access.targets import Target
from casework.auth import mfa
from casework.auth.models import User
from casework.cases.models import MembershipProposal
from casework.db import db
from casework.interviews.models import Interview
from casework.users.service import new_user
from casework.witnesses.models import Witness
from tests.conftest import reset_database
from tests.settings import patch_settings, replace_settings

EXAMPLES = Path(__file__).parent / ".hypothesis-no-single-person"
ADMINS, LAWYERS, INTERVIEWERS = ("A1", "A2"), ("L1", "L2"), ("I1",)
PEOPLE = (*ADMINS, *LAWYERS, *INTERVIEWERS)
MAX_ACCOUNTS, MAX_CASES, MAX_RECORDED = 9, 4, 2
_WORDS = (
    "amber",
    "basalt",
    "cobalt",
    "dune",
    "ember",
    "fjord",
    "garnet",
    "harbour",
    "indigo",
    "juniper",
    "kestrel",
    "lantern",
    "meadow",
    "nutmeg",
    "obsidian",
    "pewter",
    "quartz",
    "russet",
    "saffron",
    "tundra",
)


def _passwords():
    for n in itertools.count(11):
        a, b, c = (_WORDS[(n * k) % len(_WORDS)] for k in (1, 3, 7))
        yield f"{a} {b} {n} {c} tides"


@dataclass
class Account:
    id: int
    username: str
    owner: str | None  # the person it was made for (None: made by an admin, for nobody we model)
    password: str
    knowers: set[str]
    totp: str | None = None  # the confirmed authenticator's secret
    totp_knowers: set[str] = field(default_factory=set)

    def __repr__(self) -> str:
        return self.username


@dataclass
class Credential:
    """A live session (client with its cookie, CSRF token) or a bearer token, held by one person."""

    client: FlaskClient
    csrf: str | None = None
    token: str | None = None
    token_id: int | None = None
    mfa_verified: bool = False

    def headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        return {"X-CSRF-Token": self.csrf or ""}


@dataclass(frozen=True)
class Item:
    """Existing content: a statement (``transcript.read`` on its interview) or an identity."""

    id: int
    action: str
    target: Target
    interview_id: int | None = None


@dataclass(frozen=True)
class Step:
    person: str
    account: int
    controllers: frozenset[str]
    what: str


class NoSinglePerson(RuleBasedStateMachine):
    app: Flask  # set by the test, per database
    clock: list[float]  # the TOTP clock the test set (``mfa._clock`` reads it)

    def __init__(self) -> None:
        super().__init__()
        app = self.app
        with app.app_context():
            reset_database()
        Path(app.config["CASEWORK_SIGNER_STATE"]).unlink(missing_ok=True)
        replace_settings(app, auth={"require_mfa": False})
        self.passwords = _passwords()
        self.accounts: list[Account] = []
        self.credentials: dict[tuple[str, int], list[Credential]] = {}
        self.cases: list[int] = []
        self.items: list[Item] = []
        self.recorded = 0
        self.serial = itertools.count(1)
        self.step: Step | None = None
        # The operator's accounts (no admin set their passwords): one per person.
        with app.app_context():
            for person, role in (
                ("A1", "admin"),
                ("A2", "admin"),
                ("L1", "legal"),
                ("L2", "legal"),
                ("I1", "interviewer"),
            ):
                password = next(self.passwords)
                user = new_user(person.lower(), password, role)
                self.accounts.append(Account(user.id, user.username, person, password, {person}))
            db.session.commit()
        a1, a2, l1, l2, i1 = self.accounts
        # Two cases, each with its lawyer (approved by the second admin) and the interviewer (approved
        # by the lawyer), and in each a witness with an identity and an interview with a statement.
        for lawyer, person in ((l1, "L1"), (l2, "L2")):
            case = self.expect(self.call("A1", a1, "POST", "/api/v1/cases", {"title": f"Case of {lawyer}"}), 201)["id"]
            self.cases.append(case)
            self.expect(self.call("A1", a1, "PUT", f"/api/v1/cases/{case}/members/{lawyer.id}"), 202)
            self.expect(self.call("A2", a2, "POST", f"/api/v1/cases/{case}/members/{lawyer.id}/approve"), 200)
            self.expect(self.call("A1", a1, "PUT", f"/api/v1/cases/{case}/members/{i1.id}"), 202)
            self.expect(self.call(person, lawyer, "POST", f"/api/v1/cases/{case}/members/{i1.id}/approve"), 200)
            self.record_content("I1", i1, case)
        self.step = None
        self.reach, self.known = self.reaches(), {item.id for item in self.items}

    def teardown(self) -> None:
        replace_settings(self.app, auth={"require_mfa": False})

    # -- talking to the app -------------------------------------------------------------------

    def code(self, secret: str) -> str:
        """The authenticator's next code (the clock moves a step, so no code is replayed)."""
        self.clock[0] += mfa.PERIOD
        return pyotp.TOTP(secret).at(self.clock[0])

    def users(self) -> dict[int, Any]:
        with self.app.app_context():
            return {
                row.id: row
                for row in db.session.execute(select(User.id, User.role, User.active, User.must_change_password))
            }

    def controls(self, person: str, account: Account) -> bool:
        if self.credentials.get((person, account.id)):
            return True
        return person in account.knowers and (account.totp is None or person in account.totp_knowers)

    def controllers(self, account: Account) -> frozenset[str]:
        return frozenset(person for person in PEOPLE if self.controls(person, account))

    def login(self, person: str, account: Account) -> Credential | None:
        if person not in account.knowers or (account.totp is not None and person not in account.totp_knowers):
            return None
        client = self.app.test_client()
        body = {"username": account.username, "password": account.password}
        if account.totp is not None:
            body["otp"] = self.code(account.totp)
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, (
            "the model says this login works",
            person,
            account,
            response.get_data(as_text=True),
        )
        credential = Credential(client, csrf=response.get_json()["csrf_token"], mfa_verified=account.totp is not None)
        self.credentials.setdefault((person, account.id), []).append(credential)
        return credential

    def credential(
        self, person: str, account: Account, *, session: bool = False, token: bool | None = None
    ) -> Credential | None:
        held = [
            c
            for c in self.credentials.get((person, account.id), [])
            if not (session and c.token) and (token is None or bool(c.token) == token)
        ]
        if held:
            return held[0]
        if token:
            return None
        return self.login(person, account)

    def call(
        self,
        person: str,
        account: Account,
        method: str,
        path: str,
        json: Any = None,
        *,
        session: bool = False,
        token: bool | None = None,
    ) -> Any:
        """One request by ``person`` as ``account``; None if they hold no way to make it."""
        credential = self.credential(person, account, session=session, token=token)
        if credential is None:
            return None
        if self.step is None or (self.step.person, self.step.account) != (person, account.id):
            self.step = Step(person, account.id, self.controllers(account), f"{method} {path}")
        response = credential.client.open(path, method=method, json=json, headers=credential.headers())
        assert response.status_code != 401, ("the model holds this credential live", person, account, method, path)
        response.credential = credential
        if self.lift(person, account, response):  # as any insider would: lift the restriction, try again
            return self.call(person, account, method, path, json, session=session, token=token)
        return response

    def lift(self, person: str, account: Account, response: Any) -> bool:
        """Make the forced password change, or enrol the required authenticator, when refused for it."""
        problem = response.get_json().get("type", "") if response.status_code == 403 else ""
        if problem.endswith("/password-change-required"):
            return self.change_password(person, account)
        if problem.endswith("/mfa-enrolment-required"):
            return self.enrol(person, account)
        return False

    def change_password(self, person: str, account: Account) -> bool:
        password = next(self.passwords)
        changed = self.call(
            person,
            account,
            "POST",
            "/api/v1/auth/password",
            {"current_password": account.password, "new_password": password},
            session=True,
        )
        if changed is None or changed.status_code != 204:
            return False
        account.password, account.knowers = password, {person}
        self.drop(account, keep=changed.credential)
        return True

    @staticmethod
    def expect(response: Any, status: int) -> Any:
        assert response is not None and response.status_code == status, (
            status,
            response and response.get_data(as_text=True),
        )
        return response.get_json()

    def drop(self, account: Account, *, keep: Credential | None = None) -> None:
        """The app ended the account's sessions and tokens (all but ``keep``)."""
        for key in [key for key in self.credentials if key[1] == account.id]:
            self.credentials[key] = [c for c in self.credentials[key] if c is keep]

    def actor(self, data: st.DataObject, *roles: str, lawyer_of: int | None = None) -> tuple[str, Account] | None:
        """Someone, and an active account of theirs in one of ``roles`` (or a lawyer of case ``lawyer_of``)."""
        users = self.users()
        lawyers = {user for case, user in self.members() if case == lawyer_of}
        pairs = [
            (person, account)
            for person in PEOPLE
            for account in self.accounts
            if users[account.id].active
            and self.controls(person, account)
            and (users[account.id].role in roles or (users[account.id].role == "legal" and account.id in lawyers))
        ]
        return data.draw(st.sampled_from(pairs), label="actor") if pairs else None

    def account(self, data: st.DataObject) -> Account:
        return data.draw(st.sampled_from(self.accounts), label="account")

    # -- content --------------------------------------------------------------------------------

    def record_content(self, person: str, account: Account, case: int) -> None:
        """A witness with an identity, an interview and its statement, as an interviewer records them."""
        witness = self.call(
            person,
            account,
            "POST",
            f"/api/v1/cases/{case}/witnesses",
            {"witness_type": "eyewitness", "risk_level": "high", "identity": {"full_name": "Oksana H."}},
        )
        if witness is None or witness.status_code != 201:
            return
        interview = self.expect(
            self.call(
                person,
                account,
                "POST",
                f"/api/v1/cases/{case}/interviews",
                {"witness_id": witness.get_json()["id"], "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"},
            ),
            201,
        )
        self.expect(
            self.call(
                person,
                account,
                "POST",
                f"/api/v1/interviews/{interview['id']}/transcripts",
                {"text": "They took them to the quarry."},
            ),
            201,
        )
        with self.app.app_context():
            witness_row = db.session.get(Witness, witness.get_json()["id"])
            interview_row = db.session.get(Interview, interview["id"])
            assert witness_row is not None and interview_row is not None
            self.items.append(Item(len(self.items), "witness.identity.read", witness_row.custody_target()))
            self.items.append(
                Item(len(self.items), "transcript.read", interview_row.custody_target(), interview_id=interview_row.id)
            )

    def readable(self) -> dict[int, set[int]]:
        """Per account: the items the app's rules let it read now."""
        with self.app.app_context():
            users = db.session.execute(select(User.id, User.role, User.active)).all()
            members = {
                (user, case) for user, case in db.session.execute(select(CaseMember.user_id, CaseMember.case_id))
            }

        def is_member(user_id: int, case_id: int) -> bool:
            return (user_id, case_id) in members

        return {
            user.id: {
                item.id
                for item in self.items
                if user.active
                and decide(item.action, Role(user.role), user.id, item.target, is_member) is Decision.ALLOW
            }
            for user in users
        }

    def reaches(self) -> dict[str, set[int]]:
        readable = self.readable()
        return {
            person: set().union(
                *(readable.get(account.id, set()) for account in self.accounts if self.controls(person, account))
            )
            for person in PEOPLE
        }

    def check(self) -> None:
        """The invariant, after a step: no one reached further on their own word; admins read nothing."""
        before, known = self.reach, self.known
        if self.step is None:
            return
        now = self.reaches()
        for person in PEOPLE:
            grown = (now[person] - before[person]) & known
            by_someone_else = self.step.person != person and person not in self.step.controllers
            assert not grown or by_someone_else, (
                f"{person} reaches items {sorted(grown)} they could not read before, through their own act: {self.step}"
            )
        readable, users = self.readable(), self.users()
        for user_id, items in readable.items():
            assert not items or users[user_id].role in ("legal", "interviewer"), ("admins read nothing", user_id)
        self.reach, self.known, self.step = now, {item.id for item in self.items}, None

    @invariant()
    def nobody_reaches_further_on_their_own_word(self) -> None:
        self.check()

    # -- what people do (each method is one person's act, as one account of theirs) -------------

    def require_second_factor(self) -> None:
        """CASEWORK_REQUIRE_MFA: admins and lawyers enrol (each their own) before anything else."""
        replace_settings(self.app, auth={"require_mfa": True})
        for person, account in zip(PEOPLE[:4], self.accounts[:4], strict=True):
            self.enrol(person, account)
        self.step = Step("", 0, frozenset(), "setup")

    def enrol(self, person: str, account: Account) -> bool:
        credential = self.credential(person, account, session=True)
        if credential is None:
            return False
        started = self.call(
            person, account, "POST", "/api/v1/auth/mfa/totp", {"password": account.password}, session=True
        )
        if started.status_code != 200:
            return False
        secret = started.get_json()["secret"]
        confirmed = self.call(
            person, account, "POST", "/api/v1/auth/mfa/totp/confirm", {"code": self.code(secret)}, session=True
        )
        assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
        account.totp, account.totp_knowers = secret, {person}
        self.drop(account, keep=credential)
        credential.mfa_verified = True
        return True

    def disable_mfa(self, person: str, account: Account) -> None:
        if account.totp is None:
            return
        off = self.call(person, account, "DELETE", "/api/v1/auth/mfa/totp", {"password": account.password})
        if off is not None and off.status_code == 204:
            account.totp, account.totp_knowers = None, set()

    def create_user(self, person: str, account: Account, role: str) -> Account | None:
        if len(self.accounts) >= MAX_ACCOUNTS:
            return None
        username, password = f"user{next(self.serial)}", next(self.passwords)
        created = self.call(
            person, account, "POST", "/api/v1/users", {"username": username, "password": password, "role": role}
        )
        if created.status_code != 201:
            return None
        self.accounts.append(Account(created.get_json()["id"], username, None, password, {person}))
        return self.accounts[-1]

    def reset_password(self, person: str, account: Account, target: Account) -> None:
        password = next(self.passwords)
        if self.call(person, account, "PATCH", f"/api/v1/users/{target.id}", {"password": password}).status_code == 200:
            target.password, target.knowers = password, {person} | ({target.owner} if target.owner else set())
            self.drop(target)

    def reset_mfa(self, person: str, account: Account, target: Account) -> None:
        if self.call(person, account, "DELETE", f"/api/v1/users/{target.id}/mfa").status_code == 200:
            target.totp, target.totp_knowers = None, set()
            target.knowers |= {person}
            self.drop(target)

    def change_role(self, person: str, account: Account, target: Account, role: str) -> None:
        self.call(person, account, "PATCH", f"/api/v1/users/{target.id}", {"role": role})

    def set_active(self, person: str, account: Account, target: Account, active: bool) -> None:
        changed = self.call(person, account, "PATCH", f"/api/v1/users/{target.id}", {"active": active})
        if changed.status_code == 200 and not active:
            self.drop(target)

    def propose(self, person: str, account: Account, case: int, target: Account) -> None:
        self.call(person, account, "PUT", f"/api/v1/cases/{case}/members/{target.id}")

    def approve(self, person: str, account: Account, case: int, user_id: int) -> int:
        return int(self.call(person, account, "POST", f"/api/v1/cases/{case}/members/{user_id}/approve").status_code)

    def reject(self, person: str, account: Account, case: int, user_id: int) -> None:
        self.call(person, account, "DELETE", f"/api/v1/cases/{case}/members/{user_id}/proposal")

    def remove(self, person: str, account: Account, case: int, user_id: int) -> None:
        self.call(person, account, "DELETE", f"/api/v1/cases/{case}/members/{user_id}")

    def make_token(self, person: str, account: Account) -> None:
        made = self.call(person, account, "POST", "/api/v1/auth/tokens", {"name": "script"}, token=False)
        if made is not None and made.status_code == 201:
            body = made.get_json()
            self.credentials.setdefault((person, account.id), []).append(
                Credential(
                    self.app.test_client(),
                    token=body["token"],
                    token_id=body["id"],
                    mfa_verified=made.credential.mfa_verified,
                )
            )

    def live_tokens(self, person: str, account: Account, target: Account) -> list[int]:
        listed = self.call(person, account, "GET", f"/api/v1/auth/tokens?user_id={target.id}")
        if listed.status_code != 200:
            return []
        return [token["id"] for token in listed.get_json()["items"] if token["revoked_at"] is None]

    def revoke_token(self, person: str, account: Account, token_id: int) -> None:
        if self.call(person, account, "DELETE", f"/api/v1/auth/tokens/{token_id}").status_code == 204:
            for key, held in self.credentials.items():
                self.credentials[key] = [c for c in held if c.token_id != token_id]

    def open_case(self, person: str, account: Account) -> None:
        if len(self.cases) >= MAX_CASES:
            return
        opened = self.call(person, account, "POST", "/api/v1/cases", {"title": "A case of their own"})
        if opened.status_code == 201:
            self.cases.append(opened.get_json()["id"])

    def read(self, person: str, account: Account, item: Item, *, by_token: bool = False) -> int | None:
        """A real read of a statement: it succeeds exactly when the rules the invariant uses say so."""
        if by_token and not any(c.token for c in self.credentials.get((person, account.id), [])):
            self.make_token(person, account)
        read = self.call(
            person,
            account,
            "GET",
            f"/api/v1/interviews/{item.interview_id}/transcripts/1",
            token=True if by_token else None,
        )
        if read is None:
            return None
        problem = read.get_json().get("type", "") if read.status_code == 403 else ""
        if problem.endswith(("password-change-required", "mfa-required", "mfa-enrolment-required")):
            return None
        may = item.id in self.readable()[account.id]
        assert (read.status_code == 200) == may, (person, account, item, read.status_code, may)
        return int(read.status_code)

    # -- the rules: draw who does what, then do it ------------------------------------------------

    def member_accounts(self) -> list[Account]:
        users = self.users()
        return [a for a in self.accounts if users[a.id].role in ("legal", "interviewer")] or self.accounts

    def proposals(self) -> list[tuple[int, int]]:
        with self.app.app_context():
            rows = db.session.execute(select(MembershipProposal.case_id, MembershipProposal.user_id))
            return sorted((case, user) for case, user in rows)

    def members(self) -> list[tuple[int, int]]:
        with self.app.app_context():
            rows = db.session.execute(select(CaseMember.case_id, CaseMember.user_id))
            return sorted((case, user) for case, user in rows)

    @initialize(required=st.booleans())
    def second_factor_required(self, required: bool) -> None:
        """Half the runs with CASEWORK_REQUIRE_MFA."""
        if required:
            self.require_second_factor()

    # Four rules, each drawing one act of its kind: Hypothesis's swarm testing switches rules off
    # per run, and with few rules every kind of act stays in most runs.

    @rule(data=st.data(), act=st.sampled_from(["create", "role", "deactivate", "reactivate"]))
    def an_admin_manages_accounts(self, data: st.DataObject, act: str) -> None:
        actor, target = self.actor(data, "admin"), self.account(data)
        if actor is None:
            return
        if act == "create":
            self.create_user(*actor, data.draw(st.sampled_from(["admin", "legal", "interviewer"]), label="role"))
        elif act == "role":
            self.change_role(
                *actor, target, data.draw(st.sampled_from(["legal", "interviewer", "admin", "auditor"]), label="role")
            )
        else:
            self.set_active(*actor, target, act == "reactivate")

    @rule(
        data=st.data(),
        act=st.sampled_from(
            [
                "reset password",
                "reset mfa",
                "change password",
                "enrol",
                "drop authenticator",
                "make token",
                "revoke token",
            ]
        ),
    )
    def someone_handles_credentials(self, data: st.DataObject, act: str) -> None:
        """An admin resets or revokes; whoever knows an account's password changes it, enrols, makes tokens."""
        if act in ("reset password", "reset mfa", "revoke token"):
            actor, target = self.actor(data, "admin"), self.account(data)
            if actor is None:
                return
            if act == "reset password":
                self.reset_password(*actor, target)
            elif act == "reset mfa":
                self.reset_mfa(*actor, target)
            elif live := self.live_tokens(*actor, target):
                self.revoke_token(*actor, data.draw(st.sampled_from(live), label="token"))
            return
        actor = self.actor(data, "admin", "legal", "interviewer", "auditor")
        if actor is None:
            return
        {
            "change password": self.change_password,
            "enrol": self.enrol,
            "drop authenticator": self.disable_mfa,
            "make token": self.make_token,
        }[act](*actor)

    @rule(data=st.data(), act=st.sampled_from(["propose", "approve", "approve", "reject", "remove"]))
    def membership_changes(self, data: st.DataObject, act: str) -> None:
        """An admin proposes or removes; a lawyer of the case or an admin approves, rejects or withdraws
        (the app decides whether they may be the second person)."""
        if act == "propose":
            actor = self.actor(data, "admin")
            target = data.draw(st.sampled_from(self.member_accounts()), label="account")
            if actor is not None:
                self.propose(*actor, data.draw(st.sampled_from(self.cases), label="case"), target)
            return
        if act == "remove":
            actor, members = self.actor(data, "admin"), self.members()
            if actor is not None and members:
                self.remove(*actor, *data.draw(st.sampled_from(members), label="member"))
            return
        proposals = self.proposals()
        if not proposals:
            return
        case, user = data.draw(st.sampled_from(proposals), label="proposal")
        actor = self.actor(data, "admin", lawyer_of=case)
        if actor is not None:
            (self.approve if act == "approve" else self.reject)(*actor, case, user)

    @rule(data=st.data(), act=st.sampled_from(["open case", "record", "read", "read by token"]))
    def casework(self, data: st.DataObject, act: str) -> None:
        """A lawyer opens a case; an interviewer records a statement; anyone reads one."""
        if act == "open case":
            actor = self.actor(data, "legal")
            if actor is not None:
                self.open_case(*actor)
        elif act == "record":
            actor = self.actor(data, "interviewer")
            if actor is not None and self.recorded < MAX_RECORDED:
                self.recorded += 1
                self.record_content(*actor, data.draw(st.sampled_from(self.cases), label="case"))
        else:
            actor = self.actor(data, "legal", "interviewer", "admin", "auditor")
            statements = [item for item in self.items if item.interview_id is not None]
            if actor is not None and statements:
                self.read(
                    *actor, data.draw(st.sampled_from(statements), label="statement"), by_token=act == "read by token"
                )


@pytest.fixture
def machine(app: Flask, monkeypatch: pytest.MonkeyPatch):
    """The machine's class bound to this database, with a TOTP clock it moves itself."""
    clock = [mfa._clock()]
    monkeypatch.setattr(mfa, "_clock", lambda: clock[0])
    monkeypatch.setattr(NoSinglePerson, "app", app, raising=False)
    monkeypatch.setattr(NoSinglePerson, "clock", clock, raising=False)
    patch_settings(monkeypatch, app, auth={"require_mfa": False})
    return NoSinglePerson


def test_no_single_person_reaches_content_on_their_own_word(machine: type[NoSinglePerson]) -> None:
    """About a minute for both databases; CASEWORK_NO_SINGLE_PERSON_EXAMPLES=500 for a longer search."""
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("CASEWORK_NO_SINGLE_PERSON_EXAMPLES", "16")),
            stateful_step_count=35,
            deadline=None,
            database=DirectoryBasedExampleDatabase(str(EXAMPLES)),
            suppress_health_check=list(HealthCheck),
        ),
    )


# -- the insider paths of issue #22, step by step through the same model and invariant ----------


def _statement(m: NoSinglePerson, case: int) -> Item:
    return next(item for item in m.items if item.interview_id is not None and item.target.case_id == case)


def _path_reset_the_only_lawyer(m: NoSinglePerson) -> None:
    a1, a2, l1 = m.accounts[0], m.accounts[1], m.accounts[2]
    m.reset_password("A1", a1, l1)
    m.check()
    assert m.read("A1", l1, _statement(m, m.cases[0])) == 404  # the forced change made, reads nothing
    m.check()
    assert m.approve("A1", a1, m.cases[0], l1.id) == 403
    m.check()
    assert m.approve("A2", a2, m.cases[0], l1.id) == 200  # the second admin: A1 now reads through A2's act
    m.check()


def _path_several_lawyers(m: NoSinglePerson) -> None:
    a1, l1, l2 = m.accounts[0], m.accounts[2], m.accounts[3]
    case = m.cases[0]
    m.propose("A1", a1, case, l2)
    m.check()
    assert m.approve("L1", l1, case, l2.id) == 200
    m.check()
    m.remove("A1", a1, case, l1.id)  # only proposed: l2 must approve
    m.check()
    for lawyer in (l2, l1):
        m.reset_password("A1", a1, lawyer)
        m.check()
    insider = m.create_user("A1", a1, "admin")
    assert insider is not None
    m.check()
    for admin in (a1, insider):
        assert m.approve("A1", admin, case, l1.id) == 403
        m.check()
    m.set_active("A1", a1, l2, False)
    m.check()
    m.set_active("A1", a1, l2, True)
    m.check()
    assert m.read("A1", l2, _statement(m, case)) == 404
    m.check()


def _path_a_chain_of_admins(m: NoSinglePerson) -> None:
    a1, a2, l1 = m.accounts[0], m.accounts[1], m.accounts[2]
    first = m.create_user("A1", a1, "admin")
    assert first is not None
    second = m.create_user("A1", first, "admin")  # made as the first (after its forced change)
    assert second is not None
    m.check()
    m.reset_password("A1", second, l1)
    m.check()
    for admin in (a1, first, second):
        assert m.approve("A1", admin, m.cases[0], l1.id) == 403
        m.check()
    # A second admin reset by the first is theirs too: A2's password, then A2's approval.
    m.reset_mfa("A1", a1, a2)
    m.check()
    assert m.approve("A1", a2, m.cases[0], l1.id) == 403
    m.check()


def _path_required_mfa_own_authenticator(m: NoSinglePerson) -> None:
    a1, l2 = m.accounts[0], m.accounts[3]
    m.require_second_factor()
    m.check()
    m.reset_password("A1", a1, l2)
    m.check()
    m.reset_mfa("A1", a1, l2)
    m.check()
    assert m.read("A1", l2, _statement(m, m.cases[1])) == 404  # forced change and own authenticator: nothing
    m.check()


def _path_an_interviewer_made_a_lawyer(m: NoSinglePerson) -> None:
    a1, i1 = m.accounts[0], m.accounts[4]
    insider = m.create_user("A1", a1, "interviewer")
    assert insider is not None
    m.propose("A1", a1, m.cases[0], insider)
    m.check()
    assert m.approve("L1", m.accounts[2], m.cases[0], insider.id) == 200
    m.check()
    m.change_role("A1", a1, insider, "legal")
    m.check()
    assert m.read("A1", insider, _statement(m, m.cases[0])) == 404
    m.check()
    m.reset_password("A1", a1, i1)  # the interviewer's own statements are content too
    m.check()
    assert m.read("A1", i1, _statement(m, m.cases[0])) == 404
    m.check()


PATHS = [
    _path_reset_the_only_lawyer,
    _path_several_lawyers,
    _path_a_chain_of_admins,
    _path_required_mfa_own_authenticator,
    _path_an_interviewer_made_a_lawyer,
]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.__name__.removeprefix("_path_"))
def test_the_insider_paths_of_issue_22(machine: type[NoSinglePerson], path) -> None:
    m = machine()
    try:
        path(m)
    finally:
        m.teardown()
