from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.fields import FreeText, FreeTextSchema, HexBytes
from casework.pagination import PageArgs

REASON = validate.Length(min=1, max=2000)
STATEMENT_EXAMPLE = (
    "Interviewer: Where were you on the morning of 3 March?\n"
    "W-0001: At the bread queue outside the market on Heroiv Pratsi Street. The first shell "
    "landed at about 07:40, then two more within a minute.\n"
)
REASON_EXAMPLE = "Corrected the time of the first strike after the witness reviewed the transcript."
SIZE_EXAMPLE = len(STATEMENT_EXAMPLE.encode())
CUSTODY_EXAMPLE = {
    "status": "published",
    "seq": 1187,
    "tree_size": 1203,
    "checkpoint": "casework.local/custody\n1203\n...",
    "inclusion_proof": ["9f2c...", "04ab..."],
}
_FREE_TEXT = "null once shredded, and for those who may not read this interview's statements"


class TimeCodeSchema(Schema):
    segment = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=10**6),
        metadata={"description": "index of the transcript segment (e.g. its line)", "example": 1},
    )
    start_ms = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10), metadata={"example": 84200})
    end_ms = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10), metadata={"example": 97850})

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data["end_ms"] < data["start_ms"]:
            raise ValidationError("end_ms is before start_ms.", field_name="end_ms")


class DerivedFromSchema(Schema):
    exhibit_id = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "a complete exhibit of the same interview"},
    )
    time_codes = fields.List(fields.Nested(TimeCodeSchema), load_default=list, validate=validate.Length(max=10000))


class TranslationOfSchema(Schema):
    version = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the version of this interview's transcript translated", "example": 1},
    )
    translator = fields.String(
        required=True,
        validate=validate.Length(min=1, max=300),
        metadata={"description": "sealed like other free text", "example": "T. Kovalenko"},
    )
    method = fields.String(required=True, validate=validate.OneOf(["human", "machine"]))
    certified = fields.Boolean(required=True, metadata={"example": True})


class TranscriptJsonSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1), metadata={"example": STATEMENT_EXAMPLE})
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=REASON,
        metadata={
            "description": "Required for corrections (version 2 and later); a derived "
            "version (transcription of an exhibit, translation) needs none.",
            "example": REASON_EXAMPLE,
        },
    )
    derived_from = fields.Nested(
        DerivedFromSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "the exhibit this version transcribes, with time codes", "example": None},
    )
    translation_of = fields.Nested(
        TranslationOfSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "the version this one translates", "example": None},
    )

    @validates_schema
    def _one_lineage(self, data, **kwargs):
        if data.get("derived_from") and data.get("translation_of"):
            raise ValidationError(
                "A version derives from an exhibit or translates a version, not both.", field_name="translation_of"
            )


class TranscriptQueryArgs(Schema):
    reason = fields.String(validate=REASON, metadata={"description": "Correction reason for text/plain uploads."})


class TranscriptReceiptSchema(Schema):
    interview_id = fields.Integer()
    version = fields.Integer(metadata={"example": 2})
    size = fields.Integer(metadata={"example": SIZE_EXAMPLE})
    sha256 = fields.String(
        metadata={
            "description": "hex SHA-256 of the transcript bytes (only the uploader's "
            "receipt carries it; check it against what you sent)"
        }
    )
    keyed_sha256 = fields.String(
        metadata={
            "description": "hex HMAC-SHA256 of the transcript bytes under the witness's hash key: what transcript "
            "listings and the custody log show (absent from receipts issued before keyed hashes)"
        }
    )
    received_at = fields.String(metadata={"example": "2022-05-18T11:42:07.513204Z"})
    derived_from = fields.Dict(
        metadata={
            "description": "present for a transcription of an exhibit: exhibit_id, time_codes (count)",
            "example": {"exhibit_id": 4, "time_codes": 12},
        }
    )
    translation_of = fields.Dict(
        metadata={
            "description": "present for a translation: version, method, certified",
            "example": {"version": 1, "method": "human", "certified": True},
        }
    )
    merge_delay_ms = fields.Integer(
        metadata={"description": "the promise: the leaf is in the log within this delay", "example": 1000}
    )
    custody = fields.Dict(
        metadata={
            "description": "GET .../receipt only: status promised | integrated | published, with seq, tree_size, "
            "checkpoint and inclusion_proof once published",
            "example": CUSTODY_EXAMPLE,
        }
    )
    leaf_hash = fields.String(allow_none=True, metadata={"description": "hex leaf hash of the upload's custody event"})
    log_origin = fields.String(metadata={"example": "casework.local/custody"})
    signature = fields.String(
        metadata={
            "description": "base64 Ed25519 over 'casework-transcript-receipt-v2\\n' "
            "+ canonical JSON of the other fields"
        }
    )


ReceiptSchema = TranscriptReceiptSchema


class TranscriptVersionSchema(FreeTextSchema):
    interview_id = fields.Integer()
    version = fields.Integer(metadata={"example": 2})
    reason = FreeText(allow_none=True, metadata={"description": _FREE_TEXT, "example": REASON_EXAMPLE})
    media_type = fields.String(metadata={"example": "text/plain; charset=utf-8"})
    filename = FreeText(allow_none=True, metadata={"description": _FREE_TEXT, "example": "W-0001_statement_uk.txt"})
    size = fields.Integer(metadata={"example": SIZE_EXAMPLE})
    keyed_sha256 = HexBytes(
        allow_none=True,
        metadata={
            "description": "hex HMAC-SHA256 of the content under the witness's hash key (as in the custody log); "
            "it cannot be recomputed once the witness's key is destroyed"
        },
    )
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    shredded = fields.Boolean()
    custody_seq = fields.Integer(attribute="receipt.custody_seq", allow_none=True, metadata={"example": 1187})
    derived_from_exhibit_id = fields.Integer(allow_none=True, metadata={"example": None})
    time_codes = fields.List(fields.Nested(TimeCodeSchema), allow_none=True, metadata={"example": None})
    translation_of_version = fields.Integer(allow_none=True, metadata={"example": None})
    translation_method = fields.String(allow_none=True, metadata={"example": None})
    translation_certified = fields.Boolean(allow_none=True, metadata={"example": None})
    translator = FreeText(allow_none=True, metadata={"description": _FREE_TEXT, "example": None})


class TranscriptContentSchema(TranscriptVersionSchema):
    sha256 = HexBytes(metadata={"description": "hex SHA-256 of the content released"})
    text = fields.Function(lambda version: version.content.decode("utf-8"), metadata={"example": STATEMENT_EXAMPLE})


class VersionPageArgs(PageArgs):
    pass


class ReadArgs(Schema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "raw"]),
        metadata={"description": "raw: the exact bytes uploaded, with Content-Digest."},
    )
