from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.crypto.envelope import bind
from casework.db import Model, utcnow


class TranscriptVersion(Model):
    """One immutable version; a correction is a new row with a reason, never an update."""

    __tablename__ = "transcript_versions"
    __protected__ = {"content_": "transcript versions"}
    __table_args__ = (
        UniqueConstraint("interview_id", "version", name="uq_transcript_versions_interview_version"),
        UniqueConstraint("created_by_id", "idempotency_key", name="uq_transcript_versions_idempotency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    version: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(2000))
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    content_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    content_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    content_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_kek_id: Mapped[str] = mapped_column(String(32), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def content_context(self) -> bytes:
        return bind("transcript_version", f"{self.interview_id}/{self.version}",
                    parents={"case": self.case_id, "interview": self.interview_id, "witness": self.witness_id},
                    version=self.version)

    @property
    def shredded(self) -> bool:
        return self.content_wrapped_key is None
