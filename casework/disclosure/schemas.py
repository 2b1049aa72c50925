from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.disclosure.models import ITEM_KINDS, RECIPIENT_KINDS
from casework.fields import HexBytes
from casework.http import ID_RANGE
from casework.pagination import PageArgs

MAX_ITEMS = 5000
# The fields that name an item, per kind; exactly these and ``kind`` may be sent.
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "transcript_version": ("interview_id", "version"),
    "redaction": ("redaction_id",),
    "exhibit": ("exhibit_id",),
    "incident": ("incident_id",),
    "witness_identity": ("witness_id",),
}


def _id(description: str) -> fields.Integer:
    return fields.Integer(strict=True, validate=ID_RANGE, metadata={"description": description})


class RecipientSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    organisation = fields.String(required=True, validate=validate.Length(min=1, max=300))
    kind = fields.String(required=True, validate=validate.OneOf(RECIPIENT_KINDS), metadata={
        "description": "prosecutor, defence, court (a chamber), un_body, other; decides which consent is needed"})


class ItemRequestSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(ITEM_KINDS))
    interview_id = _id("transcript_version: the interview")
    version = _id("transcript_version: the version number")
    redaction_id = _id("redaction")
    exhibit_id = _id("exhibit")
    incident_id = _id("incident")
    witness_id = _id("witness_identity: the witness whose protected identity is asked for")

    @validates_schema(skip_on_field_errors=True)
    def _names_one_item(self, data: dict[str, Any], **_: Any) -> None:
        wanted = set(ITEM_FIELDS[data["kind"]])
        given = set(data) - {"kind"}
        errors = {name: ["Required for this kind."] for name in wanted - given}
        errors.update({name: ["Not a field of this kind."] for name in given - wanted})
        if errors:
            raise ValidationError(errors)


class DisclosureCreateSchema(Schema):
    recipient = fields.Nested(RecipientSchema, required=True)
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "Why, under which proceedings or request; sealed, shown to the case's lawyers only"})
    include_identity = fields.Boolean(load_default=False, metadata={
        "description": "The explicit request to release witness identities (witness_identity items), "
                       "honoured only where the witness consented to disclose it"})
    include_staff_identity = fields.Boolean(load_default=False, metadata={
        "description": "A court only: the bundle's custody trail names staff instead of per-disclosure "
                       "pseudonyms. Needs a second lawyer's approval."})
    items = fields.List(fields.Nested(ItemRequestSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_ITEMS))


class RecipientOutSchema(Schema):
    name = fields.String()
    organisation = fields.String()
    kind = fields.String()


class ItemSchema(Schema):
    position = fields.Integer()
    kind = fields.String()
    item_ref = fields.String(metadata={"description": "as the custody log names the resource"})
    resource_type = fields.String()
    witness_id = fields.Integer(allow_none=True)
    decision = fields.String(metadata={"description": "included or excluded"})
    reason = fields.String(metadata={"description": "code from casework.disclosure.rules; never content"})
    consent_version = fields.Integer(allow_none=True, metadata={"description": "the witness's consent version used"})
    registration_number = fields.String(allow_none=True, metadata={
        "description": "evidence registration number; the same for the same item in every disclosure"})


class UnusedRedactionSchema(Schema):
    position = fields.Integer(metadata={"description": "the item's position in the disclosure"})
    item_ref = fields.String(metadata={"description": "the transcript version sent unredacted"})
    redaction_ids = fields.List(fields.Integer(), metadata={"description": "its redactions not disclosed here"})


class BundleFileSchema(Schema):
    length = fields.Integer(attribute="bundle_length", metadata={"description": "bytes of the zip"})
    sha256 = HexBytes(attribute="bundle_sha256", metadata={"description": "SHA-256 of the zip (its ETag)"})
    checkpoint_size = fields.Integer(attribute="bundle_tree_size",
                                     metadata={"description": "the checkpoint every proof in it points to"})
    frozen_at = fields.DateTime(attribute="bundle_frozen_at", metadata={"description": "first download"})


class DisclosureSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    recipient = fields.Nested(RecipientOutSchema)
    purpose = fields.String(allow_none=True, metadata={"description": "null unless the caller is a lawyer of the case"})
    include_identity = fields.Boolean()
    include_staff_identity = fields.Boolean()
    included_count = fields.Integer()
    excluded_count = fields.Integer()
    status = fields.String(metadata={"description": "pending (a second lawyer must approve) or approved"})
    approval_reasons = fields.List(fields.String(), allow_none=True, metadata={
        "description": "why a second lawyer was needed: witness_identity, redacted_source, defence, staff_identity "
                       "(null: made before the rule)"})
    proposed_by_id = fields.Integer(attribute="created_by_id", dump_only=True,
                                    metadata={"description": "the lawyer who proposed it"})
    created_by_id = fields.Integer(metadata={"description": "the same as proposed_by_id"})
    approved_by_id = fields.Integer(allow_none=True, metadata={"description": "the second lawyer, once approved"})
    approved_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    bundle = fields.Method("_bundle", metadata={"description": "the bundle file once first downloaded, else null"})
    unused_redactions = fields.List(fields.Nested(UnusedRedactionSchema), metadata={
        "description": "in the answers to create and approve: transcript versions sent unredacted although a "
                       "redaction of them exists"})
    items = fields.List(fields.Nested(ItemSchema))

    def _bundle(self, disclosure: Any) -> dict[str, Any] | None:
        return BundleFileSchema().dump(disclosure) if disclosure.frozen else None


class DisclosurePageArgs(PageArgs):
    pass


class DisclosureReadArgs(Schema):
    include = fields.String(validate=validate.OneOf(["purpose"]),
                            metadata={"description": "purpose: also return the sealed purpose (lawyers; logged)."})
