from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.targets import Target
from casework.db import Model, utcnow


class User(UserMixin, Model):
    __tablename__ = "users"
    __resource_type__ = "user"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'interviewer', 'legal', 'auditor')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this; a deactivated user is logged out at once.
        return self.active

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

    user: Mapped[User] = relationship()


class ApiToken(Model):
    """Personal bearer token; only its SHA-256 is stored (the token itself is shown once)."""

    __tablename__ = "api_tokens"
    __resource_type__ = "token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")  # every bearer request needs both: one query

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, owner_id=self.user_id)
