"""Erasures of a witness's records, and the legal holds that keep them from being destroyed.

An ``Erasure`` is opened by a consent withdrawal (``origin`` "withdrawal", the consent version
that withdrew). While it is ``pending`` the witness's key is suspended (see
``casework.witnesses.suspension``); a second person ``confirmed`` it (the key was destroyed) or
``rejected`` it as recorded in error (a new consent version restored access). At most one
erasure of a witness is pending at a time (a partial unique index, beside the witness lock).

A ``LegalHold`` names a court order; while any hold of the witness is active (not lifted),
no erasure of theirs can be confirmed. Lifting needs two different lawyers: the first asks
(``lift_requested_*``), a second approves (``lifted_*``).

The free text here (a rejection's reason, a hold's court order reference) is sealed under the
KEK, not the witness's key: it must stay readable while the witness's key is suspended, and the
holds must outlive the erasure as the record of why it waited. Rejection reasons, which are
about the witness, are shredded (their wrapped keys dropped) when an erasure is confirmed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField

PENDING, CONFIRMED, REJECTED = "pending", "confirmed", "rejected"
STATUSES = (PENDING, CONFIRMED, REJECTED)
WITHDRAWAL = "withdrawal"


class Erasure(Model):
    __tablename__ = "erasures"
    __table_args__ = (
        Index("ix_erasures_status_deadline", "status", "deadline"),
        Index(
            "uq_erasures_pending_witness",
            "witness_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    origin: Mapped[str] = mapped_column(String(16), default=WITHDRAWAL)
    consent_version: Mapped[int | None]  # the consent version that withdrew
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime]  # requested_at + CASEWORK_ERASURE_DELAY: overdue after it, never destroyed by it
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    restored_consent_version: Mapped[int | None]  # a rejection's new consent version
    sealed_reason = SealedField("reason", "erasure rejection reasons")

    @sealed_reason.context
    def reason_context(self) -> bytes:
        return bind("erasure_reason", self.id, parents={"case": self.case_id, "witness": self.witness_id})

    def overdue(self, now: datetime) -> bool:
        return self.status == PENDING and self.deadline < now


class LegalHold(Model):
    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    lift_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_requested_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None]
    sealed_reference = SealedField("reference", "legal hold court order references")

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    @property
    def status(self) -> str:
        return "active" if self.active else "lifted"

    @sealed_reference.context
    def reference_context(self) -> bytes:
        return bind("legal_hold_reference", self.id, parents={"case": self.case_id, "witness": self.witness_id})
