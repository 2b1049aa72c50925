from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.targets import Target
from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField, witness_subject
from casework.witnesses.models import Witness


class Redaction(Model):
    """A redacted derivative of one transcript version: immutable, with lineage to its source.

    ``spans`` is the redaction map as stored: ``[{start, end, category, legal_basis}]`` in
    Unicode code points of the source text, sorted; it never holds removed text. The redacted
    text (``sealed_content``) and the per-segment salted hashes of what was left (``sealed_segments``) are
    sealed under the witness's key like the source, so withdrawing consent shreds them too:
    salted hashes of the statement would otherwise let a guess be confirmed after erasure.
    ``keyed_sha256`` is HMAC-SHA256 of the redacted text under the witness's hash key, for
    metadata readers and the log.
    """

    __tablename__ = "redactions"
    __resource_type__ = "redaction"
    __table_args__ = (UniqueConstraint("source_version_id", "number", name="uq_redactions_source_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id"), index=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    source_version_id: Mapped[int] = mapped_column(ForeignKey("transcript_versions.id"), index=True)
    source_version: Mapped[int]  # the version number within the interview, as the URL names it
    number: Mapped[int]  # 1, 2, ... per source version (numbered under the witness lock)
    spans: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # list of dicts; no removed text
    size: Mapped[int]  # bytes of the redacted UTF-8 text
    keyed_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_content = SealedField("content", "redacted transcripts", required=True)
    sealed_segments = SealedField("segments", "redaction segment hashes", required=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    witness: Mapped[Witness] = relationship(lazy="selectin", viewonly=True)  # no join: rewrap locks rows

    @property
    def shredded(self) -> bool:
        """The witness's key is gone (consent withdrawn or erasure ordered), or this row's data keys."""
        return self.sealed_content.shredded or self.witness.shredded_at is not None

    @property
    def source_ref(self) -> str:
        """The source as the custody log names transcript versions: ``<interview id>/<version>``."""
        return f"{self.interview_id}/{self.source_version}"

    @property
    def place(self) -> str:
        """Where the derivative sits, bound into its ciphertexts: ``<interview>/<version>/r<number>``."""
        return f"{self.source_ref}/r{self.number}"

    def _parents(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "interview": self.interview_id,
            "witness": self.witness_id,
            "source": self.source_version_id,
        }

    @sealed_content.context
    def content_context(self) -> bytes:
        return bind("redaction", self.place, parents=self._parents())

    @sealed_segments.context
    def segments_context(self) -> bytes:
        return bind("redaction_segments", self.place, parents=self._parents())

    def key_subject(self) -> str:
        return witness_subject(self.witness_id)

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, case_id=self.case_id, witness_id=self.witness_id)
