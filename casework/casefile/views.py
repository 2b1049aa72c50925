from __future__ import annotations

from flask import Response

from casework.casefile import schemas, service
from casework.http import Blueprint
from casework.streaming import in_own_app_context

blp = Blueprint("casefile", __name__, url_prefix="/api/v1/cases", description="Case files (lawyers)")


@blp.route("/<int:case_id>/file", methods=["GET"], endpoint="case_file")
@blp.doc(
    responses={
        "200": {
            "description": "The case file, streamed (consent rule in consent_rule)",
            "content": {"application/json": {"schema": schemas.CaseFileSchema}},
        }
    }
)
def get_case_file(case_id):
    """Download a whole case file, streamed (lawyers); each statement released is logged.

    The case with its incidents, witnesses, interviews and the statements the witnesses' consent
    allows.
    """
    stream = service.stream_case_file(case_id)
    return Response(in_own_app_context(schemas.stream_json(stream)), mimetype="application/json")
