"""Incidents of a case: created and edited by its interviewers and lawyers."""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import select

from casework.auth.policy import load_authorized, load_with_event
from casework.cases.models import Case
from casework.db import db
from casework.errors import ProblemError
from casework.incidents.models import Incident
from casework.pagination import Page, keyset_page


def _check(incident: Incident) -> None:
    if incident.occurred_from and incident.occurred_to and incident.occurred_to < incident.occurred_from:
        raise ProblemError(422, "occurred_to is before occurred_from.",
                           errors={"json": {"occurred_to": ["Before occurred_from."]}})
    clash = db.session.execute(
        select(Incident.id).where(Incident.case_id == incident.case_id, Incident.reference == incident.reference)
    ).scalar_one_or_none()
    if clash is not None and clash != incident.id:
        raise ProblemError(409, "Another incident of this case has that reference.",
                           errors={"json": {"reference": ["Already used in this case."]}})


def create_incident(case_id: int, data: dict[str, Any]) -> Incident:
    case, event = load_with_event(Case, case_id, "incident.create")
    incident = Incident(case_id=case.id, created_by_id=current_user.id, **data)
    _check(incident)
    db.session.add(incident)
    db.session.flush()
    event.resource_type, event.resource_id = "incident", str(incident.id)
    return incident


def list_incidents(case_id: int, args: dict[str, Any]) -> Page:
    case = load_authorized(Case, case_id, "incident.list")
    return keyset_page(select(Incident).where(Incident.case_id == case.id), Incident.id, args)


def get_incident(incident_id: int) -> Incident:
    return load_authorized(Incident, incident_id, "incident.read")


def update_incident(incident_id: int, changes: dict[str, Any]) -> Incident:
    incident, event = load_with_event(Incident, incident_id, "incident.update")
    for name, value in changes.items():
        setattr(incident, name, value)
    _check(incident)
    event.details["changed"] = sorted(changes)
    return incident
