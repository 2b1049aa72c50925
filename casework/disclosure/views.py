from __future__ import annotations

from flask import Response

from casework.disclosure import bundle, schemas, service
from casework.http import Blueprint
from casework.pagination import page_of

blp = Blueprint("disclosures", __name__, url_prefix="/api/v1", description="Disclosures to courts and parties")

DisclosurePage = page_of(schemas.DisclosureSchema, "DisclosurePage")


@blp.route("/cases/<int:case_id>/disclosures", methods=["POST"])
@blp.arguments(schemas.DisclosureCreateSchema)
@blp.response(201, schemas.DisclosureSchema)
def create_disclosure(data, case_id):
    """Disclose items to a recipient: each included or excluded by the witness's consent, and registered."""
    return service.create(case_id, data)


@blp.route("/cases/<int:case_id>/disclosures", methods=["GET"])
@blp.arguments(schemas.DisclosurePageArgs, location="query")
@blp.response(200, DisclosurePage)
def list_disclosures(args, case_id):
    """The register: what went to whom, when, under which consent."""
    return service.register(case_id, args)


@blp.route("/disclosures/<int:disclosure_id>", methods=["GET"])
@blp.arguments(schemas.DisclosureReadArgs, location="query")
@blp.response(200, schemas.DisclosureSchema)
def get_disclosure(args, disclosure_id):
    return service.read(disclosure_id, include_purpose=args.get("include") == "purpose")


@blp.route("/disclosures/<int:disclosure_id>/bundle", methods=["GET"])
@blp.doc(responses={"200": {"description": "BagIt (RFC 8493) zip, streamed",
                            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
def get_bundle(disclosure_id):
    """The disclosure as a self-proving BagIt zip, streamed in constant memory."""
    filename, chunks = bundle.stream_bundle(disclosure_id)
    # Not stream_with_context: the body runs later in a context of its own (see stream_bundle),
    # and nothing of it may start inside this request.
    response = Response(chunks, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
