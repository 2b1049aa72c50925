from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.targets import Target
from casework.crypto.envelope import bind
from casework.db import Model, db, utcnow
from casework.geo import LocatedMixin
from casework.incidents.models import Incident
from casework.keys import SealedField, witness_subject

interview_incidents = Table(
    "interview_incidents",
    db.metadata,
    Column("interview_id", ForeignKey("interviews.id"), primary_key=True),
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True, index=True),
)


class Interview(LocatedMixin, Model):
    """An interview; who else was there and the interpreter are sealed under the witness's key."""

    __tablename__ = "interviews"
    __resource_type__ = "interview"
    # Searches filter plain columns: conducted_after/before here, language below, and witness_id
    # by its own index.
    __table_args__ = (Index("ix_interviews_case_conducted", "case_id", "conducted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    conducted_at: Mapped[datetime]
    location_name: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    location_precision_m: Mapped[int | None]
    language: Mapped[str] = mapped_column(String(35))
    # {"interpreter", "others_present"} as JSON, sealed; all None when there is neither.
    sealed_freetext = SealedField("freetext", "interview free text")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    incidents: Mapped[list[Incident]] = relationship(secondary=interview_incidents, order_by=Incident.id)

    @property
    def incident_ids(self) -> list[int]:
        return [incident.id for incident in self.incidents]

    @sealed_freetext.context
    def freetext_context(self) -> bytes:
        return bind("interview_free_text", self.id, parents={"case": self.case_id, "witness": self.witness_id})

    def key_subject(self) -> str:
        return witness_subject(self.witness_id)

    def custody_target(self) -> Target:
        return Target(
            self.__resource_type__,
            self.id,
            case_id=self.case_id,
            owner_id=self.interviewer_id,
            witness_id=self.witness_id,
        )


# language= matches BCP 47 tags whatever their letters' case (they are case-insensitive), a page
# in id order.
Index("ix_interviews_case_language", Interview.case_id, func.lower(Interview.language), Interview.id)
