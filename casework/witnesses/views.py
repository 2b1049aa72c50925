from __future__ import annotations

from casework.http import Blueprint
from casework.pagination import page_of
from casework.witnesses import schemas, service

blp = Blueprint("witnesses", __name__, url_prefix="/api/v1", description="Witnesses (pseudonymous) within a case")

WitnessPage = page_of(schemas.WitnessSchema, "WitnessPage")


@blp.route("/cases/<int:case_id>/witnesses", methods=["POST"])
@blp.arguments(schemas.WitnessCreateSchema)
@blp.response(201, schemas.WitnessSchema)
def create_witness(data, case_id):
    """Register a witness of a case under a new pseudonym (W-0001, W-0002, ...).

    The identity, when given, is encrypted under the witness's own key; only a few roles may
    read it, and each read is logged.
    """
    return service.create_witness(case_id, data)


@blp.route("/cases/<int:case_id>/witnesses", methods=["GET"])
@blp.arguments(schemas.WitnessFilterArgs, location="query")
@blp.response(200, WitnessPage)
def list_witnesses(args, case_id):
    """List a case's witnesses, or find one by pseudonym.

    Each search is recorded with its filter in the custody log.
    """
    return service.list_witnesses(case_id, args)


@blp.route("/witnesses/<int:witness_id>", methods=["GET"])
@blp.arguments(schemas.WitnessReadArgs, location="query")
@blp.response(200, schemas.WitnessDetailSchema)
def get_witness(args, witness_id):
    """Read a witness; include=identity also shows who they are (logged)."""
    return service.get_witness(witness_id, include_identity=args.get("include") == "identity")


@blp.route("/witnesses/<int:witness_id>", methods=["PATCH"])
@blp.arguments(schemas.WitnessUpdateSchema)
@blp.response(200, schemas.WitnessSchema)
def update_witness(changes, witness_id):
    """Change a witness's type, risk level or identity; only the fields sent change."""
    return service.update_witness(witness_id, changes)
