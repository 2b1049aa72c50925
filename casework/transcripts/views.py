from __future__ import annotations

import base64
import hashlib
import re

from flask import Response, request
from marshmallow import ValidationError

from casework.errors import BadInput, Invalid, UnsupportedMedia
from casework.http import Blueprint, accepts_media, reject_unstorable
from casework.pagination import page_of
from casework.settings import settings
from casework.transcripts import schemas, service

blp = Blueprint("transcripts", __name__, url_prefix="/api/v1/interviews", description="Interview transcripts")

VersionPage = page_of(schemas.TranscriptVersionSchema, "TranscriptVersionPage")
UPLOAD_TYPES = ("application/json", "text/plain", "multipart/form-data")
_DIGEST_MEMBER = re.compile(r"^\s*([A-Za-z0-9-]+)\s*=\s*:([A-Za-z0-9+/=]*):\s*$")
_STATEMENT = schemas.STATEMENT_EXAMPLE
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": schemas.TranscriptJsonSchema},
        "text/plain": {"schema": {"type": "string"}, "example": _STATEMENT},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "reason": {"type": "string", "example": schemas.REASON_EXAMPLE},
                },
                "required": ["file"],
            }
        },
    },
}
_UPLOAD_HEADERS = [
    {
        "in": "header",
        "name": "Idempotency-Key",
        "schema": {"type": "string", "maxLength": 255},
        "description": "Retrying with the same key returns the first receipt and stores nothing new.",
    },
    {
        "in": "header",
        "name": "Content-Digest",
        "schema": {"type": "string"},
        "description": "RFC 9530, sha-256; checked when sent.",
    },
]


def check_content_digest(header: str | None, body: bytes) -> None:
    """RFC 9530 Content-Digest: when sent, its sha-256 member must match the body as received."""
    if header is None:
        return
    members = {}
    for part in header.split(","):
        match = _DIGEST_MEMBER.match(part)
        if not match:
            raise BadInput(
                "Content-Digest is not an RFC 9530 dictionary of byte sequences.", problem="bad-content-digest"
            )
        members[match.group(1).lower()] = match.group(2)
    if "sha-256" not in members:
        raise BadInput("Content-Digest must include sha-256.", problem="bad-content-digest")
    try:
        claimed = base64.b64decode(members["sha-256"], validate=True)
    except ValueError:
        raise BadInput("Content-Digest sha-256 is not base64.", problem="bad-content-digest") from None
    if claimed != hashlib.sha256(body).digest():
        raise BadInput(
            "Content-Digest does not match the body received; nothing was stored.", problem="content-digest-mismatch"
        )


def _parse_upload() -> service.Upload:
    """Turn whichever body was sent into one Upload (the service does the rules)."""
    check_content_digest(request.headers.get("Content-Digest"), request.get_data(cache=True))
    if request.mimetype == "application/json":
        try:
            data = schemas.TranscriptJsonSchema().load(request.get_json())
        except ValidationError as exc:
            raise Invalid("The request did not validate; see errors.", errors={"json": exc.messages}) from None
        return service.Upload(
            data["text"].encode("utf-8"),
            "text/plain; charset=utf-8",
            data["reason"],
            None,
            derived_from=data["derived_from"],
            translation_of=data["translation_of"],
        )
    if request.mimetype == "text/plain":
        try:
            args = schemas.TranscriptQueryArgs().load(request.args)
        except ValidationError as exc:
            raise Invalid("The request did not validate; see errors.", errors={"query": exc.messages}) from None
        return service.Upload(request.get_data(), "text/plain; charset=utf-8", args.get("reason"), None)
    if request.mimetype == "multipart/form-data":
        unknown = set(request.form) - {"reason"} | (set(request.files) - {"file"})
        if unknown or "file" not in request.files:
            raise Invalid(
                "Send one 'file' part and an optional 'reason'.",
                errors={"form": {name: ["Unknown field."] for name in unknown} or {"file": ["Required."]}},
            )
        upload = request.files["file"]
        reason = request.form.get("reason") or None
        try:
            reject_unstorable([reason, upload.filename])
        except ValueError as exc:
            raise BadInput(f"Bad form field: {exc}.") from None
        if reason is not None and len(reason) > 2000:
            raise Invalid("The reason is too long.", errors={"form": {"reason": ["At most 2000."]}})
        filename = upload.filename[:255] if upload.filename else None
        return service.Upload(upload.read(), "text/plain; charset=utf-8", reason, filename)
    raise UnsupportedMedia("Send application/json, text/plain or multipart/form-data.", accepted=UPLOAD_TYPES)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise BadInput("Idempotency-Key must be 1-255 printable characters.")
    return key


@blp.route("/<int:interview_id>/transcripts", methods=["POST"])
@accepts_media("text/plain", "multipart/form-data")
@blp.doc(requestBody=_UPLOAD_BODY, parameters=_UPLOAD_HEADERS)
@blp.response(201, schemas.TranscriptReceiptSchema)
@blp.alt_response(
    200, schema=schemas.TranscriptReceiptSchema, description="Replay of an earlier upload (Idempotency-Key)"
)
def upload_transcript(interview_id):
    """Upload a transcript version of an interview; answers a signed receipt.

    A correction is a new version with a ``reason``. ``Idempotency-Key`` makes a retry safe (the
    first receipt comes back, 200); a ``Content-Digest`` is checked when sent.
    """
    result = service.upload(
        interview_id, _parse_upload(), idempotency_key=_idempotency_key(), max_bytes=settings().http.upload_max_bytes
    )
    return result.receipt, 200 if result.replayed else 201


@blp.route("/<int:interview_id>/transcripts", methods=["GET"])
@blp.arguments(schemas.VersionPageArgs, location="query")
@blp.response(200, VersionPage)
def list_transcripts(args, interview_id):
    """List an interview's transcript versions: their metadata, not their text."""
    return service.list_versions(interview_id, args)


@blp.route("/<int:interview_id>/transcripts/<int:version>/receipt", methods=["GET"], endpoint="transcript_receipt")
@blp.response(200, schemas.TranscriptReceiptSchema)
def get_transcript_receipt(interview_id, version):
    """Get the receipt of a transcript version's upload, with its inclusion proof once published.

    The receipt is a promise; once a checkpoint includes it, its leaf's seq and proof come too.
    """
    return service.receipt_of(interview_id, version)


@blp.route("/<int:interview_id>/transcripts/<int:version>", methods=["GET"])
@blp.arguments(schemas.ReadArgs, location="query")
@blp.doc(responses={200: {"content": {"text/plain": {"schema": {"type": "string"}, "example": _STATEMENT}}}})
@blp.response(200, schemas.TranscriptContentSchema)
def read_transcript(args, interview_id, version):
    """Read a transcript version with its text; every read is logged.

    ``format=raw``: the exact bytes uploaded, with their ``Content-Digest``.
    """
    found = service.read_version(interview_id, version)
    if args["format"] == "raw":
        response = Response(found.content, mimetype="text/plain")
        response.headers["Content-Type"] = found.media_type
        response.headers["Content-Digest"] = f"sha-256=:{base64.b64encode(found.sha256).decode()}:"
        return response
    return found
