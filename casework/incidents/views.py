from __future__ import annotations

from casework.http import Blueprint
from casework.incidents import schemas, service
from casework.pagination import PageArgs, page_of

blp = Blueprint("incidents", __name__, url_prefix="/api/v1", description="Incidents within a case")

IncidentPage = page_of(schemas.IncidentSchema, "IncidentPage")


@blp.route("/cases/<int:case_id>/incidents", methods=["POST"])
@blp.arguments(schemas.IncidentCreateSchema)
@blp.response(201, schemas.IncidentSchema)
def create_incident(data, case_id):
    return service.create_incident(case_id, data)


@blp.route("/cases/<int:case_id>/incidents", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, IncidentPage)
def list_incidents(args, case_id):
    return service.list_incidents(case_id, args)


@blp.route("/incidents/<int:incident_id>", methods=["GET"])
@blp.response(200, schemas.IncidentSchema)
def get_incident(incident_id):
    return service.get_incident(incident_id)


@blp.route("/incidents/<int:incident_id>", methods=["PATCH"])
@blp.arguments(schemas.IncidentUpdateSchema)
@blp.response(200, schemas.IncidentSchema)
def update_incident(changes, incident_id):
    return service.update_incident(incident_id, changes)
