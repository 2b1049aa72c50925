"""Disclosures, the decision on each item, and the evidence registration numbers.

A disclosure is immutable once created: the register is the rows themselves (and the custody
log beside them). Item kinds and the custody resource each names:

==================  ====================  =====================================
kind                custody resource      item_ref
==================  ====================  =====================================
transcript_version  transcript            ``<interview id>/<version>``
redaction           redaction             ``<redaction id>``
exhibit             exhibit               ``<exhibit id>``
incident            incident              ``<incident id>``
witness_identity    witness               ``<witness id>``
==================  ====================  =====================================

(A translation is a transcript version that names its source; it is disclosed as a
``transcript_version``.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.access.targets import Target
from casework.crypto.envelope import bind
from casework.db import Model, utcnow
from casework.keys import SealedField

RECIPIENT_KINDS = ("prosecutor", "defence", "court", "un_body", "other")
ITEM_KINDS = ("transcript_version", "redaction", "exhibit", "incident", "witness_identity")
RESOURCE_OF_KIND = {
    "transcript_version": "transcript",
    "redaction": "redaction",
    "exhibit": "exhibit",
    "incident": "incident",
    "witness_identity": "witness",
}
INCLUDED, EXCLUDED = "included", "excluded"
PENDING, APPROVED = "pending", "approved"


class Disclosure(Model):
    """What went to whom, when and why; the purpose is sealed (it may name people).

    The purpose is sealed under the KEK, not a witness's key: a disclosure spans witnesses and
    its record must outlive any one witness's erasure.
    """

    __tablename__ = "disclosures"
    __resource_type__ = "disclosure"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient_name: Mapped[str] = mapped_column(String(300))
    recipient_organisation: Mapped[str] = mapped_column(String(300))
    recipient_kind: Mapped[str] = mapped_column(String(16))
    include_identity: Mapped[bool] = mapped_column(default=False)  # the explicit request for identities
    sealed_purpose = SealedField("purpose", "disclosure purposes")
    included_count: Mapped[int] = mapped_column(default=0)
    excluded_count: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The second lawyer (``rules.approval_reasons``): pending until another lawyer of the case
    # approves; NULL reasons on rows from before the rule, which one lawyer released.
    status: Mapped[str] = mapped_column(String(16), default=APPROVED, server_default=APPROVED, index=True)
    approval_reasons: Mapped[list[str] | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    # Staff names in the bundle's custody trail instead of pseudonyms: a court only, on request.
    include_staff_identity: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The bundle, frozen at its first download so every download is the same file.
    bundle_tree_size: Mapped[int | None]
    bundle_checkpoint: Mapped[str | None] = mapped_column(Text)
    bundle_witness_vkeys: Mapped[str | None] = mapped_column(Text)
    bundle_frozen_at: Mapped[datetime | None]
    bundle_length: Mapped[int | None] = mapped_column(BigInteger)
    bundle_sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    items: Mapped[list[DisclosureItem]] = relationship(
        order_by="DisclosureItem.position", lazy="selectin", viewonly=True
    )

    @property
    def recipient(self) -> dict[str, str]:
        return {"name": self.recipient_name, "organisation": self.recipient_organisation, "kind": self.recipient_kind}

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    @property
    def frozen(self) -> bool:
        return self.bundle_length is not None

    @sealed_purpose.context
    def purpose_context(self) -> bytes:
        return bind("disclosure_purpose", self.id, parents={"case": self.case_id})

    def custody_target(self) -> Target:
        return Target(self.__resource_type__, self.id, case_id=self.case_id)


class DisclosureItem(Model):
    """One requested item and the decision on it: included (with its number) or excluded, and why.

    ``reason`` is a code from ``casework.disclosure.rules`` (never content). ``consent_id`` /
    ``consent_version`` name the witness's consent record the decision was taken under (None for
    items with no witness, or a witness with no consent record).
    """

    __tablename__ = "disclosure_items"
    __table_args__ = (
        UniqueConstraint("disclosure_id", "position", name="uq_disclosure_items_disclosure_position"),
        UniqueConstraint("disclosure_id", "kind", "item_ref", name="uq_disclosure_items_disclosure_item"),
        Index("ix_disclosure_items_case_item", "case_id", "kind", "item_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    disclosure_id: Mapped[int] = mapped_column(ForeignKey("disclosures.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    position: Mapped[int]  # order in the request, from 0
    kind: Mapped[str] = mapped_column(String(32))
    item_ref: Mapped[str] = mapped_column(String(64))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("witnesses.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent_records.id"))
    consent_version: Mapped[int | None]
    registration_number: Mapped[str | None] = mapped_column(ForeignKey("evidence_registrations.number"), index=True)

    @property
    def resource_type(self) -> str:
        return RESOURCE_OF_KIND[self.kind]

    @property
    def included(self) -> bool:
        return self.decision == INCLUDED


class EvidenceRegistration(Model):
    """An item's evidence registration number: handed out the first time it is released, kept for good.

    Numbers are ``<case reference>-<sequence, 4+ digits>`` (``CASE<id>`` when the case has no
    reference); the sequence counts per case under the case row lock, and the unique
    constraints make a second number for an item, or a number for two items, impossible.
    """

    __tablename__ = "evidence_registrations"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "item_ref", name="uq_evidence_registrations_case_item"),
        UniqueConstraint("case_id", "sequence", name="uq_evidence_registrations_case_sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(32))
    item_ref: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(100), unique=True)
    first_disclosure_id: Mapped[int] = mapped_column(ForeignKey("disclosures.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
