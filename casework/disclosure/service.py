"""Disclosures: decide each item by the witness's consent, register what is released, log it all.

Creating a disclosure locks, in this order (``casework.witnesses.locks``): the rows of the
witnesses the items belong to (ascending id, so two disclosures never wait on each other in a
circle), then the case row (which numbers evidence registrations), then the custody head
when the request's events are appended. Holding the witnesses means a concurrent consent
withdrawal is either fully before the decision (and excludes the item) or fully after it.

Every item is recorded: the ``disclosure.create`` event names the recipient, and each item gets
its own ``disclosure.item`` event against the item's resource, with the decision, the reason
code, the consent version used, the registration number and the recipient. Never content.

Items are named by kind and id; an item that does not exist, or belongs to another case, is
refused the same way (422, "no such item in this case"), so nothing leaks about other cases.

No single lawyer releases what could get someone hurt (``rules.approval_reasons``): a witness's
identity, a transcript version that has a redaction (sent unredacted), anything to the defence,
or staff identities for a court make the disclosure ``pending`` (202) until another lawyer of the
case approves it (``approve``; never its proposer). Both answers name the transcript versions
sent unredacted although a redaction of them exists, the warning a lawyer must read first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from casework.access.door import authorize, load_authorized
from casework.access.targets import Target
from casework.cases.models import Case
from casework.db import db, utcnow
from casework.disclosure import rules
from casework.disclosure.models import (
    APPROVED,
    EXCLUDED,
    INCLUDED,
    PENDING,
    Disclosure,
    DisclosureItem,
    EvidenceRegistration,
)
from casework.errors import Conflict, Forbidden, Invalid
from casework.exhibits.models import COMPLETE, Exhibit
from casework.fields import Extended
from casework.incidents.models import Incident
from casework.pagination import Page, keyset_page
from casework.redactions.models import Redaction
from casework.transcripts.models import TranscriptVersion
from casework.transcripts.service import parse_version_ref, version_ref
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import ConsentRecord, Witness

NO_SUCH_ITEM = "No such item in this case."
# A preview decides what a disclosure would hold and stores nothing (see ``preview``): lawyers of the case only.
PREVIEW_ACTION = "disclosure.preview"


@dataclass(frozen=True)
class Resolved:
    """A requested item, found in the case: what the log calls it and whose consent governs it."""

    position: int
    kind: str
    ref: str
    witness_id: int | None
    target: Target


def _resolve(case_id: int, requests: list[dict[str, Any]]) -> list[Resolved]:
    """Find every item in the case (one query per kind), or refuse naming each bad one."""
    by_kind: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for position, request in enumerate(requests):
        by_kind[request["kind"]].append((position, request))
    found: dict[int, Resolved] = {}
    for kind, listed in by_kind.items():
        found.update(_FINDERS[kind](case_id, listed))
    errors: dict[str, Any] = {}
    seen: dict[tuple[str, str], int] = {}
    for position in range(len(requests)):
        item = found.get(position)
        if item is None:
            errors[str(position)] = {"_schema": [NO_SUCH_ITEM]}
        elif (item.kind, item.ref) in seen:
            errors[str(position)] = {"_schema": [f"Listed twice (also item {seen[item.kind, item.ref]})."]}
        else:
            seen[item.kind, item.ref] = position
    if errors:
        raise Invalid("Some items cannot be disclosed; see errors.", errors={"json": {"items": errors}})
    return [found[position] for position in range(len(requests))]


Listed = list[tuple[int, dict[str, Any]]]


def _find_transcripts(case_id: int, listed: Listed) -> dict[int, Resolved]:
    interviews = {request["interview_id"] for _, request in listed}
    rows = db.session.execute(
        select(TranscriptVersion.interview_id, TranscriptVersion.version, TranscriptVersion.witness_id).where(
            TranscriptVersion.case_id == case_id, TranscriptVersion.interview_id.in_(interviews)
        )
    ).all()
    witness_of = {(row.interview_id, row.version): row.witness_id for row in rows}
    out = {}
    for position, request in listed:
        key = (request["interview_id"], request["version"])
        if key in witness_of:
            ref = version_ref(*key)
            out[position] = Resolved(
                position,
                "transcript_version",
                ref,
                witness_of[key],
                Target("transcript", ref, case_id=case_id, witness_id=witness_of[key]),
            )
    return out


def _find_by_id(model: Any, field: str, kind: str, *extra: Any) -> Any:
    def find(case_id: int, listed: Listed) -> dict[int, Resolved]:
        ids = {request[field] for _, request in listed}
        rows = {
            row.id: row
            for row in db.session.scalars(select(model).where(model.id.in_(ids), model.case_id == case_id, *extra))
        }
        out = {}
        for position, request in listed:
            row = rows.get(request[field])
            if row is not None:
                target = row.custody_target()
                out[position] = Resolved(position, kind, str(row.id), target.witness_id, target)
        return out

    return find


_FINDERS = {
    "transcript_version": _find_transcripts,
    "redaction": _find_by_id(Redaction, "redaction_id", "redaction"),
    "exhibit": _find_by_id(Exhibit, "exhibit_id", "exhibit", Exhibit.status == COMPLETE),
    "incident": _find_by_id(Incident, "incident_id", "incident"),
    "witness_identity": _find_by_id(Witness, "witness_id", "witness_identity"),
}


def _lock_case(case_id: int) -> Case:
    """The case row numbers registrations; taken after the witnesses (see the module doc)."""
    return db.session.execute(
        select(Case).where(Case.id == case_id).with_for_update(key_share=True).execution_options(populate_existing=True)
    ).scalar_one()


def _latest_consents(witness_ids: Iterable[int]) -> dict[int, ConsentRecord]:
    latest: dict[int, ConsentRecord] = {}
    for record in db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.witness_id.in_(list(witness_ids)))
        .order_by(ConsentRecord.witness_id, ConsentRecord.version)
    ):
        latest[record.witness_id] = record  # the last one seen is the highest version
    return latest


def _state(witness: Witness, consent: ConsentRecord | None) -> rules.ConsentState:
    return rules.ConsentState(
        shredded=witness.shredded_at is not None,
        has_record=consent is not None,
        withdrawn=consent is not None and consent.withdrawn_at is not None,
        scopes=consent.scopes if consent is not None else None,
        has_identity=witness.identity_status == "present",
    )


def registration_prefix(case: Case) -> str:
    return case.reference or f"CASE{case.id}"


class _Registrar:
    """Hands out registration numbers for one case, under its row lock: old ones reused, new ones next."""

    def __init__(self, case: Case, items: list[Resolved], disclosure_id: int) -> None:
        self.case, self.disclosure_id = case, disclosure_id
        refs = {item.ref for item in items}
        self.known = {
            (row.kind, row.item_ref): row.number
            for row in db.session.scalars(
                select(EvidenceRegistration).where(
                    EvidenceRegistration.case_id == case.id, EvidenceRegistration.item_ref.in_(refs)
                )
            )
        }
        self.next = (
            db.session.scalar(
                select(func.max(EvidenceRegistration.sequence)).where(EvidenceRegistration.case_id == case.id)
            )
            or 0
        ) + 1
        self.new: list[str] = []

    def number(self, item: Resolved) -> str:
        key = (item.kind, item.ref)
        if key not in self.known:
            number = f"{registration_prefix(self.case)}-{self.next:04d}"
            db.session.add(
                EvidenceRegistration(
                    case_id=self.case.id,
                    kind=item.kind,
                    item_ref=item.ref,
                    sequence=self.next,
                    number=number,
                    first_disclosure_id=self.disclosure_id,
                )
            )
            self.known[key] = number
            self.new.append(number)
            self.next += 1
        return self.known[key]

    def check_unique(self) -> None:
        """Another case's reference could spell the same number: refuse rather than hit the constraint."""
        if not self.new:
            return
        taken = db.session.scalar(
            select(func.count())
            .select_from(EvidenceRegistration)
            .where(EvidenceRegistration.number.in_(self.new), EvidenceRegistration.case_id != self.case.id)
        )
        if taken:
            raise Conflict(
                "Registration numbers of this case collide with another case's; give the case a distinct reference.",
                problem="registration-number-taken",
            )


def create(case_id: int, data: dict[str, Any]) -> Extended:
    """Decide, number and record every item; pending until a second lawyer approves where the
    rules ask for one (``rules.approval_reasons``). Its items never change from here on."""
    recipient = data["recipient"]
    access = load_authorized(
        Case,
        case_id,
        "disclosure.create",
        recipient=recipient,
        include_identity=data["include_identity"],
        include_staff_identity=data["include_staff_identity"],
        items_requested=len(data["items"]),
    )
    if data["include_staff_identity"] and recipient["kind"] not in rules.STAFF_IDENTITY_RECIPIENTS:
        raise Invalid(
            "Staff identities go only to a court (ICC RPE Rule 81(4)); other recipients see staff as pseudonyms.",
            errors={"json": {"include_staff_identity": ["Only for a court."]}},
        )
    items = _resolve(access.obj.id, data["items"])
    witness_ids = sorted({item.witness_id for item in items if item.witness_id is not None})
    witnesses = {witness_id: lock_witness(witness_id) for witness_id in witness_ids}
    case = _lock_case(access.obj.id)
    consents = _latest_consents(witness_ids)
    disclosure = Disclosure(
        case_id=case.id,
        recipient_name=recipient["name"],
        recipient_organisation=recipient["organisation"],
        recipient_kind=recipient["kind"],
        include_identity=data["include_identity"],
        include_staff_identity=data["include_staff_identity"],
        created_by_id=access.user_id,
    )
    db.session.add(disclosure)
    db.session.flush()
    disclosure.sealed_purpose.seal(data["purpose"].encode("utf-8"))
    registrar = _Registrar(case, items, disclosure.id)
    with db.session.no_autoflush:  # nothing goes to the database before the numbers are checked
        rows = [
            _decide(item, disclosure, recipient, data["include_identity"], witnesses, consents, registrar)
            for item in items
        ]
        registrar.check_unique()
    db.session.flush()  # the registrations first: no relationship orders them before the items naming them
    db.session.add_all(rows)
    disclosure.included_count = sum(row.decision == INCLUDED for row in rows)
    disclosure.excluded_count = len(rows) - disclosure.included_count
    redactions = _redactions_of(case.id, rows)
    included = [row for row in rows if row.included]
    reasons = rules.approval_reasons(
        recipient["kind"],
        identity_items=sum(row.kind == "witness_identity" for row in included),
        redacted_sources=sum(
            row.kind == "transcript_version" and bool(redactions.get(row.item_ref)) for row in included
        ),
        staff_identity=data["include_staff_identity"],
    )
    disclosure.approval_reasons = reasons
    disclosure.status = PENDING if reasons else APPROVED
    db.session.flush()
    unused = unused_redactions(rows, redactions)
    access.note(
        created_disclosure=disclosure.id,
        included=disclosure.included_count,
        excluded=disclosure.excluded_count,
        new_registrations=len(registrar.new),
        status=disclosure.status,
        approval_reasons=reasons,
        unused_redactions=[ref["item_ref"] for ref in unused],
    )
    return Extended(disclosure, purpose=data["purpose"], unused_redactions=unused)


def preview(case_id: int, data: dict[str, Any]) -> Extended:
    """What ``create`` would decide, before anything is sent: each item included or excluded and
    why, whether a second lawyer must approve, and the redactions left unused. Nothing is stored,
    numbered or locked; the check is recorded as a read of the case's disclosure decisions (with
    the recipient's kind, never their name), the same rules (``rules.decide``) decide."""
    recipient = data["recipient"]
    access = load_authorized(
        Case,
        case_id,
        PREVIEW_ACTION,
        preview={
            "recipient_kind": recipient["kind"],
            "include_identity": data["include_identity"],
            "include_staff_identity": data["include_staff_identity"],
            "items_requested": len(data["items"]),
        },
    )
    if data["include_staff_identity"] and recipient["kind"] not in rules.STAFF_IDENTITY_RECIPIENTS:
        raise Invalid(
            "Staff identities go only to a court (ICC RPE Rule 81(4)); other recipients see staff as pseudonyms.",
            errors={"json": {"include_staff_identity": ["Only for a court."]}},
        )
    items = _resolve(access.obj.id, data["items"])
    witness_ids = sorted({item.witness_id for item in items if item.witness_id is not None})
    witnesses = {
        witness.id: witness for witness in db.session.scalars(select(Witness).where(Witness.id.in_(witness_ids)))
    }
    consents = _latest_consents(witness_ids)
    rows = []
    for item in items:
        consent = consents.get(item.witness_id) if item.witness_id is not None else None
        state = _state(witnesses[item.witness_id], consent) if item.witness_id is not None else None
        verdict = rules.decide(item.kind, recipient["kind"], state, identity_requested=data["include_identity"])
        rows.append(
            DisclosureItem(  # transient: never added to the session
                case_id=access.obj.id,
                position=item.position,
                kind=item.kind,
                item_ref=item.ref,
                witness_id=item.witness_id,
                decision=INCLUDED if verdict.included else EXCLUDED,
                reason=verdict.reason,
                consent_version=consent.version if consent is not None else None,
                registration_number=None,
            )
        )
    redactions = _redactions_of(access.obj.id, rows)
    included = [row for row in rows if row.included]
    reasons = rules.approval_reasons(
        recipient["kind"],
        identity_items=sum(row.kind == "witness_identity" for row in included),
        redacted_sources=sum(
            row.kind == "transcript_version" and bool(redactions.get(row.item_ref)) for row in included
        ),
        staff_identity=data["include_staff_identity"],
    )
    proposal = Disclosure(
        case_id=access.obj.id,
        recipient_name=recipient["name"],
        recipient_organisation=recipient["organisation"],
        recipient_kind=recipient["kind"],
        include_identity=data["include_identity"],
        include_staff_identity=data["include_staff_identity"],
        created_by_id=access.user_id,
        included_count=len(included),
        excluded_count=len(rows) - len(included),
        approval_reasons=reasons,
        status=PENDING if reasons else APPROVED,
    )
    return Extended(
        proposal, items=rows, purpose=data["purpose"], unused_redactions=unused_redactions(rows, redactions)
    )


def _redactions_of(case_id: int, rows: list[DisclosureItem]) -> dict[str, list[int]]:
    """Redaction ids of each transcript version among ``rows`` (by item ref), in one query."""
    refs = [parse_version_ref(row.item_ref) for row in rows if row.kind == "transcript_version"]
    found: dict[str, list[int]] = defaultdict(list)
    if not refs:
        return found
    interviews = {interview_id for interview_id, _ in refs}
    for redaction in db.session.execute(
        select(Redaction.id, Redaction.interview_id, Redaction.source_version)
        .where(Redaction.case_id == case_id, Redaction.interview_id.in_(interviews))
        .order_by(Redaction.id)
    ):
        found[version_ref(redaction.interview_id, redaction.source_version)].append(redaction.id)
    return found


def unused_redactions(rows: list[DisclosureItem], redactions: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Included transcript versions sent unredacted although a redaction of them exists and is
    not itself disclosed here: the warning a lawyer must read before a name goes out."""
    disclosed = {int(row.item_ref) for row in rows if row.kind == "redaction" and row.included}
    out = []
    for row in rows:
        if row.kind == "transcript_version" and row.included:
            unused = [rid for rid in redactions.get(row.item_ref, []) if rid not in disclosed]
            if unused:
                out.append({"position": row.position, "item_ref": row.item_ref, "redaction_ids": unused})
    return out


def approve(disclosure_id: int) -> Extended:
    """The second lawyer: another lawyer of the case releases a pending disclosure."""
    access = load_authorized(Disclosure, disclosure_id, "disclosure.approve")
    disclosure = db.session.execute(
        select(Disclosure)
        .where(Disclosure.id == access.obj.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    access.note(approval_reasons=disclosure.approval_reasons)  # no user ids: bundles show this event
    if not disclosure.pending:
        raise Conflict(f"This disclosure is {disclosure.status}, not pending approval.", problem="not-pending")
    if disclosure.created_by_id == access.user_id:
        raise Forbidden(
            "The lawyer who proposed a disclosure cannot approve it: another lawyer of the case must.",
            problem="second-person-required",
        )
    rows = list(disclosure.items)
    unused = unused_redactions(rows, _redactions_of(disclosure.case_id, rows))
    disclosure.status, disclosure.approved_by_id, disclosure.approved_at = APPROVED, access.user_id, utcnow()
    db.session.flush()
    access.note(approved=True, unused_redactions=[ref["item_ref"] for ref in unused])
    return Extended(disclosure, purpose=None, unused_redactions=unused)


def _decide(
    item: Resolved,
    disclosure: Disclosure,
    recipient: dict[str, str],
    identity_requested: bool,
    witnesses: dict[int, Witness],
    consents: dict[int, ConsentRecord],
    registrar: _Registrar,
) -> DisclosureItem:
    """One item: the decision under the witness's consent in force, its number if released, its event."""
    consent = consents.get(item.witness_id) if item.witness_id is not None else None
    state = _state(witnesses[item.witness_id], consent) if item.witness_id is not None else None
    verdict = rules.decide(item.kind, recipient["kind"], state, identity_requested=identity_requested)
    decision = INCLUDED if verdict.included else EXCLUDED
    number = registrar.number(item) if verdict.included else None
    consent_version = consent.version if consent is not None else None
    authorize(
        "disclosure.item",
        item.target,
        disclosure_id=disclosure.id,
        kind=item.kind,
        decision=decision,
        reason=verdict.reason,
        registration_number=number,
        consent_version=consent_version,
        recipient=recipient,
    )
    return DisclosureItem(
        disclosure_id=disclosure.id,
        case_id=disclosure.case_id,
        position=item.position,
        kind=item.kind,
        item_ref=item.ref,
        witness_id=item.witness_id,
        decision=decision,
        reason=verdict.reason,
        consent_id=consent.id if consent is not None else None,
        consent_version=consent_version,
        registration_number=number,
    )


def register(case_id: int, args: dict[str, Any]) -> Page:
    """The register: every disclosure of the case, to whom, when, and the decision on each item."""
    case = load_authorized(Case, case_id, "disclosure.list").obj
    page = keyset_page(select(Disclosure).where(Disclosure.case_id == case.id), Disclosure.id, args)
    page["items"] = [Extended(disclosure, purpose=None) for disclosure in page["items"]]
    return page


def read(disclosure_id: int, *, include_purpose: bool = False) -> Extended:
    """One disclosure; with ``include_purpose`` also its purpose (lawyers of the case, logged)."""
    disclosure = load_authorized(Disclosure, disclosure_id, "disclosure.read").obj
    purpose = None
    if include_purpose:
        authorize("disclosure.purpose.read", disclosure.custody_target())
        purpose = purpose_of(disclosure)
    return Extended(disclosure, purpose=purpose)


def purpose_of(disclosure: Disclosure) -> str | None:
    """The sealed purpose (under the KEK: it outlives any one witness's erasure)."""
    if not disclosure.sealed_purpose.present:
        return None
    return disclosure.sealed_purpose.open().decode("utf-8")
