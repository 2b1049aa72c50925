"""What an authenticated caller must do before anything else: change an admin-set password, or
pass (or enrol) the second factor. Pure: the caller's credentials apply them to each request."""

from __future__ import annotations

from typing import Any

PASSWORD_CHANGE_REQUIRED = "password-change-required"  # noqa: S105 (a problem type)
MFA_ENROLMENT_REQUIRED = "mfa-enrolment-required"
MFA_REQUIRED = "mfa-required"
# Roles that must have a second factor when CASEWORK_REQUIRE_MFA is on (they reach accounts or content).
MFA_ROLES = frozenset({"admin", "legal"})

DETAILS = {
    PASSWORD_CHANGE_REQUIRED: "An administrator set this account's password: choose your own "
    "(POST /api/v1/auth/password) before anything else.",
    MFA_ENROLMENT_REQUIRED: "This account needs two-factor authentication: enrol an authenticator "
    "(POST /api/v1/auth/mfa/totp, then /confirm) before anything else.",
    MFA_REQUIRED: "These credentials did not pass two-factor authentication: log in again with a code.",
}


def mfa_needed(user: Any, *, require_mfa: bool) -> bool:
    """The user has a second factor, or their role must have one."""
    return bool(user.mfa_enabled or (require_mfa and user.role in MFA_ROLES))


def restriction(user: Any, *, mfa_verified: bool, require_mfa: bool) -> str | None:
    """Why these credentials may do nothing but the few steps that lift it, or None."""
    if user.must_change_password:
        return PASSWORD_CHANGE_REQUIRED
    if mfa_verified or not mfa_needed(user, require_mfa=require_mfa):
        return None
    return MFA_REQUIRED if user.mfa_enabled else MFA_ENROLMENT_REQUIRED
