from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.targets import Target
from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField, witness_subject


class Witness(Model):
    """A witness; their key (``witness:<id>``) lives in the keyring provider, outside the database.

    Everything that belongs to the witness (identity, transcripts, free text about them, and
    the key of their content hashes) is sealed under it; a confirmed erasure (a withdrawal, then
    a second person's confirmation) destroys it.
    """

    __tablename__ = "witnesses"
    __resource_type__ = "witness"
    __subject_owner__ = True
    __table_args__ = (UniqueConstraint("case_id", "pseudonym", name="uq_witnesses_case_pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(16))
    witness_type: Mapped[str] = mapped_column(String(32))
    risk_level: Mapped[str] = mapped_column(String(16))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Protected identity {full_name, contact, date_of_birth, notes}: envelope-encrypted JSON.
    sealed_identity = SealedField("identity", "witness identities")
    # The witness's random HMAC key for keyed content hashes, sealed under their subject key.
    sealed_hashkey = SealedField("hashkey", "witness hash keys")
    shredded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    consents: Mapped[list[ConsentRecord]] = relationship(
        order_by="ConsentRecord.version.desc()", lazy="selectin", viewonly=True
    )

    @property
    def consent(self) -> ConsentRecord | None:
        """The consent in force: the latest version."""
        return self.consents[0] if self.consents else None

    @sealed_identity.context
    def identity_context(self) -> bytes:
        return bind("witness_identity", self.id, parents={"case": self.case_id})

    @sealed_hashkey.context
    def hashkey_context(self) -> bytes:
        return bind("witness_hash_key", self.id, parents={"case": self.case_id})

    def key_subject(self) -> str:
        return witness_subject(self.id)

    @property
    def identity_status(self) -> str:
        if not self.sealed_identity.present:
            return "none"
        return "shredded" if self.sealed_identity.shredded else "present"

    def custody_target(self) -> Target:
        return Target(
            self.__resource_type__, self.id, case_id=self.case_id, owner_id=self.recorded_by_id, witness_id=self.id
        )


class ConsentRecord(Model):
    """Versioned consent: each change is a new version; the latest one is in force."""

    __tablename__ = "consent_records"
    __table_args__ = (UniqueConstraint("witness_id", "version", name="uq_consent_records_witness_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), index=True)
    version: Mapped[int]
    scopes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    given_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
