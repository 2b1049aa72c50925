from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField, witness_subject


class TranscriptVersion(Model):
    """One immutable version; a correction is a new row with a reason, never an update.

    The content and the free text (file name, correction reason) are sealed under the witness's
    key. ``keyed_sha256`` is HMAC-SHA256 of the content under the witness's hash key (see
    ``Witness.sealed_hashkey``): what metadata readers and the log see; the plain SHA-256 goes only to
    the uploader's receipt and to readers of the content. ``receipt`` is kept without its
    ``sha256`` (a replay puts it back from the resent content).
    """

    __tablename__ = "transcript_versions"
    __table_args__ = (
        UniqueConstraint("interview_id", "version", name="uq_transcript_versions_interview_version"),
        UniqueConstraint("created_by_id", "idempotency_key", name="uq_transcript_versions_idempotency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    version: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    keyed_sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32))  # None: shredded before it existed
    sealed_content = SealedField("content", "transcript versions", required=True)
    # {"filename", "reason"} as JSON, sealed; all None when there is neither.
    sealed_freetext = SealedField("freetext", "transcript free text")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary(32))  # keyed, like keyed_sha256
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Lineage. A transcription of an exhibit, with time codes per segment [{segment, start_ms, end_ms}]:
    derived_from_exhibit_id: Mapped[int | None] = mapped_column(ForeignKey("exhibits.id"), index=True)
    time_codes: Mapped[Any] = mapped_column(JSON, nullable=True)
    # A translation of another version of the same interview (the translator's name is sealed free text):
    translation_of_version: Mapped[int | None]
    translation_method: Mapped[str | None] = mapped_column(String(16))  # human | machine
    translation_certified: Mapped[bool | None]

    @sealed_content.context
    def content_context(self) -> bytes:
        return bind(
            "transcript_version",
            f"{self.interview_id}/{self.version}",
            parents={"case": self.case_id, "interview": self.interview_id, "witness": self.witness_id},
            version=self.version,
        )

    @sealed_freetext.context
    def freetext_context(self) -> bytes:
        return bind(
            "transcript_free_text",
            f"{self.interview_id}/{self.version}",
            parents={"case": self.case_id, "interview": self.interview_id, "witness": self.witness_id},
            version=self.version,
        )

    def key_subject(self) -> str:
        return witness_subject(self.witness_id)

    @property
    def shredded(self) -> bool:
        return self.sealed_content.shredded
