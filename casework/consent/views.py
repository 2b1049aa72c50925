from __future__ import annotations

from casework.consent import service
from casework.http import Blueprint
from casework.witnesses.schemas import ConsentCreateSchema, ConsentSchema

blp = Blueprint("consent", __name__, url_prefix="/api/v1", description="Witness consent and its withdrawal")


@blp.route("/witnesses/<int:witness_id>/consent", methods=["POST"])
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentSchema)
def record_consent(data, witness_id):
    """Record a new consent version; withdrawn_at suspends the witness's records and opens an erasure."""
    return service.record_consent(witness_id, data)
