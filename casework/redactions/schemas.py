from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.fields import HexBytes
from casework.http import EXAMPLE_DIGEST
from casework.pagination import PageArgs

# Categories after the ICC's redaction practice (who or what a redaction protects).
CATEGORIES = (
    "witness_identity",  # the witness, or what would identify them
    "family_identity",  # their family members
    "third_party_identity",  # other persons at risk
    "intermediary_identity",  # intermediaries
    "staff_identity",  # investigators, interpreters, staff
    "location",  # places (residences, interview sites, safe houses)
    "ongoing_investigation",  # would prejudice further or ongoing investigations
    "privileged",  # privileged or internal work product
    "other",
)
MAX_SPANS = 10_000
# Examples: a lawyer redacts the witness's street from version 2 of W-0001's statement.
SPAN_EXAMPLE = {"start": 64, "end": 86, "category": "location", "legal_basis": "Rule 81(4) RPE"}
REDACTED_TEXT_EXAMPLE = (
    "Interviewer: Where were you on the morning of 3 March?\nW-0001: At [REDACTED:location] outside the market.\n"
)
SEGMENT_EXAMPLE = {
    "start": 0,
    "end": 64,
    "byte_start": 0,
    "byte_end": 64,
    "out_start": 0,
    "out_end": 64,
    "salt": "63479ad69a090b258277ec8fba6f9941",
    "sha256": EXAMPLE_DIGEST,
}


class SpanSchema(Schema):
    start = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={
            "description": "First redacted character: a Unicode code point offset "
            "into the source text decoded from UTF-8.",
            "example": SPAN_EXAMPLE["start"],
        },
    )
    end = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={
            "description": "One past the last redacted code point (end > start).",
            "example": SPAN_EXAMPLE["end"],
        },
    )
    category = fields.String(
        required=True, validate=validate.OneOf(CATEGORIES), metadata={"example": SPAN_EXAMPLE["category"]}
    )
    legal_basis = fields.String(
        required=True,
        validate=validate.Length(min=1, max=300),
        metadata={
            "description": "The rule relied on (e.g. 'Rule 81(4) RPE'); stored in clear, so never witness data.",
            "example": SPAN_EXAMPLE["legal_basis"],
        },
    )


class RedactionCreateSchema(Schema):
    spans = fields.List(fields.Nested(SpanSchema), required=True, validate=validate.Length(min=1, max=MAX_SPANS))


class SegmentSchema(Schema):
    start = fields.Integer(metadata={"description": "code point offset in the source text"})
    end = fields.Integer()
    byte_start = fields.Integer(metadata={"description": "byte offset in the source's UTF-8 bytes"})
    byte_end = fields.Integer()
    out_start = fields.Integer(metadata={"description": "code point offset in the redacted text"})
    out_end = fields.Integer()
    salt = fields.String(metadata={"description": "hex, 16 random bytes, one per segment"})
    sha256 = fields.String(metadata={"description": "hex SHA-256(salt || UTF-8 bytes of the segment)"})


class RedactionSchema(Schema):
    """Metadata and the redaction map: positions, categories and legal bases; never removed text."""

    id = fields.Integer()
    case_id = fields.Integer()
    interview_id = fields.Integer()
    witness_id = fields.Integer()
    source_version = fields.Integer(metadata={"example": 2})
    source_ref = fields.String(metadata={"description": "<interview id>/<version> of the source", "example": "7/2"})
    number = fields.Integer(metadata={"description": "1, 2, ... per source version", "example": 1})
    spans = fields.List(fields.Nested(SpanSchema))
    size = fields.Integer(metadata={"example": len(REDACTED_TEXT_EXAMPLE.encode())})
    keyed_sha256 = HexBytes(
        metadata={
            "description": "hex HMAC-SHA256 of the redacted text under the witness's hash key (as in the custody log)"
        }
    )
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    shredded = fields.Boolean()


class RedactionContentSchema(RedactionSchema):
    """For the case's lawyers: the redacted text and the salted hashes of what was left in."""

    text = fields.String(
        metadata={
            "description": "The redacted text; each span is '[REDACTED:<category>]'.",
            "example": REDACTED_TEXT_EXAMPLE,
        }
    )
    sha256 = HexBytes(metadata={"description": "hex SHA-256 of the redacted text's UTF-8 bytes"})
    segments = fields.List(
        fields.Nested(SegmentSchema),
        metadata={
            "description": "Each unredacted segment of the source, with a salted hash a holder of the "
            "original can recompute: SHA-256(salt || source_utf8[byte_start:byte_end]).",
            "example": [SEGMENT_EXAMPLE],
        },
    )


class RedactionPageArgs(PageArgs):
    pass
