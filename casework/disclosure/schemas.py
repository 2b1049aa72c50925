from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.disclosure.models import ITEM_KINDS, RECIPIENT_KINDS
from casework.fields import HexBytes
from casework.http import EXAMPLE_DIGEST, ID_RANGE
from casework.pagination import PageArgs

MAX_ITEMS = 5000
# Examples: statements and an incident disclosed to a prosecutor's office.
RECIPIENT_EXAMPLE = {
    "name": "Investigations Division",
    "organisation": "Office of the Prosecutor General of Ukraine",
    "kind": "prosecutor",
}
PURPOSE_EXAMPLE = "Request for assistance no. 22/4417 (shelling of Saltivka, 3 March 2022)"
ITEMS_EXAMPLE = [
    {"kind": "transcript_version", "interview_id": 7, "version": 2},
    {"kind": "incident", "incident_id": 1},
]
# The fields that name an item, per kind; exactly these and ``kind`` may be sent.
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "transcript_version": ("interview_id", "version"),
    "redaction": ("redaction_id",),
    "exhibit": ("exhibit_id",),
    "incident": ("incident_id",),
    "witness_identity": ("witness_id",),
}


def _id(description: str, example: int) -> fields.Integer:
    return fields.Integer(strict=True, validate=ID_RANGE, metadata={"description": description, "example": example})


class RecipientSchema(Schema):
    name = fields.String(
        required=True, validate=validate.Length(min=1, max=300), metadata={"example": RECIPIENT_EXAMPLE["name"]}
    )
    organisation = fields.String(
        required=True, validate=validate.Length(min=1, max=300), metadata={"example": RECIPIENT_EXAMPLE["organisation"]}
    )
    kind = fields.String(
        required=True,
        validate=validate.OneOf(RECIPIENT_KINDS),
        metadata={
            "description": "prosecutor, defence, court (a chamber), un_body, other; decides which consent is needed",
            "example": RECIPIENT_EXAMPLE["kind"],
        },
    )


class ItemRequestSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(ITEM_KINDS))
    interview_id = _id("transcript_version: the interview", 7)
    version = _id("transcript_version: the version number", 2)
    redaction_id = _id("redaction", 3)
    exhibit_id = _id("exhibit", 4)
    incident_id = _id("incident", 1)
    witness_id = _id("witness_identity: the witness whose protected identity is asked for", 1)

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
    purpose = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "Why, under which proceedings or request; sealed, shown to the case's lawyers only",
            "example": PURPOSE_EXAMPLE,
        },
    )
    include_identity = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The explicit request to release witness identities (witness_identity items), "
            "honoured only where the witness consented to disclose it"
        },
    )
    include_staff_identity = fields.Boolean(
        load_default=False,
        metadata={
            "description": "A court only: the bundle's custody trail names staff instead of per-disclosure "
            "pseudonyms. Needs a second lawyer's approval."
        },
    )
    items = fields.List(
        fields.Nested(ItemRequestSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_ITEMS),
        metadata={"example": ITEMS_EXAMPLE},
    )


class RecipientOutSchema(Schema):
    name = fields.String(metadata={"example": RECIPIENT_EXAMPLE["name"]})
    organisation = fields.String(metadata={"example": RECIPIENT_EXAMPLE["organisation"]})
    kind = fields.String(metadata={"example": RECIPIENT_EXAMPLE["kind"]})


class ItemSchema(Schema):
    position = fields.Integer(metadata={"example": 0})
    kind = fields.String(metadata={"example": "transcript_version"})
    item_ref = fields.String(metadata={"description": "as the custody log names the resource", "example": "7/2"})
    resource_type = fields.String(metadata={"example": "transcript_version"})
    witness_id = fields.Integer(allow_none=True)
    decision = fields.String(metadata={"description": "included or excluded", "example": "included"})
    reason = fields.String(
        metadata={
            "description": "code from casework.disclosure.rules; never content",
            "example": "consent:share_with_prosecutors",
        }
    )
    consent_version = fields.Integer(
        allow_none=True, metadata={"description": "the witness's consent version used", "example": 1}
    )
    registration_number = fields.String(
        allow_none=True,
        metadata={
            "description": "evidence registration number; the same for the same item in every disclosure",
            "example": "COI-UKR/2022/003-0017",
        },
    )


class UnusedRedactionSchema(Schema):
    position = fields.Integer(metadata={"description": "the item's position in the disclosure", "example": 0})
    item_ref = fields.String(metadata={"description": "the transcript version sent unredacted", "example": "7/2"})
    redaction_ids = fields.List(
        fields.Integer(), metadata={"description": "its redactions not disclosed here", "example": [3]}
    )


class BundleFileSchema(Schema):
    length = fields.Integer(attribute="bundle_length", metadata={"description": "bytes of the zip"})
    sha256 = HexBytes(attribute="bundle_sha256", metadata={"description": "SHA-256 of the zip (its ETag)"})
    checkpoint_size = fields.Integer(
        attribute="bundle_tree_size", metadata={"description": "the checkpoint every proof in it points to"}
    )
    frozen_at = fields.DateTime(attribute="bundle_frozen_at", metadata={"description": "first download"})


class DisclosureSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    recipient = fields.Nested(RecipientOutSchema)
    purpose = fields.String(
        allow_none=True,
        metadata={"description": "null unless the caller is a lawyer of the case", "example": PURPOSE_EXAMPLE},
    )
    include_identity = fields.Boolean()
    include_staff_identity = fields.Boolean()
    included_count = fields.Integer(metadata={"example": 2})
    excluded_count = fields.Integer(metadata={"example": 0})
    status = fields.String(
        metadata={"description": "pending (a second lawyer must approve) or approved", "example": "approved"}
    )
    approval_reasons = fields.List(
        fields.String(),
        allow_none=True,
        metadata={
            "description": "why a second lawyer was needed: witness_identity, redacted_source, defence, staff_identity "
            "(null: made before the rule)",
            "example": [],
        },
    )
    proposed_by_id = fields.Integer(
        attribute="created_by_id", dump_only=True, metadata={"description": "the lawyer who proposed it"}
    )
    created_by_id = fields.Integer(metadata={"description": "the same as proposed_by_id"})
    approved_by_id = fields.Integer(allow_none=True, metadata={"description": "the second lawyer, once approved"})
    approved_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    bundle = fields.Method(
        "_bundle",
        metadata={
            "description": "the bundle file once first downloaded, else null",
            "example": {
                "length": 734_208,
                "sha256": EXAMPLE_DIGEST,
                "checkpoint_size": 1203,
                "frozen_at": "2022-06-02T09:15:00Z",
            },
        },
    )
    unused_redactions = fields.List(
        fields.Nested(UnusedRedactionSchema),
        metadata={
            "description": "in the answers to create and approve: transcript versions sent unredacted although a "
            "redaction of them exists"
        },
    )
    items = fields.List(fields.Nested(ItemSchema))

    def _bundle(self, disclosure: Any) -> dict[str, Any] | None:
        return BundleFileSchema().dump(disclosure) if disclosure.frozen else None


class DisclosurePageArgs(PageArgs):
    pass


class DisclosureReadArgs(Schema):
    include = fields.String(
        validate=validate.OneOf(["purpose"]),
        metadata={"description": "purpose: also return the sealed purpose (lawyers; logged)."},
    )
