"""Interviews: one witness, conducted by the interviewer who records it, linked to incidents."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casework.access.door import load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Invalid
from casework.incidents.models import Incident
from casework.interviews.models import Interview
from casework.pagination import Page, keyset_page
from casework.witnesses.models import Witness


def _incidents_of_case(case_id: int, incident_ids: list[int]) -> list[Incident]:
    wanted = set(incident_ids)
    found = list(db.session.scalars(select(Incident).where(Incident.case_id == case_id, Incident.id.in_(wanted))))
    if len(found) != len(wanted):
        # Same answer for "does not exist" and "in another case": no existence leak.
        raise Invalid("Some incidents are not incidents of this case.",
                      errors={"json": {"incident_ids": ["Unknown incident for this case."]}})
    return found


def _witness_of_case(case_id: int, witness_id: int) -> Witness:
    witness = db.session.get(Witness, witness_id)
    if witness is None or witness.case_id != case_id:
        raise Invalid("The witness is not a witness of this case.",
                      errors={"json": {"witness_id": ["Unknown witness for this case."]}})
    return witness


def create_interview(case_id: int, data: dict[str, Any]) -> Interview:
    access = load_authorized(Case, case_id, "interview.create")
    witness = _witness_of_case(access.obj.id, data.pop("witness_id"))
    incidents = _incidents_of_case(access.obj.id, data.pop("incident_ids", []))
    interview = Interview(case_id=access.obj.id, witness_id=witness.id, interviewer_id=access.user_id, **data)
    interview.incidents = incidents
    db.session.add(interview)
    db.session.flush()
    access.note(created_interview_id=interview.id, interview_witness_id=witness.id)
    return interview


def list_interviews(case_id: int, args: dict[str, Any]) -> Page:
    case = load_authorized(Case, case_id, "interview.list").obj
    statement = select(Interview).where(Interview.case_id == case.id).options(selectinload(Interview.incidents))
    return keyset_page(statement, Interview.id, args)


def get_interview(interview_id: int) -> Interview:
    return load_authorized(Interview, interview_id, "interview.read").obj


def update_interview(interview_id: int, changes: dict[str, Any]) -> Interview:
    access = load_authorized(Interview, interview_id, "interview.update", changed=sorted(changes))
    if "incident_ids" in changes:
        access.obj.incidents = _incidents_of_case(access.obj.case_id, changes.pop("incident_ids"))
    for name, value in changes.items():
        setattr(access.obj, name, value)
    return access.obj
