"""Redacting a transcript version in the browser, and reading a redacted version.

The lawyer selects text with the mouse on the transcript page; ``redact.js`` turns the selection
into the API's span unit (Unicode code points of the text, not the browser's UTF-16 units) and
previews the result with the service's own marker. Without script the same form takes typed
offsets. Either way the spans are validated by the API's schema and the redaction is made by the
redaction service, recorded as the API's ``redaction.create``.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from casework.errors import DomainError
from casework.redactions import service as redactions_service
from casework.redactions.schemas import RedactionContentSchema, RedactionCreateSchema
from casework.workbench.blueprint import blp, form_failed, form_view, load_form, render
from casework.workbench.case_pages import transcript_context

SPAN_FIELDS = ("start", "end", "category", "legal_basis")
# The API's categories (casework.redactions.schemas.CATEGORIES), in words.
CATEGORY_NAMES = {
    "witness_identity": lazy_gettext("Witness identity"),
    "family_identity": lazy_gettext("Family members' identity"),
    "third_party_identity": lazy_gettext("Other persons at risk"),
    "intermediary_identity": lazy_gettext("Intermediary identity"),
    "staff_identity": lazy_gettext("Staff identity"),
    "location": lazy_gettext("Location"),
    "ongoing_investigation": lazy_gettext("Ongoing investigation"),
    "privileged": lazy_gettext("Privileged or internal work product"),
    "other": lazy_gettext("Other"),
}
OFFSETS = ("start", "end")


@blp.app_template_filter("redaction_category")
def redaction_category(code: str) -> str:
    return str(CATEGORY_NAMES.get(code, code))


def _offset(value: str) -> int | str:
    """A typed offset as the integer the schema wants (a strict integer), else as typed, so the
    schema names the field that is wrong."""
    return int(value) if value.isdigit() else value


def spans_of_form() -> list[dict[str, Any]]:
    """The spans a form sent, field by field in order (``span_start``, ``span_end``, ...); a row
    left entirely empty (the no-script row, once the list holds the spans) is not a span."""
    columns = {name: request.form.getlist(f"span_{name}") for name in SPAN_FIELDS}
    count = max((len(values) for values in columns.values()), default=0)
    spans = []
    for index in range(count):
        row = {name: (values[index].strip() if index < len(values) else "") for name, values in columns.items()}
        if not any(row.values()):
            continue
        spans.append({name: (_offset(value) if name in OFFSETS else value) for name, value in row.items() if value})
    return spans


@blp.post("/interviews/<int:interview_id>/transcripts/<int:version>/redactions", endpoint="create_redaction")
@form_view
def create_redaction(interview_id: int, version: int) -> Response:
    """The API's redaction create; a rule broken (a span out of the text, overlapping) shows beside
    the form, the transcript read again to show it."""
    try:
        data = load_form(RedactionCreateSchema(), {"spans": spans_of_form()})
        redaction = redactions_service.create(interview_id, version, data)
    except DomainError as error:
        return form_failed(
            error,
            "workbench/case/transcript.html",
            sent_spans=spans_of_form(),
            **transcript_context(interview_id, version),
        )
    return redirect(url_for("workbench.redaction_page", redaction_id=redaction.id, created=1), 303)


@blp.get("/redactions/<int:redaction_id>", endpoint="redaction_page")
def redaction_page(redaction_id: int) -> Response:
    """The redacted text with its map (the API's redaction read, recorded as such)."""
    redaction = RedactionContentSchema().dump(redactions_service.read(redaction_id))
    return render("workbench/case/redaction.html", redaction=redaction)
