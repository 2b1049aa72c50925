from __future__ import annotations

from casework.casefile import schemas, service
from casework.http import Blueprint

blp = Blueprint("casefile", __name__, url_prefix="/api/v1/cases", description="Case files (lawyers)")


@blp.route("/<int:case_id>/file", methods=["GET"])
@blp.response(200, schemas.CaseFileSchema)
def case_file(case_id):
    """The whole case with every transcript version decrypted; each release is logged."""
    return service.case_file(case_id)
