from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.auth.target import Target
from casework.db import db, utcnow


class Witness(db.Model):
    __tablename__ = "witnesses"
    __table_args__ = (UniqueConstraint("case_id", "pseudonym", name="uq_witnesses_case_pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(16))
    witness_type: Mapped[str] = mapped_column(String(32))
    risk_level: Mapped[str] = mapped_column(String(16))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def custody_target(self) -> Target:
        return Target("witness", self.id, case_id=self.case_id, owner_id=self.recorded_by_id, witness_id=self.id)
