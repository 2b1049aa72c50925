"""Incidents of a case: created and edited by its interviewers and lawyers."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.access.door import load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Conflict, Invalid
from casework.incidents.models import Incident
from casework.pagination import Page, keyset_page


def _check(incident: Incident) -> None:
    if incident.occurred_from and incident.occurred_to and incident.occurred_to < incident.occurred_from:
        raise Invalid("occurred_to is before occurred_from.",
                      errors={"json": {"occurred_to": ["Before occurred_from."]}})
    clash = db.session.execute(
        select(Incident.id).where(Incident.case_id == incident.case_id, Incident.reference == incident.reference)
    ).scalar_one_or_none()
    if clash is not None and clash != incident.id:
        raise Conflict("Another incident of this case has that reference.",
                       errors={"json": {"reference": ["Already used in this case."]}})


def create_incident(case_id: int, data: dict[str, Any]) -> Incident:
    access = load_authorized(Case, case_id, "incident.create")
    incident = Incident(case_id=access.obj.id, created_by_id=access.user_id, **data)
    _check(incident)
    db.session.add(incident)
    db.session.flush()
    access.note(created_incident_id=incident.id)
    return incident


def list_incidents(case_id: int, args: dict[str, Any]) -> Page:
    case = load_authorized(Case, case_id, "incident.list").obj
    return keyset_page(select(Incident).where(Incident.case_id == case.id), Incident.id, args)


def get_incident(incident_id: int) -> Incident:
    return load_authorized(Incident, incident_id, "incident.read").obj


def update_incident(incident_id: int, changes: dict[str, Any]) -> Incident:
    access = load_authorized(Incident, incident_id, "incident.update", changed=sorted(changes))
    for name, value in changes.items():
        setattr(access.obj, name, value)
    _check(access.obj)
    return access.obj
