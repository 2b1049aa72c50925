"""Disclosures in the browser: the builder (with each item's decision and reason shown before
anything is sent), one disclosure, the second lawyer's approval, the approvals waiting, and the
case's register. The bundle is the API's own route: a GET with the session cookie downloads it.

The builder's check is ``disclosure.service.preview``: the rules ``create`` applies, over the
consent in force now, storing nothing. Sending is the API's ``create``; approving its ``approve``
(the proposer is refused with the 403 page, as the API answers 403).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.cases import service as cases_service
from casework.cases.schemas import CaseDetailSchema, CaseSchema
from casework.disclosure import rules
from casework.disclosure import service as disclosure_service
from casework.disclosure.models import RECIPIENT_KINDS
from casework.disclosure.schemas import ITEM_FIELDS, DisclosureCreateSchema, DisclosureSchema
from casework.errors import DomainError
from casework.exhibits import reads as exhibit_reads
from casework.exhibits.schemas import ExhibitSchema
from casework.incidents import service as incidents_service
from casework.incidents.schemas import IncidentSchema
from casework.interviews import service as interviews_service
from casework.interviews.schemas import InterviewSchema
from casework.redactions import service as redactions_service
from casework.redactions.schemas import RedactionSchema
from casework.transcripts import service as transcripts_service
from casework.transcripts.schemas import TranscriptVersionSchema
from casework.witnesses import service as witnesses_service
from casework.witnesses.schemas import WitnessSchema
from casework.workbench.blueprint import blp, form_failed, form_view, load_form, nav_link, render
from casework.workbench.case_pages import whole_listing

nav_link("approvals", lazy_gettext("Approvals"), "legal")

RECIPIENT_KIND_NAMES = {
    "prosecutor": lazy_gettext("Prosecutor"),
    "defence": lazy_gettext("Defence"),
    "court": lazy_gettext("Court"),
    "un_body": lazy_gettext("UN body"),
    "other": lazy_gettext("Other (not covered by any consent)"),
}
SCOPE_NAMES = {
    "record": lazy_gettext("record and keep the statement"),
    "share_with_prosecutors": lazy_gettext("share with prosecutors"),
    "share_with_un_bodies": lazy_gettext("share with UN bodies"),
    "disclose_identity": lazy_gettext("disclose identity"),
}
# The rules' reason codes (casework.disclosure.rules), in words; a scope is named after the colon.
REASONS = {
    "no_witness": lazy_gettext("No witness's consent governs it."),
    "consent_withdrawn": lazy_gettext(
        "The witness withdrew consent: their erasure is pending or done, and nothing of theirs may be released."
    ),
    "witness_shredded": lazy_gettext("The witness's records were erased (crypto-shredded)."),
    "no_consent_record": lazy_gettext("No consent is on record for this witness."),
    "consent_record_scope_missing": lazy_gettext("The witness did not consent to their statement being kept."),
    "recipient_kind_not_covered": lazy_gettext("No consent scope covers this kind of recipient."),
    "identity_not_requested": lazy_gettext("Identity not requested: tick “Release witness identities” to ask."),
    "no_identity_recorded": lazy_gettext("No identity is recorded for this witness."),
}
APPROVAL_REASONS = {
    rules.APPROVAL_WITNESS_IDENTITY: lazy_gettext("A witness's identity would be released."),
    rules.APPROVAL_REDACTED_SOURCE: lazy_gettext("A transcript version that has a redaction would be sent unredacted."),
    rules.APPROVAL_DEFENCE: lazy_gettext("Anything sent to the defence needs a second lawyer."),
    rules.APPROVAL_STAFF_IDENTITY: lazy_gettext("Staff would be named in the bundle's custody trail."),
}


@blp.app_template_filter("disclosure_reason")
def disclosure_reason(code: str) -> str:
    """A decision's reason code in words (the code itself stays beside it on the page)."""
    if code in REASONS:
        return str(REASONS[code])
    kind, _, scopes = code.partition(":")
    names = ", ".join(str(SCOPE_NAMES.get(scope, scope)) for scope in scopes.split("+"))
    if kind == "consent":
        return gettext("Covered by the witness's consent: %(scopes)s.", scopes=names)
    if kind == "consent_scope_missing":
        return gettext("The witness's consent does not cover: %(scopes)s.", scopes=names)
    return code


@blp.app_template_filter("approval_reason")
def approval_reason(code: str) -> str:
    return str(APPROVAL_REASONS.get(code, code))


@blp.app_template_filter("recipient_kind")
def recipient_kind(kind: str) -> str:
    return str(RECIPIENT_KIND_NAMES.get(kind, kind))


# --- the builder -------------------------------------------------------------------------------


def item_value(kind: str, *ids: int) -> str:
    """How the builder's checkboxes name an item: its kind and the ids the API's item names."""
    return ":".join([kind, *map(str, ids)])


def _item_of(value: str) -> dict[str, Any]:
    """A checkbox's value as the API's item; anything malformed is left for the schema to refuse."""
    kind, *ids = value.split(":")
    names = ITEM_FIELDS.get(kind)
    if names is None or len(ids) != len(names) or not all(part.isdigit() for part in ids):
        return {"kind": kind}
    return {"kind": kind, **{name: int(part) for name, part in zip(names, ids, strict=True)}}


def disclosure_form() -> dict[str, Any]:
    """The builder's fields as the API's request body; empty fields left out (the schema says which)."""
    recipient = {name: request.form.get(f"recipient_{name}", "").strip() for name in ("name", "organisation", "kind")}
    data: dict[str, Any] = {
        "recipient": {name: value for name, value in recipient.items() if value},
        "include_identity": request.form.get("include_identity") == "on",
        "include_staff_identity": request.form.get("include_staff_identity") == "on",
        "items": [_item_of(value) for value in request.form.getlist("item")],
    }
    purpose = request.form.get("purpose", "").strip()
    if purpose:
        data["purpose"] = purpose
    return data


def builder_context(case_id: int) -> dict[str, Any]:
    """What the case holds that may be disclosed, each listing read as the API reads it."""
    case = CaseDetailSchema().dump(cases_service.case_detail(case_id))
    incidents = IncidentSchema(many=True).dump(whole_listing(incidents_service.list_incidents, case_id))
    witnesses = WitnessSchema(many=True).dump(whole_listing(witnesses_service.list_witnesses, case_id))
    interviews = InterviewSchema(many=True).dump(whole_listing(interviews_service.list_interviews, case_id))
    for incident in incidents:
        incident["exhibits"] = ExhibitSchema(many=True).dump(
            whole_listing(exhibit_reads.list_for_incident, incident["id"])
        )
    for interview in interviews:
        interview["versions"] = TranscriptVersionSchema(many=True).dump(
            whole_listing(transcripts_service.list_versions, interview["id"])
        )
        for version in interview["versions"]:
            version["redactions"] = RedactionSchema(many=True).dump(
                whole_listing(redactions_service.list_for_version, interview["id"], version["version"])
            )
        interview["exhibits"] = ExhibitSchema(many=True).dump(
            whole_listing(exhibit_reads.list_for_interview, interview["id"])
        )
    return {
        "case": case,
        "incidents": incidents,
        "witnesses": witnesses,
        "interviews": interviews,
        "pseudonyms": {witness["id"]: witness["pseudonym"] for witness in witnesses},
        "recipient_kinds": RECIPIENT_KINDS,
        "item_value": item_value,
    }


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@blp.get("/cases/<int:case_id>/disclosures/new", endpoint="new_disclosure")
def new_disclosure(case_id: int) -> Response:
    return render("workbench/disclosure/new.html", form=None, **builder_context(case_id))


@blp.post("/cases/<int:case_id>/disclosures/preview", endpoint="preview_disclosure")
@form_view
def preview_disclosure(case_id: int) -> Response:
    """Each item's decision and reason, and any second lawyer needed, before anything is sent.

    htmx asks for the result alone (put beside the form); without script, the builder comes back
    with it, the choices kept.
    """
    try:
        proposal = DisclosureSchema().dump(
            disclosure_service.preview(case_id, load_form(DisclosureCreateSchema(), disclosure_form()))
        )
    except DomainError as error:
        if _is_htmx():
            return form_failed(error, "workbench/disclosure/_preview.html", proposal=None, case_id=case_id)
        return form_failed(error, "workbench/disclosure/new.html", proposal=None, **builder_context(case_id))
    if _is_htmx():
        return render("workbench/disclosure/_preview.html", proposal=proposal, case_id=case_id)
    return render("workbench/disclosure/new.html", form=request.form, proposal=proposal, **builder_context(case_id))


@blp.post("/cases/<int:case_id>/disclosures", endpoint="create_disclosure")
@form_view
def create_disclosure(case_id: int) -> Response:
    """The API's create: decided again under the consent in force now, numbered, registered."""
    try:
        disclosure = disclosure_service.create(case_id, load_form(DisclosureCreateSchema(), disclosure_form()))
    except DomainError as error:
        return form_failed(error, "workbench/disclosure/new.html", proposal=None, **builder_context(case_id))
    return redirect(url_for("workbench.disclosure_page", disclosure_id=disclosure.id, sent=1), 303)


# --- one disclosure, its approval, the register -------------------------------------------------


@blp.get("/disclosures/<int:disclosure_id>", endpoint="disclosure_page")
def disclosure_page(disclosure_id: int) -> Response:
    """A disclosure as the API reads it; ``?include=purpose`` also its sealed purpose (logged)."""
    disclosure = DisclosureSchema().dump(
        disclosure_service.read(disclosure_id, include_purpose=request.args.get("include") == "purpose")
    )
    return render("workbench/disclosure/disclosure.html", disclosure=disclosure)


@blp.post("/disclosures/<int:disclosure_id>/approve", endpoint="approve_disclosure")
@form_view
def approve_disclosure(disclosure_id: int) -> Response:
    """The second lawyer releases it; its proposer gets the 403 page (the API's 403)."""
    try:
        disclosure_service.approve(disclosure_id)
    except DomainError as error:
        return form_failed(
            error,
            "workbench/disclosure/disclosure.html",
            disclosure=DisclosureSchema().dump(disclosure_service.read(disclosure_id)),
        )
    return redirect(url_for("workbench.disclosure_page", disclosure_id=disclosure_id, approved=1), 303)


@blp.get("/cases/<int:case_id>/disclosures", endpoint="disclosure_register")
def disclosure_register(case_id: int) -> Response:
    """What went to whom, when, under which consent: the API's register, a page at a time."""
    case = CaseDetailSchema().dump(cases_service.case_detail(case_id))
    page = disclosure_service.register(case_id, {"limit": 50, "cursor": request.args.get("cursor") or None})
    return render(
        "workbench/disclosure/register.html",
        case=case,
        disclosures=DisclosureSchema(many=True).dump(page["items"]),
        next_cursor=page["next_cursor"],
    )


@blp.get("/approvals", endpoint="approvals")
def approvals() -> Response:
    """Pending disclosures of the reader's cases: those another lawyer proposed (for the reader to
    approve) and the reader's own (waiting for someone else). Each case's register is its own read."""
    cases = CaseSchema(many=True).dump(whole_listing(lambda args: cases_service.list_cases(args)))
    to_approve: list[dict[str, Any]] = []
    proposed: list[dict[str, Any]] = []
    for case in cases:
        for disclosure in DisclosureSchema(many=True).dump(whole_listing(disclosure_service.register, case["id"])):
            if disclosure["status"] != "pending":
                continue
            disclosure["case"] = case
            (proposed if disclosure["proposed_by_id"] == current_user.id else to_approve).append(disclosure)
    return render("workbench/disclosure/approvals.html", to_approve=to_approve, proposed=proposed)
