from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.fields import FreeText, FreeTextSchema, HexBytes
from casework.pagination import PageArgs

REASON = validate.Length(min=1, max=2000)
_FREE_TEXT = "null once shredded, and for those who may not read this interview's statements"


class TimeCodeSchema(Schema):
    segment = fields.Integer(required=True, validate=validate.Range(min=0, max=10**6),
                             metadata={"description": "index of the transcript segment (e.g. its line)"})
    start_ms = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10))
    end_ms = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data["end_ms"] < data["start_ms"]:
            raise ValidationError("end_ms is before start_ms.", field_name="end_ms")


class DerivedFromSchema(Schema):
    exhibit_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1),
                                metadata={"description": "a complete exhibit of the same interview"})
    time_codes = fields.List(fields.Nested(TimeCodeSchema), load_default=list, validate=validate.Length(max=10000))


class TranslationOfSchema(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "the version of this interview's transcript translated"})
    translator = fields.String(required=True, validate=validate.Length(min=1, max=300),
                               metadata={"description": "sealed like other free text"})
    method = fields.String(required=True, validate=validate.OneOf(["human", "machine"]))
    certified = fields.Boolean(required=True)


class TranscriptJsonSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1))
    reason = fields.String(load_default=None, allow_none=True, validate=REASON,
                           metadata={"description": "Required for corrections (version 2 and later); a derived "
                                                    "version (transcription of an exhibit, translation) needs none."})
    derived_from = fields.Nested(DerivedFromSchema, load_default=None, allow_none=True,
                                 metadata={"description": "the exhibit this version transcribes, with time codes"})
    translation_of = fields.Nested(TranslationOfSchema, load_default=None, allow_none=True,
                                   metadata={"description": "the version this one translates"})

    @validates_schema
    def _one_lineage(self, data, **kwargs):
        if data.get("derived_from") and data.get("translation_of"):
            raise ValidationError("A version derives from an exhibit or translates a version, not both.",
                                  field_name="translation_of")


class TranscriptQueryArgs(Schema):
    reason = fields.String(validate=REASON, metadata={"description": "Correction reason for text/plain uploads."})


class ReceiptSchema(Schema):
    interview_id = fields.Integer()
    version = fields.Integer()
    size = fields.Integer()
    sha256 = fields.String(metadata={"description": "hex SHA-256 of the transcript bytes (only the uploader's "
                                                    "receipt carries it; check it against what you sent)"})
    keyed_sha256 = fields.String(metadata={
        "description": "hex HMAC-SHA256 of the transcript bytes under the witness's hash key: what transcript "
                       "listings and the custody log show (absent from receipts issued before keyed hashes)"})
    received_at = fields.String()
    derived_from = fields.Dict(metadata={"description": "present for a transcription of an exhibit: exhibit_id, "
                                                        "time_codes (count)"})
    translation_of = fields.Dict(metadata={"description": "present for a translation: version, method, certified"})
    merge_delay_ms = fields.Integer(metadata={"description": "the promise: the leaf is in the log within this delay"})
    custody = fields.Dict(metadata={
        "description": "GET .../receipt only: status promised | integrated | published, with seq, tree_size, "
                       "checkpoint and inclusion_proof once published"})
    leaf_hash = fields.String(allow_none=True, metadata={"description": "hex leaf hash of the upload's custody event"})
    log_origin = fields.String()
    signature = fields.String(metadata={"description": "base64 Ed25519 over 'casework-transcript-receipt-v2\\n' "
                                                       "+ canonical JSON of the other fields"})


class TranscriptVersionSchema(FreeTextSchema):
    interview_id = fields.Integer()
    version = fields.Integer()
    reason = FreeText(allow_none=True, metadata={"description": _FREE_TEXT})
    media_type = fields.String()
    filename = FreeText(allow_none=True, metadata={"description": _FREE_TEXT})
    size = fields.Integer()
    keyed_sha256 = HexBytes(allow_none=True, metadata={
        "description": "hex HMAC-SHA256 of the content under the witness's hash key (as in the custody log); "
                       "it cannot be recomputed once the witness's key is destroyed"})
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    shredded = fields.Boolean()
    custody_seq = fields.Integer(attribute="receipt.custody_seq", allow_none=True)
    derived_from_exhibit_id = fields.Integer(allow_none=True)
    time_codes = fields.List(fields.Nested(TimeCodeSchema), allow_none=True)
    translation_of_version = fields.Integer(allow_none=True)
    translation_method = fields.String(allow_none=True)
    translation_certified = fields.Boolean(allow_none=True)
    translator = FreeText(allow_none=True, metadata={"description": _FREE_TEXT})


class TranscriptContentSchema(TranscriptVersionSchema):
    sha256 = HexBytes(metadata={"description": "hex SHA-256 of the content released"})
    text = fields.Function(lambda version: version.content.decode("utf-8"))


class VersionPageArgs(PageArgs):
    pass


class ReadArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "raw"]),
                           metadata={"description": "raw: the exact bytes uploaded, with Content-Digest."})
