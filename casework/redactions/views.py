from __future__ import annotations

from casework.http import Blueprint
from casework.pagination import page_of
from casework.redactions import schemas, service

blp = Blueprint("redactions", __name__, url_prefix="/api/v1", description="Redacted transcripts (lawyers)")

RedactionPage = page_of(schemas.RedactionSchema, "RedactionPage")


@blp.route("/interviews/<int:interview_id>/transcripts/<int:version>/redactions", methods=["POST"])
@blp.arguments(schemas.RedactionCreateSchema)
@blp.response(201, schemas.RedactionContentSchema)
def create_redaction(data, interview_id, version):
    """Redact spans of a transcript version into a new, sealed derivative (lawyers).

    Each span has a category and a legal basis; the redaction map keeps no removed text.
    """
    return service.create(interview_id, version, data)


@blp.route("/interviews/<int:interview_id>/transcripts/<int:version>/redactions", methods=["GET"])
@blp.arguments(schemas.RedactionPageArgs, location="query")
@blp.response(200, RedactionPage)
def list_redactions(args, interview_id, version):
    """List the redactions of a transcript version: their metadata and maps."""
    return service.list_for_version(interview_id, version, args)


@blp.route("/redactions/<int:redaction_id>", methods=["GET"])
@blp.response(200, schemas.RedactionContentSchema)
def read_redaction(redaction_id):
    """Read a redacted text with its map and the salted hashes of the segments left in."""
    return service.read(redaction_id)
