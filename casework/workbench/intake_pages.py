"""The interviewer's pages: a new witness, their consent, a new interview, a statement with its
receipt, and exhibits uploaded with Uppy over the API's own tus endpoint.

Each form is validated with the API's schema and calls the API's service, so it creates exactly
what the API creates and the door records the same custody event. An exhibit is not posted
through a page at all: Uppy's tus plugin talks to ``/api/v1/.../exhibits/uploads`` with the
session cookie and the CSRF header, as any tus client would, so pausing and resuming (even after
a reload) are the protocol's own.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.access.policy import Scope, scope_of
from casework.access.roles import Role
from casework.cases import service as cases_service
from casework.cases.schemas import CaseDetailSchema
from casework.consent import service as consent_service
from casework.errors import BadInput, Conflict, DomainError, Forbidden, Invalid, TooLarge
from casework.exhibits import reads as exhibit_reads
from casework.exhibits.models import KINDS
from casework.exhibits.schemas import ExhibitUploadReceiptSchema
from casework.http import reject_unstorable
from casework.incidents import service as incidents_service
from casework.incidents.schemas import IncidentSchema
from casework.interviews import service as interviews_service
from casework.interviews.schemas import InterviewCreateSchema, InterviewSchema
from casework.problems import status_of
from casework.settings import settings
from casework.transcripts import service as transcripts_service
from casework.transcripts.schemas import TranscriptReceiptSchema
from casework.witnesses import service as witnesses_service
from casework.witnesses.schemas import (
    ConsentCreateSchema,
    WitnessCreateSchema,
    WitnessDetailSchema,
    WitnessSchema,
)
from casework.workbench.blueprint import blp, file_form_view, form_failed, form_fields, form_view, load_form, render

# Words for the API's codes, in the reader's language.
WITNESS_TYPE_LABELS = {
    "victim": lazy_gettext("Victim"),
    "eyewitness": lazy_gettext("Eyewitness"),
    "survivor": lazy_gettext("Survivor"),
    "relative": lazy_gettext("Relative"),
    "hearsay": lazy_gettext("Hearsay witness"),
    "insider": lazy_gettext("Insider"),
    "expert": lazy_gettext("Expert"),
    "other": lazy_gettext("Other"),
}
RISK_LEVEL_LABELS = {
    "low": lazy_gettext("Low"),
    "medium": lazy_gettext("Medium"),
    "high": lazy_gettext("High"),
    "critical": lazy_gettext("Critical"),
}
CONSENT_SCOPE_LABELS = {
    "record": lazy_gettext("Record and keep the statement"),
    "share_with_prosecutors": lazy_gettext("Share with prosecutors"),
    "share_with_un_bodies": lazy_gettext("Share with UN bodies"),
    "disclose_identity": lazy_gettext("Disclose the witness's identity"),
}
EXHIBIT_KIND_LABELS = {
    "audio": lazy_gettext("Audio recording"),
    "video": lazy_gettext("Video recording"),
    "photo": lazy_gettext("Photograph"),
    "document": lazy_gettext("Document"),
    "other": lazy_gettext("Other"),
}
IDENTITY_FIELDS = ("full_name", "contact", "date_of_birth", "notes")
# What a <input type="datetime-local"> sends: a wall-clock time without a zone (the form says UTC).
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
LISTED = {"limit": 200}  # the most a listing page holds (the API's own maximum)


@blp.app_template_global("may_attempt")
def may_attempt(action: str) -> bool:
    """Whether the reader's role may ever do ``action`` (the door still decides each attempt).

    Used to offer links and forms only to roles the policy gives the action at all; it records
    nothing and reveals nothing that the reader's role does not already tell them.
    """
    if not current_user.is_authenticated:
        return False
    try:
        return scope_of(action, Role(current_user.role)) is not Scope.NO
    except ValueError:
        return False


def _offered_to_role(action: str) -> None:
    """A form for a role that may never use it is a 403 page, before any field is shown."""
    if not may_attempt(action):
        raise Forbidden(_("You are not allowed to do this."))


def as_utc(value: str | None) -> str | None:
    """A datetime-local field's value read as UTC (the form says so), for the API's schema."""
    if value and _LOCAL_DATETIME.match(value):
        return value + "Z"
    return value


def _case(case_id: int) -> dict[str, Any]:
    return CaseDetailSchema().dump(cases_service.case_detail(case_id))


# --- witnesses ----------------------------------------------------------------------------------


def _witness_form(case: dict[str, Any], status: int = 200, **context: Any) -> Response:
    return render(
        "workbench/intake/witness_new.html",
        status=status,
        case=case,
        witness_types=WITNESS_TYPE_LABELS,
        risk_levels=RISK_LEVEL_LABELS,
        **{"form": {}, **context},
    )


@blp.get("/cases/<int:case_id>/witnesses/new", endpoint="new_witness")
def new_witness(case_id: int) -> Response:
    case = _case(case_id)
    _offered_to_role("witness.create")
    return _witness_form(case)


def _witness_input() -> dict[str, Any]:
    """The form's fields in the API's JSON shape: the identity only if any of it was given."""
    data = form_fields("witness_type", "risk_level")
    identity = {name: request.form.get(f"identity_{name}", "").strip() or None for name in IDENTITY_FIELDS}
    if any(identity.values()):
        data["identity"] = {name: value for name, value in identity.items() if value is not None}
    return data


@blp.post("/cases/<int:case_id>/witnesses/new", endpoint="create_witness")
@form_view
def create_witness(case_id: int) -> Response:
    try:
        witness = witnesses_service.create_witness(case_id, load_form(WitnessCreateSchema(), _witness_input()))
    except DomainError as error:
        return form_failed(
            error,
            "workbench/intake/witness_new.html",
            case={"id": case_id},
            witness_types=WITNESS_TYPE_LABELS,
            risk_levels=RISK_LEVEL_LABELS,
        )
    return redirect(url_for("workbench.witness_page", witness_id=witness.id), 303)


# --- consent ------------------------------------------------------------------------------------


def _witness(witness_id: int) -> dict[str, Any]:
    return WitnessDetailSchema().dump(witnesses_service.get_witness(witness_id))


@blp.get("/witnesses/<int:witness_id>/consent", endpoint="consent_page")
def consent_page(witness_id: int) -> Response:
    witness = _witness(witness_id)
    _offered_to_role("witness.consent.record")
    scopes = (witness.get("consent") or {}).get("scopes") or {}
    return render(
        "workbench/intake/consent.html",
        witness=witness,
        scopes=CONSENT_SCOPE_LABELS,
        form={name: "on" for name, given in scopes.items() if given},
    )


def _consent_input() -> dict[str, Any]:
    data: dict[str, Any] = {"scopes": {name: name in request.form for name in CONSENT_SCOPE_LABELS}}
    for name in ("given_at", "withdrawn_at"):
        value = as_utc(request.form.get(name, "").strip())
        if value:
            data[name] = value
    return data


@blp.post("/witnesses/<int:witness_id>/consent", endpoint="record_consent")
@form_view
def record_consent(witness_id: int) -> Response:
    try:
        consent_service.record_consent(witness_id, load_form(ConsentCreateSchema(), _consent_input()))
    except DomainError as error:
        return form_failed(
            error, "workbench/intake/consent.html", witness={"id": witness_id}, scopes=CONSENT_SCOPE_LABELS
        )
    return redirect(url_for("workbench.witness_page", witness_id=witness_id), 303)


# --- interviews ---------------------------------------------------------------------------------


def _interview_form(case: dict[str, Any], status: int = 200, **context: Any) -> Response:
    """The form with the case's witnesses (by pseudonym) and incidents, each listing recorded as the API's."""
    case_id = case["id"]
    witnesses = WitnessSchema(many=True).dump(witnesses_service.list_witnesses(case_id, dict(LISTED))["items"])
    incidents = IncidentSchema(many=True).dump(incidents_service.list_incidents(case_id, dict(LISTED))["items"])
    return render(
        "workbench/intake/interview_new.html",
        status=status,
        case=case,
        witnesses=witnesses,
        incidents=incidents,
        **{"form": {}, **context},
    )


@blp.get("/cases/<int:case_id>/interviews/new", endpoint="new_interview")
def new_interview(case_id: int) -> Response:
    case = _case(case_id)
    _offered_to_role("interview.create")
    return _interview_form(case)


def _interview_input() -> dict[str, Any]:
    data: dict[str, Any] = form_fields("witness_id", "language", "interpreter")
    incident_ids = [value for value in request.form.getlist("incident_ids") if value.strip()]
    if incident_ids:
        data["incident_ids"] = [int(value) if value.isdigit() else value for value in incident_ids]
    if "witness_id" in data and data["witness_id"].isdigit():
        data["witness_id"] = int(data["witness_id"])  # the schema is strict: an integer, as JSON sends it
    conducted_at = as_utc(request.form.get("conducted_at", "").strip())
    if conducted_at:
        data["conducted_at"] = conducted_at
    place = request.form.get("location_name", "").strip()
    if place:
        data["location"] = {"name": place}
    return data


@blp.post("/cases/<int:case_id>/interviews/new", endpoint="create_interview")
@form_view
def create_interview(case_id: int) -> Response:
    try:
        interview = interviews_service.create_interview(case_id, load_form(InterviewCreateSchema(), _interview_input()))
    except DomainError as error:
        if not isinstance(error, Invalid | BadInput | Conflict):
            raise  # refusals are the error page, recorded by the door
        # The form again, its choices re-read (recorded: the page shows the case's witnesses again).
        return _interview_form(_case(case_id), status=status_of(error), error=error, form=request.form)
    return redirect(url_for("workbench.interview_page", interview_id=interview.id), 303)


# --- statements ---------------------------------------------------------------------------------


def _interview(interview_id: int) -> dict[str, Any]:
    return InterviewSchema().dump(interviews_service.get_interview(interview_id))


def _statement_form(interview: dict[str, Any], status: int = 200, **context: Any) -> Response:
    return render(
        "workbench/intake/statement.html",
        status=status,
        interview=interview,
        idempotency_key=secrets.token_urlsafe(24),
        **{"form": {}, **context},
    )


@blp.get("/interviews/<int:interview_id>/statement", endpoint="statement_page")
def statement_page(interview_id: int) -> Response:
    interview = _interview(interview_id)
    _offered_to_role("transcript.create")
    return _statement_form(interview)


def _statement_upload() -> transcripts_service.Upload:
    """The form as the API's multipart upload: a UTF-8 file (or the same text pasted) and a reason."""
    file = request.files.get("file")
    pasted = request.form.get("text", "")
    reason = request.form.get("reason", "").strip() or None
    filename = file.filename[:255] if file is not None and file.filename else None
    try:
        reject_unstorable([reason, filename])
    except ValueError as exc:
        raise BadInput(f"Bad form field: {exc}.") from None
    if reason is not None and len(reason) > 2000:
        raise Invalid("The reason is too long.", errors={"reason": ["At most 2000."]})
    if filename is not None and pasted.strip():
        raise Invalid(_("Choose a file or paste the text, not both."), errors={"file": ["One of file or text."]})
    if filename is not None and file is not None:
        content = file.read()
    elif pasted.strip():
        content, filename = pasted.replace("\r\n", "\n").encode("utf-8"), None
    else:
        raise Invalid(_("Choose the statement's file, or paste its text."), errors={"file": ["Required."]})
    return transcripts_service.Upload(content, "text/plain; charset=utf-8", reason, filename)


def _form_idempotency_key() -> str | None:
    key = request.form.get("idempotency_key") or None
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise BadInput("Idempotency-Key must be 1-255 printable characters.")
    return key


@blp.post("/interviews/<int:interview_id>/statement", endpoint="upload_statement")
@file_form_view
def upload_statement(interview_id: int) -> Response:
    """The API's upload; the receipt (with the plain SHA-256, the uploader's alone) is shown at once.

    The form's own idempotency key makes a second press of the button return the first receipt.
    """
    try:
        result = transcripts_service.upload(
            interview_id,
            _statement_upload(),
            idempotency_key=_form_idempotency_key(),
            max_bytes=settings().http.upload_max_bytes,
        )
    except TooLarge as error:
        return _statement_form({"id": interview_id}, status=413, error=error)
    except DomainError as error:
        return form_failed(
            error,
            "workbench/intake/statement.html",
            interview={"id": interview_id},
            idempotency_key=secrets.token_urlsafe(24),
        )
    receipt = TranscriptReceiptSchema().dump(result.receipt)
    return render(
        "workbench/intake/statement_receipt.html",
        status=200 if result.replayed else 201,
        receipt=receipt,
        replayed=result.replayed,
        interview={"id": interview_id},
    )


# --- exhibits -----------------------------------------------------------------------------------


def _upload_page(*, endpoint: str, heading: str, back: str, back_label: str, case_id: int) -> Response:
    return render(
        "workbench/intake/exhibit_upload.html",
        tus_endpoint=endpoint,
        heading=heading,
        back=back,
        back_label=back_label,
        case_id=case_id,
        kinds={kind: EXHIBIT_KIND_LABELS[kind] for kind in KINDS},
        chunk_size=settings().exhibits.chunk_bytes,
        max_size=settings().exhibits.max_bytes,
    )


@blp.get("/interviews/<int:interview_id>/exhibits/upload", endpoint="exhibit_upload_page")
def exhibit_upload_page(interview_id: int) -> Response:
    interview = _interview(interview_id)
    _offered_to_role("exhibit.upload.create")
    return _upload_page(
        endpoint=f"/api/v1/interviews/{interview['id']}/exhibits/uploads",
        heading=_("Upload exhibits of interview %(id)s", id=interview["id"]),
        back=url_for("workbench.interview_page", interview_id=interview["id"]),
        back_label=_("Back to the interview"),
        case_id=interview["case_id"],
    )


@blp.get("/incidents/<int:incident_id>/exhibits/upload", endpoint="incident_exhibit_upload_page")
def incident_exhibit_upload_page(incident_id: int) -> Response:
    incident = IncidentSchema().dump(incidents_service.get_incident(incident_id))
    _offered_to_role("incident.exhibit.upload.create")
    return _upload_page(
        endpoint=f"/api/v1/incidents/{incident['id']}/exhibits/uploads",
        heading=_("Upload exhibits of incident %(reference)s", reference=incident["reference"]),
        back=url_for("workbench.incident_page", incident_id=incident["id"]),
        back_label=_("Back to the incident"),
        case_id=incident["case_id"],
    )


@blp.get("/exhibits/<int:exhibit_id>/receipt", endpoint="exhibit_receipt_page")
def exhibit_receipt_page(exhibit_id: int) -> Response:
    """The stored receipt (no plain SHA-256: only the uploader's answer carried it) and where its leaf is."""
    receipt = ExhibitUploadReceiptSchema().dump(exhibit_reads.receipt_of(exhibit_id))
    return render("workbench/intake/exhibit_receipt.html", receipt=receipt)
