from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.targets import Target
from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField


class User(UserMixin, Model):
    __tablename__ = "users"
    __resource_type__ = "user"
    __table_args__ = (CheckConstraint("role IN ('admin', 'interviewer', 'legal', 'auditor')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    # Set when an admin chose the password (creation through the API, reset): until the user
    # picks their own, their credentials reach only the password change, ``me`` and logout.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Loaded with the user (one joined row): every request asks whether the second factor is on.
    totp: Mapped[TotpSecret | None] = relationship(lazy="joined", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login asks this; a deactivated user is logged out at once.
        return self.active

    @property
    def mfa_enabled(self) -> bool:
        """A confirmed TOTP second factor: logins need a code (or a recovery code)."""
        return self.totp is not None and self.totp.confirmed_at is not None

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username} {self.role}>"


class LoginSession(Model):
    """Server-side record behind the session cookie: lets logout and deactivation end it now."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The login gave a TOTP or recovery code, or this session confirmed the enrolment.
    mfa_verified: Mapped[bool] = mapped_column(default=False, server_default=false())

    user: Mapped[User] = relationship()


class ApiToken(Model):
    """Personal bearer token; only its SHA-256 is stored (the token itself is shown once).

    A token created while authenticated by another token names it (``parent_token_id``),
    expires no later than it, and is revoked with it.
    """

    __tablename__ = "api_tokens"
    __resource_type__ = "token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    parent_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # Created from a session (or token) that passed the second factor.
    mfa_verified: Mapped[bool] = mapped_column(default=False, server_default=false())

    user: Mapped[User] = relationship(lazy="joined")  # every bearer request needs both: one query

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, owner_id=self.user_id)


class TotpSecret(Model):
    """A user's RFC 6238 TOTP secret, envelope-encrypted; pending until a first code confirms it."""

    __tablename__ = "totp_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    sealed_secret = SealedField("secret", "TOTP secrets")
    confirmed_at: Mapped[datetime | None]
    # The last time step whose code was accepted: a code is good once.
    last_used_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @sealed_secret.context
    def secret_context(self) -> bytes:
        return bind("totp_secret", self.id, parents={"user": self.user_id})


class RecoveryCode(Model):
    """One-time codes for a lost second factor; only their SHA-256 is stored (80-bit random codes)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class CredentialSetter(Model):
    """An admin who may hold a way into an account: they chose its password (created it through the
    API, or reset it) or removed its second factor.

    Such an admin, and any admin whose own way in they may hold, is never the independent second
    admin for that account (``casework.auth.control``). A password reset replaces the account's rows
    (whoever set the old password cannot know the new one); a second-factor reset adds one. The
    user's own password change removes none: nobody can tell whether the user or the admin made it.
    """

    __tablename__ = "credential_setters"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    # created, password_reset or mfa_reset
    via: Mapped[str] = mapped_column(String(16))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
