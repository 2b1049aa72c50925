from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from casework.auth.target import Target
from casework.db import db, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    INTERVIEWER = "interviewer"
    LEGAL = "legal"
    AUDITOR = "auditor"


class User(UserMixin, db.Model):
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
