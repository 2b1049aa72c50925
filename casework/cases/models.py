from __future__ import annotations

from datetime import datetime
from typing import Any

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
    proposals: Mapped[list[MembershipProposal]] = relationship(order_by="MembershipProposal.user_id",
                                                               viewonly=True)

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, case_id=self.id)


class MembershipProposal(Model):
    """An admin's proposal to add a member to a case that has a legal member (two-person rule).

    One pending proposal per case and user; it is deleted when a legal member of the case
    approves it (the membership is created) or rejects it, or the admin withdraws it. The
    custody log keeps who proposed, approved or rejected, and when.
    """

    __tablename__ = "case_member_proposals"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # By name, as CaseMember does: the account of the proposed member.
    user: Mapped[Any] = relationship("User", lazy="joined", foreign_keys=[user_id])
