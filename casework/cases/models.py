from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.models import CaseMember
from casework.access.targets import Target
from casework.db import Model, utcnow


class Case(Model):
    __tablename__ = "cases"
    __resource_type__ = "case"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Last witness number handed out; bumped under a row lock so pseudonyms never collide.
    witness_counter: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list[CaseMember]] = relationship(order_by=CaseMember.user_id, viewonly=True)

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, case_id=self.id)
