"""Interviews: one witness, conducted by the interviewer who records it, linked to incidents.

Who else was present and the interpreter are about the witness: they are sealed under the
witness's key (``Interview.sealed_freetext``), shown beside the interview only to those who may read the
witness's statements (``casework.interviews.free_text``), and read as null once the witness's
key is destroyed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from casework import search
from casework.access.door import load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Conflict, Invalid
from casework.fields import Extended
from casework.incidents.models import Incident
from casework.interviews.free_text import as_seen, may_read_content
from casework.interviews.models import Interview
from casework.pagination import Page, keyset_page
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import Witness

FREE_TEXT = ("interpreter", "others_present")
SEARCH_FILTERS = ("language", "conducted_after", "conducted_before", "witness_id")


def _incidents_of_case(case_id: int, incident_ids: list[int]) -> list[Incident]:
    wanted = set(incident_ids)
    found = list(db.session.scalars(select(Incident).where(Incident.case_id == case_id, Incident.id.in_(wanted))))
    if len(found) != len(wanted):
        # Same answer for "does not exist" and "in another case": no existence leak.
        raise Invalid(
            "Some incidents are not incidents of this case.",
            errors={"json": {"incident_ids": ["Unknown incident for this case."]}},
        )
    return found


def _witness_of_case(case_id: int, witness_id: int) -> Witness:
    witness = db.session.get(Witness, witness_id)
    if witness is None or witness.case_id != case_id:
        raise Invalid(
            "The witness is not a witness of this case.",
            errors={"json": {"witness_id": ["Unknown witness for this case."]}},
        )
    return witness


def free_text(interview: Interview) -> dict[str, Any]:
    """Interpreter and others present; both null once the witness's key is destroyed."""
    if not interview.sealed_freetext.present:
        return {"interpreter": None, "others_present": []}
    sealed = interview.sealed_freetext.open_or_none()
    if sealed is None:
        return {"interpreter": None, "others_present": None}
    found = json.loads(sealed)
    return {"interpreter": found.get("interpreter"), "others_present": found.get("others_present") or []}


def with_free_text(interview: Interview) -> Extended:
    """The interview with its free text, for a caller already allowed the witness's content (the case file)."""
    return Extended(interview, **free_text(interview))


def as_seen_by_caller(interview: Interview) -> Extended:
    """The interview with its free text shown only if the caller may read its statements."""
    readable = may_read_content("transcript.read", interview.custody_target())
    return Extended(interview, **as_seen(free_text(interview), readable))


def _seal_free_text(interview: Interview, witness_shredded: bool, text: dict[str, Any]) -> None:
    if not text.get("interpreter") and not text.get("others_present"):
        interview.sealed_freetext.clear()
        return
    if witness_shredded:
        raise Conflict(
            "The witness withdrew consent; nothing more can be recorded about them.", problem="consent-withdrawn"
        )
    plain = {"interpreter": text.get("interpreter"), "others_present": text.get("others_present") or []}
    interview.sealed_freetext.seal(json.dumps(plain, sort_keys=True).encode())


def create_interview(case_id: int, data: dict[str, Any]) -> Extended:
    access = load_authorized(Case, case_id, "interview.create")
    witness = _witness_of_case(access.obj.id, data.pop("witness_id"))
    if any(name in data for name in FREE_TEXT):
        witness = lock_witness(witness.id)  # sealing under the witness's key: the witness lock order
    incidents = _incidents_of_case(access.obj.id, data.pop("incident_ids", []))
    text = {name: data.pop(name) for name in FREE_TEXT if name in data}
    interview = Interview(case_id=access.obj.id, witness_id=witness.id, interviewer_id=access.user_id, **data)
    interview.incidents = incidents
    db.session.add(interview)
    db.session.flush()
    _seal_free_text(interview, witness.shredded_at is not None, text)
    access.note(created_interview_id=interview.id, interview_witness_id=witness.id)
    return as_seen_by_caller(interview)


def list_interviews(case_id: int, args: dict[str, Any]) -> Page:
    """The case's interviews, narrowed by every search filter given; the filters are the list's
    custody event's details. A witness of another case matches nothing (no existence leak)."""
    filters = search.filters(args, SEARCH_FILTERS)
    details: dict[str, Any] = {"search": filters} if filters else {}
    case = load_authorized(Case, case_id, "interview.list", **details).obj
    statement = select(Interview).where(Interview.case_id == case.id).options(selectinload(Interview.incidents))
    if args.get("language") is not None:
        statement = statement.where(func.lower(Interview.language) == args["language"].lower())
    if args.get("conducted_after") is not None:
        statement = statement.where(Interview.conducted_at >= args["conducted_after"])
    if args.get("conducted_before") is not None:
        statement = statement.where(Interview.conducted_at < args["conducted_before"])
    if args.get("witness_id") is not None:
        statement = statement.where(Interview.witness_id == args["witness_id"])
    page = keyset_page(statement, Interview.id, args)
    page["items"] = [as_seen_by_caller(interview) for interview in page["items"]]
    return page


def get_interview(interview_id: int) -> Extended:
    return as_seen_by_caller(load_authorized(Interview, interview_id, "interview.read").obj)


def update_interview(interview_id: int, changes: dict[str, Any]) -> Extended:
    access = load_authorized(Interview, interview_id, "interview.update", changed=sorted(changes))
    interview = access.obj
    if "incident_ids" in changes:
        interview.incidents = _incidents_of_case(interview.case_id, changes.pop("incident_ids"))
    text = {name: changes.pop(name) for name in FREE_TEXT if name in changes}
    if text:
        witness = lock_witness(interview.witness_id)  # first of the witness lock order
        current: dict[str, Any] = {"interpreter": None, "others_present": []}
        if interview.sealed_freetext.present and witness.shredded_at is None:
            current = json.loads(interview.sealed_freetext.open())
        _seal_free_text(interview, witness.shredded_at is not None, {**current, **text})
    for name, value in changes.items():
        setattr(interview, name, value)
    return as_seen_by_caller(interview)
