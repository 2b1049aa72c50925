"""Assemble a case file; each transcript released is its own custody event."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework.auth.policy import load_with_event
from casework.cases.models import Case
from casework.custody import recorder
from casework.errors import ProblemError
from casework.db import db
from casework.incidents.models import Incident
from casework.interviews.models import Interview
from casework.transcripts.models import TranscriptVersion
from casework.transcripts.service import read_content, version_dict
from casework.witnesses.models import Witness


def case_file(case_id: int) -> dict[str, Any]:
    case, event = load_with_event(Case, case_id, "casefile.read")
    incidents = db.session.scalars(select(Incident).where(Incident.case_id == case.id).order_by(Incident.id)).all()
    witnesses = db.session.scalars(select(Witness).where(Witness.case_id == case.id).order_by(Witness.id)).all()
    interviews = db.session.scalars(select(Interview).where(Interview.case_id == case.id).order_by(Interview.id)).all()
    versions = db.session.scalars(
        select(TranscriptVersion).where(TranscriptVersion.case_id == case.id)
        .order_by(TranscriptVersion.interview_id, TranscriptVersion.version)
    ).all()
    by_interview: dict[int, list[dict[str, Any]]] = {}
    for version in versions:
        by_interview.setdefault(version.interview_id, []).append(_release(version))
    event.details.update(transcript_versions=len(versions), interviews=len(interviews))
    return {
        "case": case,
        "incidents": incidents,
        "witnesses": witnesses,
        "interviews": [{"interview": i, "transcripts": by_interview.get(i.id, [])} for i in interviews],
    }


def _release(version: TranscriptVersion) -> dict[str, Any]:
    """One transcript read, logged as such; shredded versions appear without text."""
    event = recorder.record("transcript.read", resource_type="transcript", resource_id=version.id,
                            case_id=version.case_id, witness_id=version.witness_id,
                            details={"via": "casefile"})
    try:
        text = read_content(version, event).decode("utf-8")
    except ProblemError as exc:
        if exc.code != 410:
            raise
        event.outcome = recorder.DENIED
        event.details["shredded"] = True
        text = None
    return {**version_dict(version), "text": text}
