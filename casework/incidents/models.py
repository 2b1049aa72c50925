from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.access.targets import Target
from casework.db import Model, utcnow
from casework.geo import LocatedMixin


class Incident(LocatedMixin, Model):
    __tablename__ = "incidents"
    __resource_type__ = "incident"
    __table_args__ = (UniqueConstraint("case_id", "reference", name="uq_incidents_case_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    occurred_from: Mapped[datetime | None]
    occurred_to: Mapped[datetime | None]
    time_precision: Mapped[str] = mapped_column(String(16), default="day")
    location_name: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    location_precision_m: Mapped[int | None]
    victim_count: Mapped[int | None]
    violation_types: Mapped[list[str]] = mapped_column(default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, case_id=self.case_id)
