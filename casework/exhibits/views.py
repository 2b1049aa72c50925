"""Exhibit routes: tus uploads (creation, HEAD, PATCH, DELETE, OPTIONS), metadata, and streamed content.

Views parse the protocol (``tus``) and shape responses; every decision, custody event and rule
is in ``uploads`` (sessions), ``chunks`` (the PATCH) and ``reads``. A content read's custody
event is committed by the request hooks when the view returns its (streaming) response, before
the first byte of content is sent.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from marshmallow import ValidationError

from casework import ranges
from casework.errors import Invalid, UnsupportedMedia
from casework.exhibits import chunks, reads, schemas, tus, uploads
from casework.exhibits.types import NewUpload
from casework.http import Blueprint, accepts_media, ranged_download, request_body
from casework.pagination import page_of
from casework.settings import settings

blp = Blueprint("exhibits", __name__, url_prefix="/api/v1", description="Exhibits: resumable (tus) encrypted evidence")

ExhibitPage = page_of(schemas.ExhibitSchema, "ExhibitPage")
_TUS_HEADERS = [
    {"in": "header", "name": "Tus-Resumable", "required": True, "schema": {"type": "string", "enum": [tus.VERSION]}}
]
_CREATION_HEADERS = _TUS_HEADERS + [
    {"in": "header", "name": "Upload-Length", "required": True, "schema": {"type": "integer", "minimum": 0}},
    {
        "in": "header",
        "name": "Upload-Metadata",
        "required": True,
        "schema": {"type": "string"},
        "description": "tus pairs 'key base64'; kind (audio, video, photo, document, other) is required; "
        "filename, filetype, captured_at (ISO 8601), device_hash optional.",
    },
]

_REPR_DIGEST = {"schema": {"type": "string"}, "description": "RFC 9530: sha-256=:<base64>: of the whole exhibit"}


@blp.after_request
def _tus_headers(response: Response) -> Response:
    if request.path.endswith(("/upload", "/uploads")):
        response.headers["Tus-Resumable"] = tus.VERSION
        if response.status_code == 412:
            response.headers["Tus-Version"] = tus.VERSION
    return response


def _new_upload() -> NewUpload:
    tus.require_resumable(request.headers)
    length = tus.upload_length(request.headers)
    try:
        meta = schemas.UploadMetadataSchema().load(tus.upload_metadata(request.headers.get("Upload-Metadata")))
    except ValidationError as exc:
        raise Invalid("Upload-Metadata did not validate; see errors.", errors={"metadata": exc.messages}) from None
    return NewUpload(
        length=length,
        kind=meta["kind"],
        filename=meta.get("filename"),
        captured_at=meta.get("captured_at"),
        device_hash=meta.get("device_hash"),
        media_type_claim=meta.get("filetype"),
    )


def _empty(status: int) -> Response:
    """A tus answer is headers only: no body, so no Content-Type (an empty text/html would lie)."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response


def _created(exhibit: Any) -> Response:
    response = _empty(201)
    response.headers["Location"] = f"/api/v1/exhibits/{exhibit.id}/upload"
    response.headers["Upload-Expires"] = tus.expires(exhibit.expires_at)
    response.headers["Upload-Offset"] = "0"
    return response


@blp.route("/exhibits/uploads", methods=["OPTIONS"], endpoint="tus_options")
@blp.doc(responses={"204": {"description": "Tus-Version, Tus-Extension, Tus-Max-Size"}})
def get_upload_options():
    """Discover what the tus upload server supports: version, extensions, size, checksums."""
    uploads.discover()
    response = _empty(204)
    response.headers["Tus-Resumable"] = tus.VERSION
    response.headers["Tus-Version"] = tus.VERSION
    response.headers["Tus-Extension"] = tus.EXTENSIONS
    response.headers["Tus-Max-Size"] = str(settings().exhibits.max_bytes)
    response.headers["Tus-Checksum-Algorithm"] = tus.CHECKSUM_ALGORITHMS
    return response


@blp.route("/interviews/<int:interview_id>/exhibits/uploads", methods=["POST"])
@blp.doc(parameters=_CREATION_HEADERS, responses={"201": {"description": "Upload created; see Location"}})
def create_interview_upload(interview_id):
    """Start a resumable (tus) upload of an exhibit of an interview (its interviewer)."""
    return _created(uploads.create_for_interview(interview_id, _new_upload()))


@blp.route("/incidents/<int:incident_id>/exhibits/uploads", methods=["POST"])
@blp.doc(parameters=_CREATION_HEADERS, responses={"201": {"description": "Upload created; see Location"}})
def create_incident_upload(incident_id):
    """Start a resumable (tus) upload of an exhibit of an incident (a member of its case)."""
    return _created(uploads.create_for_incident(incident_id, _new_upload()))


def _offset_headers(response: Response, exhibit: Any) -> Response:
    response.headers["Upload-Offset"] = str(exhibit.received)
    if not exhibit.complete:
        response.headers["Upload-Expires"] = tus.expires(exhibit.expires_at)
    return response


@blp.route("/exhibits/<int:exhibit_id>/upload", methods=["HEAD"], endpoint="upload_offset")
@blp.doc(parameters=_TUS_HEADERS, responses={"200": {"description": "Upload-Offset and Upload-Length"}})
def get_upload_offset(exhibit_id):
    """Find the offset to resume an upload from (tus HEAD; the uploader only)."""
    tus.require_resumable(request.headers)
    exhibit = uploads.upload_status(exhibit_id)
    response = _offset_headers(_empty(200), exhibit)
    response.headers["Upload-Length"] = str(exhibit.size)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/exhibits/<int:exhibit_id>/upload", methods=["PATCH"], endpoint="upload_patch")
@accepts_media(tus.OFFSET_MEDIA_TYPE, streamed_over=lambda found: found.exhibits.chunk_bytes)
@blp.doc(
    parameters=_TUS_HEADERS
    + [
        {"in": "header", "name": "Upload-Offset", "required": True, "schema": {"type": "integer", "minimum": 0}},
        {"in": "header", "name": "Upload-Checksum", "schema": {"type": "string"}, "description": "sha256 <base64>"},
    ],
    requestBody={
        "required": True,
        "content": {tus.OFFSET_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
    responses={
        "204": {"description": "Bytes stored; Upload-Offset is the new offset"},
        "200": {
            "description": "The last bytes: the upload is complete; the body is the signed receipt",
            "content": {"application/json": {"schema": schemas.ExhibitUploadReceiptSchema}},
        },
    },
)
def append_upload(exhibit_id):
    """Send an upload's next bytes at Upload-Offset (tus PATCH).

    The PATCH that completes the upload answers the signed receipt.
    """
    tus.require_resumable(request.headers)
    if request.mimetype != tus.OFFSET_MEDIA_TYPE:
        raise UnsupportedMedia(f"Send {tus.OFFSET_MEDIA_TYPE}.", accepted=(tus.OFFSET_MEDIA_TYPE,))
    offset = tus.upload_offset(request.headers)
    checksum = tus.upload_checksum(request.headers)
    request.max_content_length = settings().exhibits.max_bytes
    # Read already when chunked (within the upload limit) or at most one chunk; else streamed.
    body = tus.RequestBody(*request_body())
    result = chunks.receive(exhibit_id, offset, body, content_length=request.content_length, checksum=checksum)
    if result.receipt is None:
        return _offset_headers(_empty(204), result.exhibit)
    receipt = schemas.ExhibitUploadReceiptSchema().dump(result.receipt)
    response = current_app.response_class(current_app.json.dumps(receipt), status=200, mimetype="application/json")
    return _offset_headers(response, result.exhibit)


@blp.route("/exhibits/<int:exhibit_id>/upload", methods=["DELETE"], endpoint="upload_terminate")
@blp.doc(
    parameters=_TUS_HEADERS,
    responses={
        "204": {
            "description": "The upload is cancelled: what it stored is deleted; the upload URL answers 410 from now"
        },
        "409": {"description": "The upload is complete: an exhibit is immutable evidence and is never deleted"},
        "410": {"description": "The upload already ended (cancelled, expired, or shredded)"},
    },
)
def cancel_upload(exhibit_id):
    """Cancel an unfinished upload (tus termination; whoever may continue it).

    A complete exhibit is evidence and is never deleted (409).
    """
    tus.require_resumable(request.headers)
    uploads.terminate(exhibit_id)
    return _empty(204)


@blp.route("/interviews/<int:interview_id>/exhibits", methods=["GET"])
@blp.arguments(schemas.ExhibitPageArgs, location="query")
@blp.response(200, ExhibitPage)
def list_interview_exhibits(args, interview_id):
    """List the exhibits of an interview: metadata and receipts, not content."""
    return reads.list_for_interview(interview_id, args)


@blp.route("/incidents/<int:incident_id>/exhibits", methods=["GET"])
@blp.arguments(schemas.ExhibitPageArgs, location="query")
@blp.response(200, ExhibitPage)
def list_incident_exhibits(args, incident_id):
    """List the exhibits of an incident: metadata and receipts, not content."""
    return reads.list_for_incident(incident_id, args)


@blp.route("/exhibits/<int:exhibit_id>", methods=["GET"])
@blp.response(200, schemas.ExhibitSchema)
def get_exhibit(exhibit_id):
    """Read an exhibit's metadata and receipt (without the plain SHA-256)."""
    return reads.get_exhibit(exhibit_id)


@blp.route("/exhibits/<int:exhibit_id>/receipt", methods=["GET"], endpoint="exhibit_receipt")
@blp.response(200, schemas.ExhibitUploadReceiptSchema)
def get_exhibit_receipt(exhibit_id):
    """Get the receipt of an exhibit's upload, with its inclusion proof once published.

    The receipt is a promise; once a checkpoint includes it, its leaf's seq and proof come too.
    """
    return reads.receipt_of(exhibit_id)


@blp.route("/exhibits/<int:exhibit_id>/content", methods=["GET"], endpoint="exhibit_content")
@blp.doc(
    parameters=[
        {
            "in": "header",
            "name": "Range",
            "schema": {"type": "string"},
            "description": "bytes=first-last, bytes=first- or bytes=-suffix",
        }
    ],
    responses={
        "200": {
            "description": "The exhibit's bytes, in its media type",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {"Repr-Digest": _REPR_DIGEST},
        },
        "206": {
            "description": "The range asked for (Content-Range); Repr-Digest is still the whole's",
            "headers": {"Repr-Digest": _REPR_DIGEST},
        },
        "416": {"description": "The range is past the end"},
    },
)
def download_exhibit(exhibit_id):
    """Download an exhibit's bytes, streamed; every read is logged with its range.

    A ``Range`` selects part of them.

    ``Repr-Digest`` (RFC 9530) is the SHA-256 of the whole exhibit, on 200 and 206 alike.
    """
    read = reads.open_content(
        exhibit_id, ranges.parse(request.headers.get("Range")), headers_only=request.method == "HEAD"
    )
    return ranged_download(
        read.chunks, read.selected, read.exhibit.media_type or "application/octet-stream", sha256=read.sha256
    )
