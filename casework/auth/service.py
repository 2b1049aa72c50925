"""Logging in and out, passwords, the TOTP second factor and personal API tokens.

Every path records a custody event. The cookie itself is the view's business; this module
decides who may have a session or a token, stores their hashes, and records each step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from casework.access.door import ANONYMOUS, Access, authorize, load_authorized, principal_of, record_authentication
from casework.access.targets import Target
from casework.auth import control, credentials, mfa, passwords, rules
from casework.auth.models import ApiToken, LoginSession, RecoveryCode, TotpSecret, User
from casework.db import db, utcnow
from casework.errors import Conflict, Forbidden, Invalid, Unauthenticated
from casework.fields import Extended
from casework.pagination import Page, keyset_page

GENERIC_LOGIN_FAILURE = "Invalid username or password."
MFA_LOGIN_FAILURE = "A current one-time code (otp) or an unused recovery code (recovery_code) is required."
REAUTHENTICATION_FAILED = "reauthentication-failed"


@dataclass(frozen=True)
class NewSession:
    user: User
    secret: str  # goes into the signed cookie; only its hash is stored
    csrf_token: str
    mfa_verified: bool


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    provisioning_uri: str
    digits: int = mfa.DIGITS
    period: int = mfa.PERIOD
    algorithm: str = "SHA1"


@dataclass(frozen=True)
class RecoveryCodes:
    recovery_codes: list[str]


@dataclass(frozen=True)
class Credential:
    """What authenticated this request: a session record or a bearer token."""

    session: LoginSession | None = None
    token: ApiToken | None = None

    @property
    def mfa_verified(self) -> bool:
        row = self.session or self.token
        return bool(row is not None and row.mfa_verified)


# ---------------------------------------------------------------------------------------------
# Sessions


def _claim_step(totp: TotpSecret, step: int) -> bool:
    """Accept a code's time step once: atomically, so two requests cannot both use one code."""
    result = db.session.execute(
        update(TotpSecret)
        .where(TotpSecret.id == totp.id, or_(TotpSecret.last_used_step.is_(None), TotpSecret.last_used_step < step))
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    totp.last_used_step = step
    return True


def _totp_secret(totp: TotpSecret) -> str:
    return totp.sealed_secret.open().decode()


def _check_code(totp: TotpSecret | None, code: str) -> str | None:
    """None if ``code`` is a current, unused code of ``totp``; else why not."""
    if totp is None or not totp.sealed_secret.present:
        return "no_second_factor"
    step = mfa.matching_step(_totp_secret(totp), code)
    if step is None:
        return "otp_invalid"
    if not _claim_step(totp, step):
        return "otp_replayed"
    return None


def _consume_recovery_code(user_id: int, code: str) -> bool:
    result = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == mfa.recovery_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _unused_recovery_codes(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def _second_factor(user: User, otp: str | None, recovery_code: str | None) -> tuple[str | None, dict[str, Any]]:
    """("totp" or "recovery_code", details) when the login passes the second factor; (None, why) if not."""
    if otp:
        reason = _check_code(user.totp, otp)
        return (None, {"reason": reason}) if reason else ("totp", {})
    if recovery_code:
        if not _consume_recovery_code(user.id, recovery_code):
            return None, {"reason": "recovery_code_invalid"}
        return "recovery_code", {"recovery_codes_left": _unused_recovery_codes(user.id)}
    return None, {"reason": "mfa_missing"}


def login(
    username: str,
    password: str,
    *,
    otp: str | None = None,
    recovery_code: str | None = None,
    previous_session: str | None,
    lifetime_seconds: int,
) -> NewSession:
    """A new session for the right password, and the second factor if the account has one.

    A wrong password and an unknown user get the same answer. With the right password, an
    account with a second factor and no (or a wrong, or a replayed) code gets ``mfa-required``:
    the same answer whatever was wrong with the code.
    """
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = passwords.verify_password(user.password_hash if user else None, password)
    target = Target("user", user.id if user else None)
    if not ok or user is None or not user.active:
        # The claimed name is the caller's word, not an actor: it goes into details.
        record_authentication(
            "auth.login",
            target,
            actor=ANONYMOUS,
            allowed=False,
            claimed_username=username[:64],
            reason="invalid_credentials" if not ok or user is None else "inactive",
        )
        raise Unauthenticated(GENERIC_LOGIN_FAILURE, problem="login-failed")
    second_factor: str | None = None
    details: dict[str, Any] = {}
    if user.mfa_enabled:
        second_factor, details = _second_factor(user, otp, recovery_code)
        if second_factor is None:
            record_authentication(
                "auth.login", target, actor=ANONYMOUS, allowed=False, claimed_username=username[:64], **details
            )
            raise Unauthenticated(MFA_LOGIN_FAILURE, problem=rules.MFA_REQUIRED)
        details["mfa"] = second_factor
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    end_session(previous_session)
    secret = credentials.new_secret()
    db.session.add(
        LoginSession(
            user_id=user.id,
            secret_hash=credentials.digest(secret),
            expires_at=utcnow() + timedelta(seconds=lifetime_seconds),
            mfa_verified=second_factor is not None,
        )
    )
    if user.must_change_password:
        details["must_change_password"] = True
    record_authentication("auth.login", target, actor=principal_of(user), allowed=True, **details)
    return NewSession(user, secret, credentials.new_secret(), second_factor is not None)


def end_session(secret: str | None) -> None:
    """Revoke the server-side record of a session cookie, if any."""
    if isinstance(secret, str):
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.secret_hash == credentials.digest(secret), LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def _self_target(user_id: int) -> Target:
    return Target("user", user_id, owner_id=user_id)


def logout(user_id: int, session_secret: str | None) -> None:
    authorize("auth.logout", _self_target(user_id))
    end_session(session_secret)


def me(
    user: User,
    *,
    auth_method: str | None,
    csrf_token: str | None,
    mfa_verified: bool = False,
    require_mfa: bool = False,
) -> Extended:
    """The caller as ``MeSchema`` shows them (the CSRF token only for cookie sessions)."""
    restriction = rules.restriction(user, mfa_verified=mfa_verified, require_mfa=require_mfa)
    return Extended(
        user,
        auth_method=auth_method,
        csrf_token=csrf_token if auth_method == "session" else None,
        mfa_verified=mfa_verified,
        mfa_enrolment_required=restriction == rules.MFA_ENROLMENT_REQUIRED,
    )


def whoami(
    user: User,
    *,
    auth_method: str | None,
    csrf_token: str | None,
    mfa_verified: bool = False,
    require_mfa: bool = False,
) -> Extended:
    authorize("auth.me", _self_target(user.id))
    return me(user, auth_method=auth_method, csrf_token=csrf_token, mfa_verified=mfa_verified, require_mfa=require_mfa)


# ---------------------------------------------------------------------------------------------
# Credentials: revocation


def revoke_token_tree(token_id: int) -> int:
    """Revoke a token and every token created through it (its descendants), in one statement."""
    tree = select(ApiToken.id).where(ApiToken.id == token_id).cte("token_tree", recursive=True)
    tree = tree.union_all(select(ApiToken.id).where(ApiToken.parent_token_id == tree.c.id))
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.id.in_(select(tree.c.id)), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_credentials(user_id: int, *, keep_session_id: int | None = None) -> dict[str, int]:
    """End every token and every session of a user but ``keep_session_id``; how many of each."""
    now = utcnow()
    counts = {}
    for name, model, keep in (("sessions_revoked", LoginSession, keep_session_id), ("tokens_revoked", ApiToken, None)):
        statement = update(model).where(model.user_id == user_id, model.revoked_at.is_(None))
        if keep is not None:
            statement = statement.where(model.id != keep)
        result = db.session.execute(statement.values(revoked_at=now))
        counts[name] = int(result.rowcount)  # type: ignore[attr-defined]
    return counts


def revoke_all_credentials(user_id: int) -> dict[str, int]:
    """End every session and token of a user at once (deactivation, password reset)."""
    return revoke_credentials(user_id)


# ---------------------------------------------------------------------------------------------
# Tokens


def issue_token(
    user: User, name: str, expires_in_days: int, *, parent: ApiToken | None = None, mfa_verified: bool = False
) -> tuple[ApiToken, str]:
    """Store a new token's hash for ``user``; the returned secret is the only copy.

    A token made through another token (``parent``) expires no later than it.
    """
    secret = credentials.TOKEN_PREFIX + credentials.new_secret()
    expires_at = utcnow() + timedelta(days=expires_in_days)
    if parent is not None:
        expires_at = min(expires_at, parent.expires_at)
    token = ApiToken(
        user_id=user.id,
        parent_token_id=parent.id if parent is not None else None,
        name=name,
        token_hash=credentials.digest(secret),
        prefix=secret[: len(credentials.TOKEN_PREFIX) + 6],
        expires_at=expires_at,
        mfa_verified=mfa_verified,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def create_token(
    user: User, name: str, expires_in_days: int, *, via: Credential | None = None, require_mfa: bool = False
) -> Extended:
    """A new token; the answer carries the secret, shown this once.

    Made through a bearer token, it is that token's child: it expires no later and is revoked
    with it. Never for an account that must first change its password or pass (or enrol) the
    second factor: a token is no way around either.
    """
    via = via or Credential()
    parent = via.token
    access = authorize(
        "token.create",
        _self_target(user.id),
        expires_in_days=expires_in_days,
        parent_token_id=parent.id if parent is not None else None,
    )
    restriction = rules.restriction(user, mfa_verified=via.mfa_verified, require_mfa=require_mfa)
    if restriction is not None:
        access.note(reason=restriction)
        raise Forbidden(rules.DETAILS[restriction], problem=restriction)
    token, secret = issue_token(user, name, expires_in_days, parent=parent, mfa_verified=via.mfa_verified)
    access.note(
        token_id=token.id,
        expires_at=token.expires_at.isoformat(timespec="seconds"),
        capped_by_parent=parent is not None and token.expires_at == parent.expires_at,
    )
    return Extended(token, token=secret)


def list_tokens(user_id: int, args: dict[str, Any]) -> Page:
    authorize("token.list", _self_target(user_id))
    return keyset_page(select(ApiToken).where(ApiToken.user_id == user_id), ApiToken.id, args)


def revoke_token(token_id: int) -> None:
    """Revoke a token and the tokens made through it."""
    access = load_authorized(ApiToken, token_id, "token.revoke")
    access.note(tokens_revoked=revoke_token_tree(access.obj.id))


# ---------------------------------------------------------------------------------------------
# Passwords


def _reauthenticate(access: Access[None], ok: bool, reason: str, detail: str) -> None:
    """A secret the caller had to give again was wrong: recorded (denied) and refused."""
    if not ok:
        access.note(reason=reason)
        raise Forbidden(detail, problem=REAUTHENTICATION_FAILED)


def change_password(user: User, current_password: str, new_password: str, *, via: Credential | None = None) -> None:
    """The user chooses a new password; every other session and every token of theirs ends.

    The session this is done in stays (with its second factor, if it passed one).
    """
    via = via or Credential()
    access = authorize("auth.password.change", _self_target(user.id), was_required=user.must_change_password)
    _reauthenticate(
        access,
        passwords.verify_password(user.password_hash, current_password),
        "wrong_current_password",
        "The current password is not correct.",
    )
    if new_password == current_password:
        raise Invalid(
            "Choose a password other than the current one.",
            errors={"json": {"new_password": ["Same as the current password."]}},
        )
    passwords.require_strong(new_password, field="new_password", username=user.username, display_name=user.display_name)
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    access.note(**revoke_credentials(user.id, keep_session_id=via.session.id if via.session else None))


def set_password_by_admin(user: User, password: str, *, display_name: str | None, set_by_id: int) -> dict[str, int]:
    """An admin chose this password: the user must replace it at their next login, and every
    session and token of theirs ends now. Their second factor, if any, stays. The admin is recorded
    as able to hold a way in (``control``), in place of whoever set the old password."""
    passwords.require_strong(password, field="password", username=user.username, display_name=display_name)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    control.record_setter(user.id, set_by_id, control.PASSWORD_RESET)
    return revoke_all_credentials(user.id)


# ---------------------------------------------------------------------------------------------
# The TOTP second factor


def enrol_totp(user: User, password: str, *, issuer: str) -> TotpEnrolment:
    """Start (or restart) enrolment: a new secret, shown this once, stored sealed until confirmed."""
    access = authorize("auth.mfa.enrol", _self_target(user.id))
    _reauthenticate(
        access,
        passwords.verify_password(user.password_hash, password),
        "wrong_password",
        "The password is not correct.",
    )
    if user.mfa_enabled:
        raise Conflict(
            "Two-factor authentication is already on; turn it off before enrolling another device.",
            problem="mfa-already-enabled",
        )
    totp = user.totp
    if totp is None:
        totp = TotpSecret(user_id=user.id)
        user.totp = totp
        db.session.flush()
    secret = mfa.new_secret()
    totp.sealed_secret.seal(secret.encode())
    totp.confirmed_at, totp.last_used_step, totp.created_at = None, None, utcnow()
    access.note(totp_id=totp.id)
    return TotpEnrolment(secret, mfa.provisioning_uri(secret, user.username, issuer))


def confirm_totp(user: User, code: str, *, via: Credential | None = None) -> RecoveryCodes:
    """A first code turns the second factor on; answers the recovery codes, shown this once.

    Every other session and every token ends (none of them passed the second factor); the
    session this is done in stays, and counts as having passed it.
    """
    via = via or Credential()
    access = authorize("auth.mfa.confirm", _self_target(user.id))
    totp = user.totp
    if totp is None or totp.confirmed_at is not None or not totp.sealed_secret.present:
        raise Conflict("No two-factor enrolment is pending.", problem="no-pending-enrolment")
    reason = _check_code(totp, code)
    _reauthenticate(access, reason is None, reason or "", "The code is not correct (is the device's clock right?).")
    totp.confirmed_at = utcnow()
    codes = _replace_recovery_codes(user.id)
    revoked = revoke_credentials(user.id, keep_session_id=via.session.id if via.session else None)
    if via.session is not None:
        via.session.mfa_verified = True
    access.note(totp_id=totp.id, recovery_codes=len(codes), **revoked)
    return RecoveryCodes(codes)


def _replace_recovery_codes(user_id: int) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = mfa.new_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user_id, code_hash=mfa.recovery_digest(code)) for code in codes)
    return codes


def disable_totp(user: User, *, code: str | None = None, password: str | None = None) -> None:
    """Turn the second factor off (or abandon a pending enrolment), proven by a current code or the password."""
    access = authorize("auth.mfa.disable", _self_target(user.id), proof="password" if password is not None else "code")
    if password is not None:
        _reauthenticate(
            access,
            passwords.verify_password(user.password_hash, password),
            "wrong_password",
            "The password is not correct.",
        )
    else:
        reason = _check_code(user.totp, code or "")
        _reauthenticate(access, reason is None, reason or "", "The code is not correct.")
    access.note(**remove_second_factor(user))


def _drop_second_factor(user: User) -> dict[str, Any]:
    totp = user.totp
    assert totp is not None
    details: dict[str, Any] = {"was_enabled": user.mfa_enabled, "was_pending": totp.confirmed_at is None}
    user.totp = None
    removed = db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    details["recovery_codes_deleted"] = int(removed.rowcount)  # type: ignore[attr-defined]
    return details


def remove_second_factor(user: User) -> dict[str, Any]:
    """An admin's reset of the second factor (the caller authorizes, records and suspends): the
    TOTP secret, a pending enrolment and the recovery codes go. Answers what was removed; an
    account without one is reset all the same (whoever enrols next sets it)."""
    if user.totp is None:
        return {"was_enabled": False, "was_pending": False}
    return _drop_second_factor(user)
