from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from casework.access.targets import Target
from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField, witness_subject

UPLOADING, COMPLETE, EXPIRED, TERMINATED = "uploading", "complete", "expired", "terminated"
KINDS = ("audio", "video", "photo", "document", "other")


class Exhibit(Model):
    """One exhibit of an interview or an incident; its content is chunks in a blob store.

    The row exists from the upload's creation (``status`` uploading) and becomes immutable
    when the last byte arrives (complete); an upload never completed ends expired (past its
    Upload-Expires) or terminated (cancelled by tus termination), its chunks and data key gone.
    The content is encrypted in chunks (``casework.crypto.stream``) under a per-exhibit data
    key; the data key itself is sealed in ``sealed_datakey`` under the witness's subject key
    (interview exhibits: consent withdrawal shreds it) or under the KEK (incident exhibits:
    rotation rewraps it). The original file name and the device hash are sealed in
    ``sealed_freetext``, and from completion the content's plain SHA-256 beside them (for readers of
    the content: ``Repr-Digest``, the case file). ``keyed_sha256`` is what metadata readers and
    the log see; the plain SHA-256 is in the clear only in the uploader's receipt.
    """

    __tablename__ = "exhibits"
    __resource_type__ = "exhibit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("witnesses.id"), index=True)
    # Whoever the SPEC calls the owner: the interview's interviewer, or an incident exhibit's uploader.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str | None] = mapped_column(String(100))  # a registered type, judged at completion
    size: Mapped[int] = mapped_column(BigInteger)  # Upload-Length
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # Upload-Offset acknowledged
    chunk_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=UPLOADING, index=True)
    blob_store: Mapped[str] = mapped_column(String(16))
    blob_key: Mapped[str] = mapped_column(String(64), unique=True)
    keyed_sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    captured_at: Mapped[datetime | None]
    sealed_datakey = SealedField("datakey", "exhibit data keys", required=True)
    # {"filename", "device_hash"} as JSON, sealed; all None when there is neither.
    sealed_freetext = SealedField("freetext", "exhibit free text")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def _parents(self) -> dict[str, str | int]:
        parents: dict[str, str | int] = {"case": self.case_id}
        if self.interview_id is not None:
            parents["interview"] = self.interview_id
        if self.incident_id is not None:
            parents["incident"] = self.incident_id
        if self.witness_id is not None:
            parents["witness"] = self.witness_id
        return parents

    def content_context(self) -> bytes:
        """Where the chunks belong: their associated data binds this (and the blob key)."""
        return bind("exhibit_content", f"{self.id}/{self.blob_key}", parents=self._parents())

    @sealed_datakey.context
    def datakey_context(self) -> bytes:
        return bind("exhibit_data_key", self.id, parents=self._parents())

    @sealed_freetext.context
    def freetext_context(self) -> bytes:
        return bind("exhibit_free_text", self.id, parents=self._parents())

    def key_subject(self) -> str | None:
        """Interview exhibits belong to the witness (their key); incident exhibits to the KEKs."""
        return witness_subject(self.witness_id) if self.witness_id is not None else None

    @property
    def shredded(self) -> bool:
        return self.sealed_datakey.shredded

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    def custody_target(self) -> Target:
        return Target(
            self.__resource_type__, self.id, case_id=self.case_id, owner_id=self.owner_id, witness_id=self.witness_id
        )
