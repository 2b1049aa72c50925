from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from casework.access.targets import Target
from casework.db import Model, utcnow
from casework.geo import LocatedMixin


class Incident(LocatedMixin, Model):
    """An incident of a case. Its reference, title, times and violation codes are plain metadata
    (nothing here is sealed), so searches can filter on them in SQL (migration 0018's indexes)."""

    __tablename__ = "incidents"
    __resource_type__ = "incident"
    __table_args__ = (
        UniqueConstraint("case_id", "reference", name="uq_incidents_case_reference"),
        Index("ix_incidents_case_occurred", "case_id", "occurred_from"),
        # q= (a substring of the reference or title): trigram indexes on PostgreSQL. SQLite has no
        # such index; these are plain indexes there, and a search reads the case's incidents.
        Index(
            "ix_incidents_reference_trgm",
            "reference",
            postgresql_using="gin",
            postgresql_ops={"reference": "gin_trgm_ops"},
        ),
        Index("ix_incidents_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}),
    )

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


# violation_type=: the JSON list as jsonb, for containment (@>), on PostgreSQL only (SQLite reads
# the case's incidents and looks into each list).
Index("ix_incidents_violation_types", cast(Incident.violation_types, JSONB), postgresql_using="gin").ddl_if(
    dialect="postgresql"
)
