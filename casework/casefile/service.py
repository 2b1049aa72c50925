"""Assemble a case file; each transcript released is its own custody event."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casework.access.door import authorize, load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Gone
from casework.fields import Extended
from casework.incidents.models import Incident
from casework.interviews.models import Interview
from casework.interviews.service import with_free_text as interview_with_free_text
from casework.transcripts.models import TranscriptVersion
from casework.transcripts.service import read_content, version_ref, with_free_text
from casework.witnesses.models import Witness


@dataclass
class InterviewFile:
    interview: Interview
    transcripts: list[Extended] = field(default_factory=list)

    @property
    def shown(self) -> Extended:
        """The interview with its free text (null once shredded)."""
        return interview_with_free_text(self.interview)


@dataclass
class CaseFile:
    case: Case
    incidents: list[Incident]
    witnesses: list[Witness]
    interviews: list[InterviewFile]


def case_file(case_id: int) -> CaseFile:
    """The whole case in a fixed number of queries, however many interviews and versions."""
    access = load_authorized(Case, case_id, "casefile.read")
    case = access.obj
    incidents = db.session.scalars(select(Incident).where(Incident.case_id == case.id).order_by(Incident.id)).all()
    witnesses = db.session.scalars(select(Witness).where(Witness.case_id == case.id).order_by(Witness.id)).all()
    interviews = db.session.scalars(
        select(Interview).where(Interview.case_id == case.id).order_by(Interview.id)
        .options(selectinload(Interview.incidents))
    ).all()
    files = {interview.id: InterviewFile(interview) for interview in interviews}
    versions = db.session.scalars(
        select(TranscriptVersion).where(TranscriptVersion.case_id == case.id)
        .order_by(TranscriptVersion.interview_id, TranscriptVersion.version)
    ).all()
    shredded = []
    for version in versions:
        file = files[version.interview_id]
        text = None if version.shredded else _release(file.interview, version)
        if text is None:
            shredded.append(version_ref(version.interview_id, version.version))
        file.transcripts.append(with_free_text(version, text=text))
    access.note(transcript_versions=len(versions), interviews=len(interviews), shredded_versions=shredded)
    return CaseFile(case, list(incidents), list(witnesses), list(files.values()))


def _release(interview: Interview, version: TranscriptVersion) -> str | None:
    """One transcript read, decided and logged as such; None if the witness's key is gone."""
    target = interview.custody_target().part("transcript", version_ref(interview.id, version.version))
    access = authorize("transcript.read", target, via="casefile")
    try:
        return read_content(version, access).decode("utf-8")
    except Gone:
        access.note(shredded=True)
        return None
