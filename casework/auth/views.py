from __future__ import annotations

from flask import g, session
from flask_login import current_user

from casework.auth import cookie_session, credentials, schemas, service, throttles
from casework.http import Blueprint
from casework.pagination import page_of
from casework.settings import settings

blp = Blueprint(
    "auth",
    __name__,
    url_prefix="/api/v1/auth",
    description="Sessions, passwords, the second factor and personal API tokens",
)

TokenPage = page_of(schemas.TokenSchema, "TokenPage")


def _credential() -> service.Credential:
    return service.Credential(*credentials.credential_rows())


@blp.route("/login", methods=["POST"], endpoint="login")
@throttles.login_attempts
@throttles.login_failures
@blp.arguments(schemas.LoginSchema, example=schemas.LOGIN_EXAMPLE)
@blp.response(200, schemas.MeSchema)
def create_session(data):
    """Log in: start a session (a cookie) with your username and password.

    Failures are generic; logins are throttled per address, and failed ones per username and
    address. An account with a second factor also sends ``otp`` or ``recovery_code``. A script
    then makes itself a token (``POST /auth/tokens``) and sends it as ``Authorization: Bearer``.
    """
    new = cookie_session.begin_session(
        data["username"], data["password"], otp=data.get("otp"), recovery_code=data.get("recovery_code")
    )
    return service.me(
        new.user,
        auth_method="session",
        csrf_token=new.csrf_token,
        mfa_verified=new.mfa_verified,
        require_mfa=credentials.require_mfa(),
    )


@blp.route("/logout", methods=["POST"], endpoint="logout")
@blp.response(204)
def delete_session():
    """Log out: end this session."""
    cookie_session.end_session(current_user.id)


@blp.route("/me", methods=["GET"], endpoint="me")
@blp.response(200, schemas.MeSchema)
def get_current_user():
    """Who you are, how you authenticated, and what you must do before anything else."""
    return service.whoami(
        current_user,
        auth_method=g.get("auth_method"),
        csrf_token=session.get("csrf"),
        mfa_verified=credentials.credential_mfa_verified(),
        require_mfa=credentials.require_mfa(),
    )


@blp.route("/password", methods=["POST"])
@throttles.reauthentication
@blp.arguments(schemas.PasswordChangeSchema)
@blp.response(204)
def change_password(data):
    """Change your password.

    Every other session and every token of yours ends (this session stays). An account whose
    password an admin set must do this first.
    """
    service.change_password(current_user, data["current_password"], data["new_password"], via=_credential())


@blp.route("/mfa/totp", methods=["POST"])
@throttles.reauthentication
@blp.arguments(schemas.TotpEnrolSchema)
@blp.response(200, schemas.TotpEnrolmentSchema)
def enrol_totp(data):
    """Start enrolling an authenticator app (TOTP second factor).

    The secret and its otpauth:// URI are shown this once. Confirm with a first code.
    """
    return service.enrol_totp(current_user, data["password"], issuer=settings().auth.totp_issuer)


@blp.route("/mfa/totp/confirm", methods=["POST"])
@throttles.reauthentication
@blp.arguments(schemas.TotpCodeSchema)
@blp.response(200, schemas.RecoveryCodesSchema)
def confirm_totp(data):
    """Turn the TOTP second factor on with a first code.

    Answers 10 one-time recovery codes, shown this once. Every other session and every token of
    yours ends.
    """
    return service.confirm_totp(current_user, data["code"], via=_credential())


@blp.route("/mfa/totp", methods=["DELETE"])
@throttles.reauthentication
@blp.arguments(schemas.TotpDisableSchema, example=schemas.TOTP_DISABLE_EXAMPLE)
@blp.response(204)
def disable_totp(data):
    """Turn the TOTP second factor off, or abandon an enrolment.

    Proven by a current ``code`` or the ``password``.
    """
    service.disable_totp(current_user, code=data.get("code"), password=data.get("password"))


@blp.route("/tokens", methods=["POST"])
@blp.arguments(schemas.TokenCreateSchema)
@blp.response(201, schemas.NewTokenSchema)
def create_token(data):
    """Create a personal API token for scripts and the command-line client.

    The token is in this answer only. Made with a token, it expires no later than that token and
    is revoked with it.
    """
    return service.create_token(
        current_user, data["name"], data["expires_in_days"], via=_credential(), require_mfa=credentials.require_mfa()
    )


@blp.route("/tokens", methods=["GET"])
@blp.arguments(schemas.TokenListArgs, location="query")
@blp.response(200, TokenPage)
def list_tokens(args):
    """List your API tokens (never the tokens themselves); admins may name another user's."""
    return service.list_tokens(args.pop("user_id", current_user.id), args)


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
def revoke_token(token_id):
    """Revoke an API token, and every token made through it."""
    service.revoke_token(token_id)
