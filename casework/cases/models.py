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
    proposals: Mapped[list[MembershipProposal]] = relationship(order_by="MembershipProposal.user_id", viewonly=True)

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, case_id=self.id)


class MembershipProposal(Model):
    """A change of a case's membership waiting for a second person (the two-person rule).

    ``kind`` says which change: ``add`` (an admin proposed a new member), ``restore`` (a
    membership suspended when an admin reset the account's password or second factor, made it a
    lawyer, or deactivated or reactivated it: ``reason`` says which) or ``remove`` (an admin
    proposed removing one of the case's lawyers; the membership stands until approved). One row
    per case and user; it is deleted when the second person approves it (a lawyer of the case
    other than the account, or, where the case has no other lawyer, an admin independent of the
    proposer and of the account) or rejects it, or an admin withdraws it. The custody log keeps
    who proposed, approved or rejected, and when.
    """

    __tablename__ = "case_member_proposals"
    __table_args__ = (CheckConstraint("kind IN ('add', 'restore', 'remove')", name="kind"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="add", server_default="add")
    # Why a membership was suspended (restore only): password_reset, mfa_reset, role_change,
    # deactivation, reactivation.
    reason: Mapped[str | None] = mapped_column(String(32))
    # By name, as CaseMember does: the account of the proposed member.
    user: Mapped[Any] = relationship("User", lazy="joined", foreign_keys=[user_id])
