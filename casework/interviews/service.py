"""Interviews: one witness, conducted by the interviewer who records it, linked to incidents."""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import select

from casework.auth.policy import load_authorized, load_with_event
from casework.cases.models import Case
from casework.db import db
from casework.errors import ProblemError
from casework.incidents.models import Incident
from casework.interviews.models import Interview
from casework.pagination import Page, keyset_page
from casework.witnesses.models import Witness


def _incidents_of_case(case_id: int, incident_ids: list[int]) -> list[Incident]:
    wanted = set(incident_ids)
    found = list(db.session.scalars(select(Incident).where(Incident.case_id == case_id, Incident.id.in_(wanted))))
    if len(found) != len(wanted):
        # Same answer for "does not exist" and "in another case": no existence leak.
        raise ProblemError(422, "Some incidents are not incidents of this case.",
                           errors={"json": {"incident_ids": ["Unknown incident for this case."]}})
    return found


def _witness_of_case(case_id: int, witness_id: int) -> Witness:
    witness = db.session.get(Witness, witness_id)
    if witness is None or witness.case_id != case_id:
        raise ProblemError(422, "The witness is not a witness of this case.",
                           errors={"json": {"witness_id": ["Unknown witness for this case."]}})
    return witness


def create_interview(case_id: int, data: dict[str, Any]) -> Interview:
    case, event = load_with_event(Case, case_id, "interview.create")
    witness = _witness_of_case(case.id, data.pop("witness_id"))
    incidents = _incidents_of_case(case.id, data.pop("incident_ids", []))
    interview = Interview(case_id=case.id, witness_id=witness.id, interviewer_id=current_user.id, **data)
    interview.incidents = incidents
    db.session.add(interview)
    db.session.flush()
    event.resource_type, event.resource_id, event.witness_id = "interview", str(interview.id), witness.id
    return interview


def list_interviews(case_id: int, args: dict[str, Any]) -> Page:
    case = load_authorized(Case, case_id, "interview.list")
    return keyset_page(select(Interview).where(Interview.case_id == case.id), Interview.id, args)


def get_interview(interview_id: int, action: str = "interview.read") -> Interview:
    return load_authorized(Interview, interview_id, action)


def update_interview(interview_id: int, changes: dict[str, Any]) -> Interview:
    interview, event = load_with_event(Interview, interview_id, "interview.update")
    if "incident_ids" in changes:
        interview.incidents = _incidents_of_case(interview.case_id, changes.pop("incident_ids"))
        event.details["changed"] = ["incident_ids"]
    for name, value in changes.items():
        setattr(interview, name, value)
    event.details["changed"] = sorted(set(event.details.get("changed", [])) | set(changes))
    return interview
