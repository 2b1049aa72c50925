from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from casework.exhibits import media_types
from casework.exhibits.models import KINDS
from casework.fields import FreeText, FreeTextSchema, HexBytes, UTCDateTime
from casework.pagination import PageArgs

_FREE_TEXT = "null once shredded, and for those who may not read this exhibit's content"


class RegisteredMediaType(fields.String):
    """A media type of the register (``media_types.REGISTER``), loaded as its registered name."""

    default_error_messages = {"unregistered": "Not a registered media type (type/subtype, e.g. audio/mpeg)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        found = media_types.claimed(super()._deserialize(value, attr, data, **kwargs))
        if found is None:
            raise self.make_error("unregistered")
        return found


class UploadMetadataSchema(Schema):
    """The tus Upload-Metadata pairs a creation may carry (unknown keys are refused)."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    filename = fields.String(validate=validate.Length(min=1, max=255))
    filetype = RegisteredMediaType(validate=validate.Length(min=1, max=255), metadata={
        "description": "The client's claim, a registered media type (e.g. audio/mpeg; audio/x-wav is taken as "
                       "audio/vnd.wave); the server judges the type of the content itself."})
    captured_at = UTCDateTime()
    device_hash = fields.String(validate=validate.Length(min=1, max=128))


class ExhibitSchema(FreeTextSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    interview_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    kind = fields.String()
    media_type = fields.String(allow_none=True, metadata={
        "description": "a registered media type judged from the whole content when the upload completes; null "
                       "until then"})
    size = fields.Integer()
    upload_offset = fields.Integer(attribute="received")
    status = fields.String(metadata={"description": "uploading, complete, expired, or terminated (cancelled by "
                                                   "its uploader before it completed)"})
    filename = FreeText(allow_none=True, metadata={"description": _FREE_TEXT})
    device_hash = FreeText(allow_none=True, metadata={"description": _FREE_TEXT})
    captured_at = fields.DateTime(allow_none=True)
    keyed_sha256 = HexBytes(allow_none=True, metadata={
        "description": "hex HMAC-SHA256 of the content (as in the custody log); the plain SHA-256 is only in "
                       "the uploader's receipt"})
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    shredded = fields.Boolean()
    receipt = fields.Dict(metadata={"description": "the signed receipt without its plain sha256"})


class ReceiptSchema(Schema):
    exhibit_id = fields.Integer()
    interview_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    kind = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String(metadata={"description": "hex SHA-256 of the content (the uploader's receipt only)"})
    keyed_sha256 = fields.String()
    received_at = fields.String()
    merge_delay_ms = fields.Integer(metadata={"description": "the promise: the leaf is in the log within this delay"})
    custody = fields.Dict(metadata={
        "description": "GET .../receipt only: status promised | integrated | published, with seq, tree_size, "
                       "checkpoint and inclusion_proof once published"})
    leaf_hash = fields.String(allow_none=True)
    log_origin = fields.String()
    signature = fields.String(metadata={"description": "base64 Ed25519 over 'casework-exhibit-receipt-v2\\n' "
                                                       "+ canonical JSON of the other fields"})


class ExhibitPageArgs(PageArgs):
    pass
