from __future__ import annotations

from casework.consent import service
from casework.http import Blueprint
from casework.witnesses.schemas import ConsentCreateSchema, ConsentSchema

blp = Blueprint("consent", __name__, url_prefix="/api/v1", description="Witness consent and its withdrawal")


@blp.route("/witnesses/<int:witness_id>/consent", methods=["POST"])
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentSchema)
def record_consent(data, witness_id):
    """Record a witness's consent: what may be kept and shared, and with whom.

    Each change is a new version. ``withdrawn_at`` suspends every read of the witness's records
    at once and opens an erasure, which a second person confirms or rejects.
    """
    return service.record_consent(witness_id, data)
