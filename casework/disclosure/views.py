from __future__ import annotations

from flask import request

from casework import ranges
from casework.disclosure import bundle as service_bundle
from casework.disclosure import schemas, service
from casework.http import Blueprint, ranged_download
from casework.pagination import page_of

blp = Blueprint("disclosures", __name__, url_prefix="/api/v1", description="Disclosures to courts and parties")

DisclosurePage = page_of(schemas.DisclosureSchema, "DisclosurePage")


@blp.route("/cases/<int:case_id>/disclosures", methods=["POST"])
@blp.arguments(schemas.DisclosureCreateSchema)
@blp.response(201, schemas.DisclosureSchema)
@blp.alt_response(
    202,
    schema=schemas.DisclosureSchema,
    description="Pending: a second lawyer of the case must approve it (see approval_reasons)",
)
def create_disclosure(data, case_id):
    """Disclose items of a case to a recipient (lawyers); each is checked against consent.

    Each item is included or excluded by its witness's current consent (the reason is recorded),
    and the disclosure is registered. One that a second lawyer must approve answers 202.
    """
    disclosure = service.create(case_id, data)
    return disclosure, 202 if disclosure.pending else 201


@blp.route("/disclosures/<int:disclosure_id>/approve", methods=["POST"])
@blp.response(200, schemas.DisclosureSchema)
def approve_disclosure(disclosure_id):
    """Approve a pending disclosure: a second lawyer of the case, never its proposer."""
    return service.approve(disclosure_id)


@blp.route("/cases/<int:case_id>/disclosures", methods=["GET"])
@blp.arguments(schemas.DisclosurePageArgs, location="query")
@blp.response(200, DisclosurePage)
def list_disclosures(args, case_id):
    """List a case's disclosure register: what went to whom, when, under which consent."""
    return service.register(case_id, args)


@blp.route("/disclosures/<int:disclosure_id>", methods=["GET"])
@blp.arguments(schemas.DisclosureReadArgs, location="query")
@blp.response(200, schemas.DisclosureSchema)
def get_disclosure(args, disclosure_id):
    """Read a disclosure; include=purpose also shows its sealed purpose (logged)."""
    return service.read(disclosure_id, include_purpose=args.get("include") == "purpose")


@blp.route("/disclosures/<int:disclosure_id>/bundle", methods=["GET"], endpoint="get_bundle")
@blp.doc(
    parameters=[
        {
            "in": "header",
            "name": "Range",
            "schema": {"type": "string"},
            "description": "bytes=first-last, bytes=first- or bytes=-suffix: resume a download",
        },
        {
            "in": "header",
            "name": "If-Range",
            "schema": {"type": "string"},
            "description": "the ETag of the part already held: the Range is honoured only if it matches",
        },
    ],
    responses={
        "200": {
            "description": "BagIt (RFC 8493) zip: the same bytes on every download",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        "206": {"description": "The range asked for (Content-Range)"},
        "409": {"description": "Pending: a second lawyer must approve the disclosure first"},
        "410": {"description": "Withheld: an item can no longer be released (consent withdrawn)"},
        "416": {"description": "The range is past the end"},
    },
)
def download_bundle(disclosure_id):
    """Download a disclosure's bundle: a BagIt zip that proves itself offline.

    A file: the same bytes on every download, with Content-Length, ETag, Range and Repr-Digest.
    """
    bundle = service_bundle.open_bundle(
        disclosure_id, ranges.parse(request.headers.get("Range")), request.headers.get("If-Range")
    )
    # Not stream_with_context: the body runs later in a context of its own (see open_bundle),
    # and nothing of it may start inside this request.
    return ranged_download(
        bundle.chunks,
        bundle.selected,
        "application/zip",
        sha256=bundle.frozen.sha256,
        etag=bundle.frozen.etag,
        filename=bundle.filename,
    )
