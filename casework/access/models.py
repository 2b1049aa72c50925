"""Case membership: the data the access rules read to open a case's objects to its members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Model, utcnow


class CaseMember(Model):
    __tablename__ = "case_members"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # By name: accounts live above access (casework.auth), and imports point down.
    user: Mapped[Any] = relationship("User", lazy="joined", foreign_keys=[user_id])
