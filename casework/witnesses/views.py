from __future__ import annotations

from casework.http import Blueprint
from casework.pagination import PageArgs, page_of
from casework.witnesses import schemas, service

blp = Blueprint("witnesses", __name__, url_prefix="/api/v1", description="Witnesses (pseudonymous) within a case")

WitnessPage = page_of(schemas.WitnessSchema, "WitnessPage")


@blp.route("/cases/<int:case_id>/witnesses", methods=["POST"])
@blp.arguments(schemas.WitnessCreateSchema)
@blp.response(201, schemas.WitnessSchema)
def create_witness(data, case_id):
    return service.create_witness(case_id, data)


@blp.route("/cases/<int:case_id>/witnesses", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, WitnessPage)
def list_witnesses(args, case_id):
    return service.list_witnesses(case_id, args)


@blp.route("/witnesses/<int:witness_id>", methods=["GET"])
@blp.arguments(schemas.WitnessReadArgs, location="query")
@blp.response(200, schemas.WitnessDetailSchema)
def get_witness(args, witness_id):
    return service.get_witness(witness_id, include_identity=args.get("include") == "identity")


@blp.route("/witnesses/<int:witness_id>", methods=["PATCH"])
@blp.arguments(schemas.WitnessUpdateSchema)
@blp.response(200, schemas.WitnessSchema)
def update_witness(changes, witness_id):
    return service.update_witness(witness_id, changes)
