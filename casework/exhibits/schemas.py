from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from casework.exhibits import media_types
from casework.exhibits.models import KINDS
from casework.fields import FreeText, FreeTextSchema, HexBytes, UTCDateTime
from casework.http import EXAMPLE_DIGEST, EXAMPLE_SIGNATURE
from casework.pagination import PageArgs

_FREE_TEXT = "null once shredded, and for those who may not read this exhibit's content"
# Examples: an audio recording of the interview with W-0001.
KIND_EXAMPLE = "audio"
MEDIA_TYPE_EXAMPLE = "audio/mpeg"
SIZE_EXAMPLE = 48_213_504
FILENAME_EXAMPLE = "W-0001_interview_2022-05-18.mp3"
CAPTURED_AT_EXAMPLE = "2022-05-18T10:01:12Z"
RECEIPT_EXAMPLE = {
    "exhibit_id": 4,
    "interview_id": 7,
    "incident_id": None,
    "kind": KIND_EXAMPLE,
    "media_type": MEDIA_TYPE_EXAMPLE,
    "size": SIZE_EXAMPLE,
    "keyed_sha256": EXAMPLE_DIGEST,
    "received_at": "2022-05-18T14:20:51.004117Z",
    "merge_delay_ms": 1000,
    "leaf_hash": EXAMPLE_DIGEST,
    "log_origin": "casework.local/custody",
    "signature": EXAMPLE_SIGNATURE,
}


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
    filetype = RegisteredMediaType(
        validate=validate.Length(min=1, max=255),
        metadata={
            "description": "The client's claim, a registered media type (e.g. audio/mpeg; audio/x-wav is taken as "
            "audio/vnd.wave); the server judges the type of the content itself."
        },
    )
    captured_at = UTCDateTime()
    device_hash = fields.String(validate=validate.Length(min=1, max=128))


class ExhibitSchema(FreeTextSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    interview_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"example": KIND_EXAMPLE})
    media_type = fields.String(
        allow_none=True,
        metadata={
            "description": "a registered media type judged from the whole content when the upload completes; null "
            "until then",
            "example": MEDIA_TYPE_EXAMPLE,
        },
    )
    size = fields.Integer(metadata={"example": SIZE_EXAMPLE})
    upload_offset = fields.Integer(attribute="received", metadata={"example": SIZE_EXAMPLE})
    status = fields.String(
        metadata={
            "description": "uploading, complete, expired, or terminated (cancelled by "
            "its uploader before it completed)",
            "example": "complete",
        }
    )
    filename = FreeText(allow_none=True, metadata={"description": _FREE_TEXT, "example": FILENAME_EXAMPLE})
    device_hash = FreeText(allow_none=True, metadata={"description": _FREE_TEXT, "example": "recorder-ZH5-0042"})
    captured_at = fields.DateTime(allow_none=True, metadata={"example": CAPTURED_AT_EXAMPLE})
    keyed_sha256 = HexBytes(
        allow_none=True,
        metadata={
            "description": "hex HMAC-SHA256 of the content (as in the custody log); the plain SHA-256 is only in "
            "the uploader's receipt"
        },
    )
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    shredded = fields.Boolean()
    receipt = fields.Dict(
        metadata={"description": "the signed receipt without its plain sha256", "example": RECEIPT_EXAMPLE}
    )


class ExhibitUploadReceiptSchema(Schema):
    exhibit_id = fields.Integer()
    interview_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True, metadata={"example": None})
    kind = fields.String(metadata={"example": KIND_EXAMPLE})
    media_type = fields.String(metadata={"example": MEDIA_TYPE_EXAMPLE})
    size = fields.Integer(metadata={"example": SIZE_EXAMPLE})
    sha256 = fields.String(metadata={"description": "hex SHA-256 of the content (the uploader's receipt only)"})
    keyed_sha256 = fields.String()
    received_at = fields.String(metadata={"example": RECEIPT_EXAMPLE["received_at"]})
    merge_delay_ms = fields.Integer(
        metadata={"description": "the promise: the leaf is in the log within this delay", "example": 1000}
    )
    custody = fields.Dict(
        metadata={
            "description": "GET .../receipt only: status promised | integrated | published, with seq, tree_size, "
            "checkpoint and inclusion_proof once published",
            "example": {"status": "integrated", "seq": 1190},
        }
    )
    leaf_hash = fields.String(allow_none=True)
    log_origin = fields.String(metadata={"example": "casework.local/custody"})
    signature = fields.String(
        metadata={
            "description": "base64 Ed25519 over 'casework-exhibit-receipt-v2\\n' + canonical JSON of the other fields"
        }
    )


ReceiptSchema = ExhibitUploadReceiptSchema


class ExhibitPageArgs(PageArgs):
    pass
