"""Incidents of a case: created and edited by its interviewers and lawyers.

An incident's reference is unique within its case. A reference in use is answered 409
``incident-reference-taken``, whether found before writing or, when another request took it in
between, by the database's unique constraint: never a database error.

A listing may search (``casework.search``): the filters are the list's custody event's details,
allowed or refused alike, ``q`` as a hash of its text. ``q`` ignores letters' case in every
alphabet on PostgreSQL (ILIKE), in ASCII only on SQLite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, cast, exists, func, select
from sqlalchemy.dialects.postgresql import JSONB

from casework import search
from casework.access.door import load_authorized
from casework.cases.models import Case
from casework.db import db, written_unique
from casework.errors import Conflict, Invalid
from casework.incidents.models import Incident
from casework.pagination import Page, keyset_page

SEARCH_FILTERS = ("q", "violation_type", "occurred_after", "occurred_before")


def _reference_taken() -> Conflict:
    return Conflict(
        "Another incident of this case has that reference.",
        problem="incident-reference-taken",
        errors={"json": {"reference": ["Already used in this case."]}},
    )


def _check_reference_free(case_id: int, reference: str, incident_id: int | None = None) -> None:
    with db.session.no_autoflush:  # the incident's own pending changes are not written to find out
        clash = db.session.execute(
            select(Incident.id).where(Incident.case_id == case_id, Incident.reference == reference)
        ).scalar_one_or_none()
    if clash is not None and clash != incident_id:
        raise _reference_taken()


def _check_times(occurred_from: datetime | None, occurred_to: datetime | None) -> None:
    if occurred_from and occurred_to and occurred_to < occurred_from:
        raise Invalid(
            "occurred_to is before occurred_from.", errors={"json": {"occurred_to": ["Before occurred_from."]}}
        )


def create_incident(case_id: int, data: dict[str, Any]) -> Incident:
    access = load_authorized(Case, case_id, "incident.create")
    _check_times(data.get("occurred_from"), data.get("occurred_to"))
    _check_reference_free(access.obj.id, data["reference"])
    incident = Incident(case_id=access.obj.id, created_by_id=access.user_id, **data)
    with written_unique(lambda: _check_reference_free(incident.case_id, incident.reference)):
        db.session.add(incident)
    access.note(created_incident_id=incident.id)
    return incident


def _has_violation(code: str) -> ColumnElement[bool]:
    """The incident's violation_types (a JSON list) holds ``code``: jsonb containment on PostgreSQL
    (its GIN index), a look into each list on SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(Incident.violation_types, JSONB).contains([code])
    codes = func.json_each(Incident.violation_types).table_valued("value")
    return exists(select(codes.c.value).where(codes.c.value == code))


def list_incidents(case_id: int, args: dict[str, Any]) -> Page:
    """The case's incidents, narrowed by every search filter given (all of them must hold)."""
    asked = search.filters(args, SEARCH_FILTERS, free_text=("q",))
    details: dict[str, Any] = {"search": asked} if asked else {}
    case = load_authorized(Case, case_id, "incident.list", **details).obj
    statement = select(Incident).where(Incident.case_id == case.id)
    if args.get("q") is not None:
        pattern = search.like_pattern(args["q"])
        statement = statement.where(
            Incident.reference.ilike(pattern, escape="\\") | Incident.title.ilike(pattern, escape="\\")
        )
    if args.get("violation_type") is not None:
        statement = statement.where(_has_violation(args["violation_type"]))
    if args.get("occurred_after") is not None:
        statement = statement.where(Incident.occurred_from >= args["occurred_after"])
    if args.get("occurred_before") is not None:
        statement = statement.where(Incident.occurred_from < args["occurred_before"])
    return keyset_page(statement, Incident.id, args)


def get_incident(incident_id: int) -> Incident:
    return load_authorized(Incident, incident_id, "incident.read").obj


def update_incident(incident_id: int, changes: dict[str, Any]) -> Incident:
    access = load_authorized(Incident, incident_id, "incident.update", changed=sorted(changes))
    incident = access.obj
    _check_times(changes.get("occurred_from", incident.occurred_from), changes.get("occurred_to", incident.occurred_to))
    reference = changes.get("reference", incident.reference)
    if "reference" in changes:
        _check_reference_free(incident.case_id, reference, incident.id)
    with written_unique(lambda: _check_reference_free(incident.case_id, reference, incident.id)):
        for name, value in changes.items():
            setattr(incident, name, value)
    return incident
