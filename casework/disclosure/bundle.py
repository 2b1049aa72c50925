"""The disclosure bundle: a BagIt zip that proves itself offline, streamed in constant memory.

Before a byte is sent, ``stream_bundle``:

1. decides ``disclosure.bundle`` on the disclosure (the case's lawyers) and records it;
2. walks the included items, re-applies the consent rules as they stand *now* (a witness who
   withdrew since the disclosure was made is withheld, never sent), and records one release
   event per item with the item's own read action (``transcript.read`` ...,
   ``via=disclosure.bundle``), so each item's chain of custody shows the release. Each witness
   is read under a share lock held until those events commit: a withdrawal (which locks the
   witness first) is recorded either before this decision, and withholds the witness's items,
   or after the release;
3. commits those events, then publishes a checkpoint that covers them (the publish path of
   ``flask custody publish``: the signer proves it consistent, the configured witnesses are
   asked to cosign).

Then the generator streams, item by item (the bundle was authorized before any withdrawal recorded
since: the stream releases the witnesses it decided on, ``suspension.release_authorized``, so a
withdrawal during streaming never cuts the zip; a key destroyed meanwhile still withholds its
items): the bytes, the metadata, and every custody event of
the item with its inclusion proof to that one checkpoint; last the disclosure record, the PDF
index, the tag files, the manifests and the signature over the tag manifest (a signed note by
the log's key; see ``bag_format``). Memory holds one item at a time plus a short summary row
per item (for the manifests and the index).
"""
from __future__ import annotations

import base64
import json
import logging
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from casework.access import door
from casework.access.door import Access, authorize, load_authorized
from casework.access.targets import Target
from casework.audit.cli import configured_witnesses
from casework.casefile.service import in_own_app_context
from casework.custody import log, note, publication
from casework.custody.models import TIME_FORMAT
from casework.db import db
from casework.disclosure import bag_format as fmt
from casework.disclosure import custody_trail, index_pdf, rules
from casework.disclosure.bagit_zip import BagZip
from casework.disclosure.models import INCLUDED, Disclosure, DisclosureItem
from casework.errors import Gone
from casework.exhibits.models import Exhibit
from casework.exhibits.service import iter_plaintext
from casework.incidents.models import Incident
from casework.incidents.schemas import IncidentSchema
from casework.interviews.models import Interview
from casework.keys import keyring, open_from, signer
from casework.redactions.models import Redaction
from casework.redactions.service import redacted_text, segments_of
from casework.transcripts.models import TranscriptVersion
from casework.transcripts.service import parse_version_ref, read_content, version_of
from casework.witnesses import suspension
from casework.witnesses.models import ConsentRecord, Witness

logger = logging.getLogger(__name__)

READ_ACTION = {
    "transcript_version": "transcript.read",
    "redaction": "redaction.read",
    "exhibit": "exhibit.read",
    "incident": "incident.read",
    "witness_identity": "witness.identity.read",
}
_BATCH = 200


@dataclass
class _Planned:
    """One item to release: what it is and the access recorded for it (no content)."""

    number: int
    kind: str
    ref: str
    registration: str
    resource_type: str
    witness_id: int | None
    reason: str
    consent_version: int | None
    access: Access[Any]


@dataclass
class _Plan:
    disclosure_id: int
    bag_name: str
    facts: dict[str, Any]
    items: list[_Planned] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)


def stream_bundle(disclosure_id: int) -> tuple[str, Iterator[bytes]]:
    """Authorize and record now (before the response starts); return the file name and the chunks."""
    access = load_authorized(Disclosure, disclosure_id, "disclosure.bundle")
    disclosure = access.obj
    plan = _plan(disclosure)
    access.note(items=len(plan.items), withheld=plan.withheld)
    # Every release is in the log (placed in the tree, and committed) before the checkpoint is
    # signed, and before any byte leaves; the signer must never sign a head that could roll back.
    door.commit()
    checkpoint_note = _checkpoint_covering(log.tree_size())
    size, root = _checkpoint_head(checkpoint_note)
    logger.info("disclosure %s: bundle of %d items to checkpoint %d", disclosure_id, len(plan.items), size)
    return f"{plan.bag_name}.zip", in_own_app_context(_generate(plan, checkpoint_note, size, root))


# --- before streaming ---------------------------------------------------------------------------


def _plan(disclosure: Disclosure) -> _Plan:
    from casework.disclosure.service import purpose_of

    authorize("disclosure.purpose.read", disclosure.custody_target(), via="disclosure.bundle")
    plan = _Plan(disclosure.id, f"disclosure-{disclosure.id}", {
        "disclosure_id": disclosure.id,
        "case_id": disclosure.case_id,
        "recipient": disclosure.recipient,
        "purpose": purpose_of(disclosure),
        "include_identity": disclosure.include_identity,
        "created_at": disclosure.created_at.strftime(TIME_FORMAT),
        "created_by_id": disclosure.created_by_id,
    })
    consent: dict[int, rules.ConsentState] = {}
    after = -1
    while True:
        batch = db.session.scalars(
            select(DisclosureItem).where(DisclosureItem.disclosure_id == disclosure.id,
                                         DisclosureItem.decision == INCLUDED, DisclosureItem.position > after)
            .order_by(DisclosureItem.position).limit(_BATCH)
        ).all()
        for item in batch:
            _plan_item(plan, disclosure, item, consent)
        if len(batch) < _BATCH:
            break
        after = batch[-1].position
        _forget()  # the rows read to decide (with their ciphertexts) are not kept
    return plan


def _consent_now(witness_id: int, cache: dict[int, rules.ConsentState]) -> rules.ConsentState:
    """The witness's consent as committed now, read under a share lock kept until the release is committed."""
    if witness_id not in cache:
        witness = db.session.execute(
            select(Witness).where(Witness.id == witness_id).with_for_update(read=True)
            .options(lazyload(Witness.consents)).execution_options(populate_existing=True)
        ).scalar_one()
        record = db.session.scalars(select(ConsentRecord).where(ConsentRecord.witness_id == witness_id)
                                    .order_by(ConsentRecord.version.desc()).limit(1)).first()
        pending = suspension.suspended(witness_id, fresh=True)
        cache[witness_id] = rules.ConsentState(
            shredded=witness.shredded_at is not None, has_record=record is not None or pending,
            withdrawn=pending or (record is not None and record.withdrawn_at is not None),
            scopes=record.scopes if record is not None else None,
            has_identity=witness.identity_status == "present")
    return cache[witness_id]


def _target(item: DisclosureItem) -> tuple[Target, bool]:
    """The item's custody target, and whether its content is gone (shredded)."""
    if item.kind == "transcript_version":
        interview_id, version = parse_version_ref(item.item_ref)
        interview = db.session.get_one(Interview, interview_id)
        row = version_of(interview_id, version)
        return interview.custody_target().part("transcript", item.item_ref), row.shredded
    model: Any = {"redaction": Redaction, "exhibit": Exhibit, "incident": Incident,
                  "witness_identity": Witness}[item.kind]
    obj = db.session.get_one(model, int(item.item_ref))
    gone = bool(getattr(obj, "shredded", False)) or (
        item.kind == "witness_identity" and obj.identity_status != "present")
    return obj.custody_target(), gone


def _plan_item(plan: _Plan, disclosure: Disclosure, item: DisclosureItem,
               consent: dict[int, rules.ConsentState]) -> None:
    state = _consent_now(item.witness_id, consent) if item.witness_id is not None else None
    verdict = rules.decide(item.kind, disclosure.recipient_kind, state,
                           identity_requested=disclosure.include_identity)
    target, gone = _target(item)
    if gone or not verdict.included:  # withheld: never sent; the bundle's event says which and why
        plan.withheld.append({"registration_number": item.registration_number,
                              "reason": "shredded" if gone else verdict.reason})
        return
    access = authorize(READ_ACTION[item.kind], target, via="disclosure.bundle", disclosure_id=disclosure.id,
                       registration_number=item.registration_number, recipient=disclosure.recipient)
    plan.items.append(_Planned(len(plan.items) + 1, item.kind, item.item_ref, item.registration_number or "",
                               item.resource_type, item.witness_id, item.reason, item.consent_version, access))
    if len(plan.items) % _BATCH == 0:
        access.spill()  # bounded statements; the queue stays short


def _checkpoint_covering(size: int) -> str:
    """The latest published checkpoint if it covers this bundle's events, else a new one through
    the one publication path (which waits for any publisher at work), with its cosignatures."""
    published = publication.served(signer())
    if published is None or published.size < size:
        result = publication.publish(signer(), configured_witnesses())
        logger.info("bundle checkpoint %d cosignatures: %s", result.published.size, result.cosignatures)
        published = result.published
    return published.cosigned


def _checkpoint_head(signed: str) -> tuple[int, bytes]:
    parsed = note.parse_checkpoint(note.open_note(signed, signer().vkey()))
    return parsed.size, parsed.root


# --- streaming -----------------------------------------------------------------------------------


@dataclass
class _Content:
    chunks: Iterator[bytes] | list[bytes]
    media_type: str
    extension: str
    description: str
    extra: dict[str, Any]
    origin: custody_trail.Origin | None = None
    sources: list[tuple[str, str, str, custody_trail.Origin | None]] = field(default_factory=list)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8") + b"\n"


def _content(planned: _Planned) -> _Content:
    """The item's bytes (or an iterator over them); Gone if its key was destroyed meanwhile."""
    kind, ref = planned.kind, planned.ref
    if kind == "transcript_version":
        interview_id, number = parse_version_ref(ref)
        version = version_of(interview_id, number)
        text = read_content(version, planned.access)
        return _Content([text], version.media_type, ".txt", f"transcript, interview {interview_id} version {number}",
                        {"interview_id": interview_id, "version": number,
                         "created_at": version.created_at.strftime(TIME_FORMAT)},
                        custody_trail.Origin("interview", str(interview_id), "transcript.create", "created", ref))
    if kind == "redaction":
        redaction = db.session.get_one(Redaction, int(ref))
        text = redacted_text(redaction)
        return _Content([text], "text/plain; charset=utf-8", ".txt",
                        f"redacted transcript {redaction.source_ref} (redaction {redaction.number})",
                        {"source": {"kind": "transcript_version", "ref": redaction.source_ref},
                         "spans": redaction.spans, "segments": segments_of(redaction),
                         "created_at": redaction.created_at.strftime(TIME_FORMAT)},
                        custody_trail.Origin("transcript", redaction.source_ref, "redaction.create",
                                             "created_redaction", redaction.id),
                        [("source-custody.jsonl", "transcript", redaction.source_ref,
                          custody_trail.Origin("interview", str(redaction.interview_id), "transcript.create",
                                               "created", redaction.source_ref))])
    if kind == "exhibit":
        exhibit = db.session.get_one(Exhibit, int(ref))
        media_type = exhibit.media_type or "application/octet-stream"
        extension = mimetypes.guess_extension(media_type.split(";")[0].strip()) or ".bin"
        return _Content(iter_plaintext(exhibit), media_type, extension, f"exhibit {exhibit.id} ({exhibit.kind})",
                        {"exhibit_kind": exhibit.kind, "interview_id": exhibit.interview_id,
                         "incident_id": exhibit.incident_id,
                         "captured_at": exhibit.captured_at.strftime(TIME_FORMAT) if exhibit.captured_at else None},
                        custody_trail.Origin("interview" if exhibit.interview_id is not None else "incident",
                                             str(exhibit.interview_id or exhibit.incident_id),
                                             "exhibit.upload.create" if exhibit.interview_id is not None
                                             else "incident.exhibit.upload.create", "created_exhibit_id", exhibit.id))
    if kind == "incident":
        incident = db.session.get_one(Incident, int(ref))
        return _Content([_json_bytes(IncidentSchema().dump(incident))], "application/json", ".json",
                        f"incident {incident.reference}", {},
                        custody_trail.Origin("case", str(incident.case_id), "incident.create", "created_incident_id",
                                             incident.id))
    witness = db.session.get_one(Witness, int(ref))
    identity = json.loads(open_from(witness, "identity_", witness.identity_context()))
    return _Content([_json_bytes({"pseudonym": witness.pseudonym, "identity": identity})], "application/json",
                    ".json", f"identity of witness {witness.pseudonym}", {"pseudonym": witness.pseudonym},
                    custody_trail.Origin("case", str(witness.case_id), "witness.create", "created_witness_id",
                                         witness.id))


_ITEM_ROWS = (TranscriptVersion, Redaction, Exhibit, Incident, Witness, Interview)


def _forget() -> None:
    """Drop the item rows just streamed from the session (never the caller's own user)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, _ITEM_ROWS):
            db.session.expunge(obj)


def _custody(resource_type: str, resource_id: str, origin: custody_trail.Origin | None, size: int, root: bytes,
             summary: index_pdf.CustodySummary | None) -> Iterator[bytes]:
    for entry, line in custody_trail.proved_lines(custody_trail.trail(resource_type, resource_id, size, origin),
                                                  size, root):
        if summary is not None:
            summary.add(entry)
        yield line


def _generate(plan: _Plan, checkpoint_note: str, size: int, root: bytes) -> Iterator[bytes]:
    suspension.release_authorized({item.witness_id for item in plan.items if item.witness_id is not None})
    bag = BagZip(plan.bag_name)
    yield from bag.start()
    listing: list[dict[str, Any]] = []
    index = index_pdf.IndexBuilder(_index_header(plan, size, root))
    try:
        yield from _stream_items(bag, plan, index, listing, size, root)
        pdf = index.finish()
    finally:
        index.close()
    yield from bag.payload(fmt.DISCLOSURE_CUSTODY_FILE,
                           _custody("disclosure", str(plan.disclosure_id), None, size, root, None), deflate=True)
    record = {**plan.facts, "bag": plan.bag_name, "items": listing, "withheld_items": len(plan.withheld),
              "checkpoint": {"tree_size": size, "root_hash": root.hex()}}
    yield from bag.payload(fmt.DISCLOSURE_FILE, [_json_bytes(record)], deflate=True)
    yield from bag.payload(fmt.INDEX_FILE, [pdf])
    yield from bag.tag(fmt.CHECKPOINT_FILE, checkpoint_note.encode("utf-8"))
    yield from bag.tag(fmt.LOG_VKEY_FILE, (signer().vkey() + "\n").encode("utf-8"))
    yield from bag.tag(fmt.WITNESS_VKEYS_FILE, "".join(w.vkey + "\n" for w in configured_witnesses()).encode())
    yield from bag.finish(_bag_info(plan, listing, size), _signer(plan, size, root))


def _stream_items(bag: BagZip, plan: _Plan, index: index_pdf.IndexBuilder, listing: list[dict[str, Any]],
                  size: int, root: bytes) -> Iterator[bytes]:
    """Each item: its bytes, its metadata, its custody records; one item in memory at a time."""
    for planned in plan.items:
        try:
            content = _content(planned)
        except Gone:  # shredded between the decision above and now: left out, counted
            plan.withheld.append({"registration_number": planned.registration, "reason": "shredded"})
            continue
        directory = fmt.item_dir(planned.number)
        name = fmt.safe_name(planned.registration or f"item-{planned.number}") + content.extension
        yield from bag.payload(f"{directory}/{name}", content.chunks)
        digest, length = bag.last
        custody_files = [(fmt.CUSTODY_NAME, planned.resource_type, planned.ref, content.origin), *content.sources]
        metadata = {
            "registration_number": planned.registration, "kind": planned.kind, "item_ref": planned.ref,
            "content_file": name, "media_type": content.media_type, "sha256": digest,
            "size": length, "description": content.description,
            "custody_resource": {"type": planned.resource_type, "id": planned.ref},
            "custody_files": [{"file": f, "resource": {"type": t, "id": i}, "origin": o.to_json() if o else None}
                              for f, t, i, o in custody_files],
            "decision": {"reason": planned.reason, "consent_version": planned.consent_version},
            **content.extra,
        }
        yield from bag.payload(f"{directory}/{fmt.METADATA_NAME}", [_json_bytes(metadata)], deflate=True)
        summary = index_pdf.CustodySummary()
        for file_name, resource_type, resource_id, origin in custody_files:
            yield from bag.payload(f"{directory}/{file_name}",
                                   _custody(resource_type, resource_id, origin, size, root,
                                            summary if file_name == fmt.CUSTODY_NAME else None), deflate=True)
        index.add(index_pdf.IndexRow(planned.registration, content.description, f"{directory}/{name}",
                                     digest, length, summary.lines(f"{directory}/{fmt.CUSTODY_NAME}")))
        listing.append({"number": planned.number, "directory": directory,
                        "registration_number": planned.registration, "kind": planned.kind})
        _forget()  # one item's rows at a time, however many items
        db.session.rollback()  # and no read transaction held across items (SQLite: no lock held for long)


def _index_header(plan: _Plan, size: int, root: bytes) -> index_pdf.IndexHeader:
    recipient = plan.facts["recipient"]
    return index_pdf.IndexHeader(f"Disclosure {plan.disclosure_id}: index of evidence", [
        ("Recipient", f"{recipient['name']}, {recipient['organisation']} ({recipient['kind']})"),
        ("Purpose", plan.facts["purpose"] or "-"),
        ("Disclosed", f"{plan.facts['created_at']} (case {plan.facts['case_id']})"),
        ("Bag", f"{plan.bag_name} (BagIt 1.0; verify with: python -m casework.disclosure.verify "
                f"{plan.bag_name}.zip --vkey LOG.vkey)"),
        ("Custody log", f"{keyring().log_name()}, checkpoint of {size} events, root {root.hex()}"),
        ("Items", f"{len(plan.items)} included; {len(plan.withheld)} withheld since the disclosure was made"),
    ])


def _bag_info(plan: _Plan, listing: list[dict[str, Any]], size: int) -> list[tuple[str, str]]:
    recipient = plan.facts["recipient"]
    rows = [
        ("Source-Organization", f"Casework ({keyring().log_name()})"),
        ("External-Identifier", plan.bag_name),
        ("External-Description", f"Disclosure {plan.disclosure_id} of case {plan.facts['case_id']} to "
                                 f"{recipient['name']}, {recipient['organisation']}"),
        ("Recipient-Name", recipient["name"]),
        ("Recipient-Organisation", recipient["organisation"]),
        ("Recipient-Kind", recipient["kind"]),
        ("Disclosure-Id", str(plan.disclosure_id)),
        ("Custody-Log", keyring().log_name()),
        ("Custody-Checkpoint-Size", str(size)),
        ("Withheld-Items", str(len(plan.withheld))),
    ]
    rows += [("Registration-Number", item["registration_number"]) for item in listing]
    return rows


def _signer(plan: _Plan, size: int, root: bytes) -> Any:
    def sign(tagmanifest_sha256: str) -> str:
        text = fmt.BundleSignature(plan.disclosure_id, plan.bag_name, tagmanifest_sha256, size,
                                   base64.b64encode(root).decode("ascii")).text()
        return note.sign_note(text, keyring().log_name(), keyring().signing_key())
    return sign
