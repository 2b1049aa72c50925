"""A case and what it holds, as a lawyer reads it: incidents, witnesses by pseudonym, interviews,
their transcript versions with lineage, and one transcript's text.

Each page calls the services the API's routes call, in the same way, so each read is the same
custody event the API records (a witness's identity only on an explicit, logged reveal; a
transcript's text only on its own page). Data reaches the templates dumped by the API's schemas.
"""

from __future__ import annotations

from typing import Any

from flask import request
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from casework.cases import service as cases_service
from casework.cases.schemas import CaseDetailSchema
from casework.exhibits import reads as exhibit_reads
from casework.exhibits.schemas import ExhibitSchema
from casework.incidents import service as incidents_service
from casework.incidents.schemas import IncidentSchema
from casework.interviews import service as interviews_service
from casework.interviews.schemas import InterviewSchema
from casework.redactions import service as redactions_service
from casework.redactions.schemas import CATEGORIES, RedactionSchema
from casework.transcripts import service as transcripts_service
from casework.transcripts.schemas import TranscriptContentSchema, TranscriptVersionSchema
from casework.witnesses import service as witnesses_service
from casework.witnesses.schemas import WitnessDetailSchema, WitnessSchema
from casework.workbench.blueprint import blp, form_view, render

# Every item of a listing on one page (the API's largest page); a longer list gets a "more" link.
WHOLE_LIST = {"limit": 200}


def whole_listing(listing: Any, *args: Any) -> list[Any]:
    """Every item of a keyset-paged service listing (pages of 200; each page its own recorded read)."""
    items: list[Any] = []
    cursor = None
    while True:
        page = listing(*args, {**WHOLE_LIST, "cursor": cursor})
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@blp.app_template_filter("passage")
def passage(text: str) -> Markup:
    """A transcript's text for the page, character for character: HTML turns a carriage return into
    nothing or a line feed, so it is written as a character reference, and the offsets the page
    measures in the browser are the offsets of the text itself."""
    return escape(text).replace("\r", Markup("&#13;"))


@blp.get("/cases/<int:case_id>", endpoint="case_page")
def case_page(case_id: int) -> Response:
    """The case (the API's case read), then its incidents, witnesses and interviews (its listings)."""
    case = CaseDetailSchema().dump(cases_service.case_detail(case_id))
    incidents = IncidentSchema(many=True).dump(whole_listing(incidents_service.list_incidents, case_id))
    witnesses = WitnessSchema(many=True).dump(whole_listing(witnesses_service.list_witnesses, case_id))
    interviews = InterviewSchema(many=True).dump(whole_listing(interviews_service.list_interviews, case_id))
    pseudonyms = {witness["id"]: witness["pseudonym"] for witness in witnesses}
    return render(
        "workbench/case/case.html",
        case=case,
        incidents=incidents,
        witnesses=witnesses,
        interviews=interviews,
        pseudonyms=pseudonyms,
    )


@blp.get("/incidents/<int:incident_id>", endpoint="incident_page")
def incident_page(incident_id: int) -> Response:
    incident = IncidentSchema().dump(incidents_service.get_incident(incident_id))
    exhibits = ExhibitSchema(many=True).dump(whole_listing(exhibit_reads.list_for_incident, incident_id))
    return render("workbench/case/incident.html", incident=incident, exhibits=exhibits)


def _witness_page(witness_id: int, *, include_identity: bool) -> dict[str, Any]:
    witness = WitnessDetailSchema().dump(witnesses_service.get_witness(witness_id, include_identity=include_identity))
    return {"witness": witness, "revealed": include_identity}


@blp.get("/witnesses/<int:witness_id>", endpoint="witness_page")
def witness_page(witness_id: int) -> Response:
    """The witness by pseudonym (the API's witness read, without identity) and their interviews."""
    context = _witness_page(witness_id, include_identity=False)
    interviews = InterviewSchema(many=True).dump(
        whole_listing(
            lambda case_id, args: interviews_service.list_interviews(case_id, {**args, "witness_id": witness_id}),
            context["witness"]["case_id"],
        )
    )
    return render("workbench/case/witness.html", interviews=interviews, **context)


@blp.post("/witnesses/<int:witness_id>/identity", endpoint="reveal_identity")
@form_view
def reveal_identity(witness_id: int) -> Response:
    """Who the witness is: the API's ``?include=identity`` read, its own logged action. htmx swaps
    the identity into the page; without script the whole page comes back with it shown."""
    context = _witness_page(witness_id, include_identity=True)
    if request.headers.get("HX-Request") == "true":
        return render("workbench/case/_identity.html", **context)
    return render("workbench/case/witness.html", interviews=None, **context)


def _lineage(versions: list[dict[str, Any]]) -> dict[int, list[int]]:
    """Version number -> the versions that translate it (the lineage read downwards)."""
    derived: dict[int, list[int]] = {}
    for version in versions:
        source = version.get("translation_of_version")
        if source is not None:
            derived.setdefault(source, []).append(version["version"])
    return derived


@blp.get("/interviews/<int:interview_id>", endpoint="interview_page")
def interview_page(interview_id: int) -> Response:
    """The interview, its witness's pseudonym, its transcript versions with their lineage (what each
    translates or transcribes, what translates it, its redactions), and its exhibits."""
    interview = InterviewSchema().dump(interviews_service.get_interview(interview_id))
    witness = WitnessSchema().dump(witnesses_service.get_witness(interview["witness_id"]))
    versions = TranscriptVersionSchema(many=True).dump(whole_listing(transcripts_service.list_versions, interview_id))
    redactions = {
        version["version"]: RedactionSchema(many=True).dump(
            whole_listing(redactions_service.list_for_version, interview_id, version["version"])
        )
        for version in versions
    }
    exhibits = ExhibitSchema(many=True).dump(whole_listing(exhibit_reads.list_for_interview, interview_id))
    return render(
        "workbench/case/interview.html",
        interview=interview,
        witness=witness,
        versions=versions,
        redactions=redactions,
        translations=_lineage(versions),
        exhibits=exhibits,
    )


def transcript_context(interview_id: int, version: int) -> dict[str, Any]:
    """The version's text (the API's content read, recorded as such) and its redactions."""
    transcript = TranscriptContentSchema().dump(transcripts_service.read_version(interview_id, version))
    redactions = RedactionSchema(many=True).dump(
        whole_listing(redactions_service.list_for_version, interview_id, version)
    )
    return {"transcript": transcript, "redactions": redactions, "categories": CATEGORIES}


@blp.get("/interviews/<int:interview_id>/transcripts/<int:version>", endpoint="transcript_page")
def transcript_page(interview_id: int, version: int) -> Response:
    return render("workbench/case/transcript.html", **transcript_context(interview_id, version))
