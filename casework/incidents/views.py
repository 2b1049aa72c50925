from __future__ import annotations

from casework.http import Blueprint
from casework.incidents import schemas, service
from casework.pagination import page_of

blp = Blueprint("incidents", __name__, url_prefix="/api/v1", description="Incidents within a case")

IncidentPage = page_of(schemas.IncidentSchema, "IncidentPage")


@blp.route("/cases/<int:case_id>/incidents", methods=["POST"])
@blp.arguments(schemas.IncidentCreateSchema)
@blp.response(201, schemas.IncidentSchema)
def create_incident(data, case_id):
    """Record an incident of a case: what happened, when, where, and which violations."""
    return service.create_incident(case_id, data)


@blp.route("/cases/<int:case_id>/incidents", methods=["GET"])
@blp.arguments(schemas.IncidentFilterArgs, location="query")
@blp.response(200, IncidentPage)
def list_incidents(args, case_id):
    """List a case's incidents, or search them by text, violation and date.

    Filters narrow together; each search is recorded with its filters in the custody log.
    """
    return service.list_incidents(case_id, args)


@blp.route("/incidents/<int:incident_id>", methods=["GET"])
@blp.response(200, schemas.IncidentSchema)
def get_incident(incident_id):
    """Read an incident."""
    return service.get_incident(incident_id)


@blp.route("/incidents/<int:incident_id>", methods=["PATCH"])
@blp.arguments(schemas.IncidentUpdateSchema)
@blp.response(200, schemas.IncidentSchema)
def update_incident(changes, incident_id):
    """Change an incident; only the fields sent change."""
    return service.update_incident(incident_id, changes)
