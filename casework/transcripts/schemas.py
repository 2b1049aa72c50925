from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.fields import HexBytes
from casework.pagination import PageArgs

REASON = validate.Length(min=1, max=2000)


class TranscriptJsonSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1))
    reason = fields.String(load_default=None, allow_none=True, validate=REASON,
                           metadata={"description": "Required for corrections (version 2 and later)."})


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
    custody_seq = fields.Integer(allow_none=True)
    leaf_hash = fields.String(allow_none=True, metadata={"description": "hex leaf hash of the upload's custody event"})
    log_origin = fields.String()
    signature = fields.String(metadata={"description": "base64 Ed25519 over 'casework-transcript-receipt-v1\\n' "
                                                       "+ canonical JSON of the other fields"})


class TranscriptVersionSchema(Schema):
    interview_id = fields.Integer()
    version = fields.Integer()
    reason = fields.String(allow_none=True, metadata={"description": "null once shredded"})
    media_type = fields.String()
    filename = fields.String(allow_none=True, metadata={"description": "null once shredded"})
    size = fields.Integer()
    keyed_sha256 = HexBytes(allow_none=True, metadata={
        "description": "hex HMAC-SHA256 of the content under the witness's hash key (as in the custody log); "
                       "it cannot be recomputed once the witness's key is destroyed"})
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    shredded = fields.Boolean()
    custody_seq = fields.Integer(attribute="receipt.custody_seq", allow_none=True)


class TranscriptContentSchema(TranscriptVersionSchema):
    sha256 = HexBytes(metadata={"description": "hex SHA-256 of the content released"})
    text = fields.Function(lambda version: version.content.decode("utf-8"))


class VersionPageArgs(PageArgs):
    pass


class ReadArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "raw"]),
                           metadata={"description": "raw: the exact bytes uploaded, with Content-Digest."})
