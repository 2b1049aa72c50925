"""The disclosure bundle: a BagIt zip that proves itself offline, a file with the same bytes every time.

Before a byte is sent, ``open_bundle``:

1. decides ``disclosure.bundle`` on the disclosure (the case's lawyers) and records it; a
   disclosure still waiting for its second lawyer is refused (409);
2. re-applies the consent rules to every included item as they stand *now*: if a witness
   withdrew (or an item was shredded) since the disclosure was made, the whole bundle is
   withheld (410) before the first byte, naming the registration numbers; a new disclosure
   decides afresh. Each witness is read under a share lock held until the release events
   commit, so a withdrawal is either before this decision or after the release;
3. records one release event per item with the item's own read action (``transcript.read``
   ..., ``via=disclosure.bundle``), and commits them;
4. at the first download only, *freezes* the bundle: publishes a checkpoint covering those
   events (the one publication path: the signer proves it consistent, the witnesses cosign),
   keeps it, the witnesses' keys and the time on the disclosure row, generates the zip once to
   learn its length and SHA-256, and stores them (compare-and-set: two first downloads at once
   agree on the first one stored).

Every download then generates the same bytes from the frozen facts (``_generate``): the items
and their custody up to the frozen checkpoint, in the same order, with fixed zip times and a
deterministic PDF and signature. So the answer has Content-Length, a strong ETag (the SHA-256),
``Repr-Digest`` (RFC 9530), and honours ``Range`` / ``If-Range`` by skipping to the bytes asked
for. Memory holds one item at a time plus a short summary row per item.

The custody trail proves without naming (``custody_trail.TrailPolicy``): staff appear as
per-disclosure pseudonyms, identities as salted commitments, and other people's refused
attempts and other disclosures' entries by their leaf hashes alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from casework import ranges
from casework.access import door
from casework.access.door import Access, authorize, load_authorized
from casework.access.targets import Target
from casework.auth.models import User
from casework.custody import log, publication
from casework.custody.models import TIME_FORMAT
from casework.custody.signer import signer
from casework.db import db, utcnow
from casework.disclosure import custody_trail, index_pdf, rules
from casework.disclosure.bagit_zip import BagZip
from casework.disclosure.models import INCLUDED, Disclosure, DisclosureItem
from casework.errors import Conflict, Gone
from casework.exhibits.content import iter_plaintext
from casework.exhibits.models import Exhibit
from casework.incidents.models import Incident
from casework.incidents.schemas import IncidentSchema
from casework.interviews.models import Interview
from casework.keys import keyring
from casework.redactions.models import Redaction
from casework.redactions.service import marker, redacted_text, segments_of
from casework.streaming import in_own_app_context
from casework.transcripts.models import TranscriptVersion
from casework.transcripts.service import parse_version_ref, read_content, version_of
from casework.witnesses import suspension
from casework.witnesses.models import ConsentRecord, Witness
from casework_verify import bag_format as fmt
from casework_verify import note

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
    case_id: int
    bag_name: str
    facts: dict[str, Any]
    reveal_staff: bool
    proposed_by_id: int
    approved_by_id: int | None
    items: list[_Planned] = field(default_factory=list)


@dataclass(frozen=True)
class Frozen:
    """What fixes a bundle's bytes, kept on the disclosure at its first download."""

    tree_size: int
    root: bytes
    checkpoint: str
    witness_vkeys: str
    bagged_at: datetime
    length: int
    sha256: bytes

    @property
    def etag(self) -> str:
        return f'"{self.sha256.hex()}"'


@dataclass(frozen=True)
class BundleFile:
    """One answer: the bundle's name, what fixes it, and the bytes selected (all, or a range)."""

    filename: str
    frozen: Frozen
    selected: ranges.Selected
    chunks: Iterator[bytes]


def open_bundle(disclosure_id: int, spec: ranges.ByteRange | None, if_range: str | None) -> BundleFile:
    """Authorize and record now (before the response starts); freeze at the first download."""
    access = load_authorized(Disclosure, disclosure_id, "disclosure.bundle")
    disclosure = access.obj
    if disclosure.pending:
        access.note(refused="approval_pending")
        raise Conflict(
            "This disclosure waits for a second lawyer of the case to approve it; nothing is released until then.",
            problem="approval-pending",
        )
    plan = _plan(disclosure)
    access.note(items=len(plan.items), first_download=not disclosure.frozen)
    frozen = _frozen(disclosure_id)
    if frozen is not None:  # a range past the end is refused before anything is recorded as released
        selected = _select(spec, if_range, frozen)
    # Every release is in the log (placed in the tree, and committed) before the checkpoint is
    # signed, and before any byte leaves; the signer must never sign a head that could roll back.
    door.commit()
    if frozen is None:
        frozen = _freeze(plan)
        selected = _select(spec, if_range, frozen)
    logger.info(
        "disclosure %s: bundle of %d items to checkpoint %d, bytes %d-%d of %d",
        disclosure_id,
        len(plan.items),
        frozen.tree_size,
        selected.start,
        selected.end,
        frozen.length,
    )
    chunks = _slice(_generate(plan, frozen), selected, frozen)
    return BundleFile(f"{plan.bag_name}.zip", frozen, selected, in_own_app_context(chunks))


# --- before streaming ---------------------------------------------------------------------------


def _plan(disclosure: Disclosure) -> _Plan:
    """Decide every included item under the consent in force now; all released, or none (410)."""
    from casework.disclosure.service import purpose_of

    authorize("disclosure.purpose.read", disclosure.custody_target(), via="disclosure.bundle")
    plan = _Plan(
        disclosure.id,
        disclosure.case_id,
        f"disclosure-{disclosure.id}",
        {
            "disclosure_id": disclosure.id,
            "case_id": disclosure.case_id,
            "recipient": disclosure.recipient,
            "purpose": purpose_of(disclosure),
            "include_identity": disclosure.include_identity,
            "include_staff_identity": disclosure.include_staff_identity,
            "approval_reasons": disclosure.approval_reasons,
            "created_at": disclosure.created_at.strftime(TIME_FORMAT),
            "approved_at": disclosure.approved_at.strftime(TIME_FORMAT) if disclosure.approved_at else None,
        },
        disclosure.include_staff_identity,
        disclosure.created_by_id,
        disclosure.approved_by_id,
    )
    consent: dict[int, rules.ConsentState] = {}
    decided: list[tuple[DisclosureItem, Target]] = []
    withheld: list[dict[str, Any]] = []
    for item in _included(disclosure.id):
        state = _consent_now(item.witness_id, consent) if item.witness_id is not None else None
        verdict = rules.decide(
            item.kind, disclosure.recipient_kind, state, identity_requested=disclosure.include_identity
        )
        target, gone = _target(item)
        if gone or not verdict.included:
            withheld.append(
                {"registration_number": item.registration_number, "reason": "shredded" if gone else verdict.reason}
            )
        else:
            decided.append((item, target))
    if withheld:
        numbers = ", ".join(str(row["registration_number"]) for row in withheld[:20])
        raise Gone(
            f"Since this disclosure was made, {len(withheld)} of its items can no longer be released "
            f"(consent withdrawn or records shredded): {numbers}. Nothing is sent; make a new disclosure, "
            "which decides every item afresh.",
            problem="disclosure-withheld",
        )
    for item, target in decided:
        access = authorize(
            READ_ACTION[item.kind],
            target,
            via="disclosure.bundle",
            disclosure_id=disclosure.id,
            registration_number=item.registration_number,
            recipient=disclosure.recipient,
        )
        plan.items.append(
            _Planned(
                len(plan.items) + 1,
                item.kind,
                item.item_ref,
                item.registration_number or "",
                item.resource_type,
                item.witness_id,
                item.reason,
                item.consent_version,
                access,
            )
        )
        if len(plan.items) % _BATCH == 0:
            access.spill()  # bounded statements; the queue stays short
    return plan


def _included(disclosure_id: int) -> Iterator[DisclosureItem]:
    """The included items in order, read in batches (the rows read with their ciphertexts are not kept)."""
    after = -1
    while True:
        batch = db.session.scalars(
            select(DisclosureItem)
            .where(
                DisclosureItem.disclosure_id == disclosure_id,
                DisclosureItem.decision == INCLUDED,
                DisclosureItem.position > after,
            )
            .order_by(DisclosureItem.position)
            .limit(_BATCH)
        ).all()
        yield from batch
        if len(batch) < _BATCH:
            return
        after = batch[-1].position
        _forget()


def _consent_now(witness_id: int, cache: dict[int, rules.ConsentState]) -> rules.ConsentState:
    """The witness's consent as committed now, read under a share lock kept until the release is committed."""
    if witness_id not in cache:
        witness = db.session.execute(
            select(Witness)
            .where(Witness.id == witness_id)
            .with_for_update(read=True)
            .options(lazyload(Witness.consents))
            .execution_options(populate_existing=True)
        ).scalar_one()
        record = db.session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.witness_id == witness_id)
            .order_by(ConsentRecord.version.desc())
            .limit(1)
        ).first()
        pending = suspension.suspended(witness_id, fresh=True)
        cache[witness_id] = rules.ConsentState(
            shredded=witness.shredded_at is not None,
            has_record=record is not None or pending,
            withdrawn=pending or (record is not None and record.withdrawn_at is not None),
            scopes=record.scopes if record is not None else None,
            has_identity=witness.identity_status == "present",
        )
    return cache[witness_id]


def _target(item: DisclosureItem) -> tuple[Target, bool]:
    """The item's custody target, and whether its content is gone (shredded)."""
    if item.kind == "transcript_version":
        interview_id, version = parse_version_ref(item.item_ref)
        interview = db.session.get_one(Interview, interview_id)
        row = version_of(interview_id, version)
        return interview.custody_target().part("transcript", item.item_ref), row.shredded
    model: Any = {"redaction": Redaction, "exhibit": Exhibit, "incident": Incident, "witness_identity": Witness}[
        item.kind
    ]
    obj = db.session.get_one(model, int(item.item_ref))
    gone = bool(getattr(obj, "shredded", False)) or (
        item.kind == "witness_identity" and obj.identity_status != "present"
    )
    return obj.custody_target(), gone


def _select(spec: ranges.ByteRange | None, if_range: str | None, frozen: Frozen) -> ranges.Selected:
    return ranges.select(spec if ranges.if_range_allows(if_range, frozen.etag) else None, frozen.length)


def _frozen(disclosure_id: int) -> Frozen | None:
    row = db.session.execute(
        select(Disclosure).where(Disclosure.id == disclosure_id).execution_options(populate_existing=True)
    ).scalar_one()
    if not row.frozen:
        return None
    assert row.bundle_tree_size is not None and row.bundle_checkpoint is not None
    assert row.bundle_frozen_at is not None and row.bundle_length is not None and row.bundle_sha256 is not None
    size, root = _checkpoint_head(row.bundle_checkpoint)
    if size != row.bundle_tree_size:
        raise Conflict("The bundle's frozen checkpoint does not match its size.", problem="bundle-inconsistent")
    return Frozen(
        size,
        root,
        row.bundle_checkpoint,
        row.bundle_witness_vkeys or "",
        row.bundle_frozen_at,
        row.bundle_length,
        row.bundle_sha256,
    )


def _freeze(plan: _Plan) -> Frozen:
    """The first download: a checkpoint covering the releases, then the bytes once, to know them."""
    checkpoint_note = _checkpoint_covering(log.tree_size())
    size, root = _checkpoint_head(checkpoint_note)
    witness_vkeys = "".join(w.vkey + "\n" for w in publication.configured_witnesses())
    draft = Frozen(size, root, checkpoint_note, witness_vkeys, utcnow().replace(microsecond=0), 0, b"")
    digest, length = hashlib.sha256(), 0
    db.session.rollback()  # no transaction of this request open while the bytes are read in their own
    for chunk in in_own_app_context(_generate(plan, draft)):
        digest.update(chunk)
        length += len(chunk)
    db.session.rollback()
    db.session.execute(
        update(Disclosure)
        .where(Disclosure.id == plan.disclosure_id, Disclosure.bundle_length.is_(None))
        .values(
            bundle_tree_size=size,
            bundle_checkpoint=checkpoint_note,
            bundle_witness_vkeys=witness_vkeys,
            bundle_frozen_at=draft.bagged_at,
            bundle_length=length,
            bundle_sha256=digest.digest(),
        )
    )
    door.commit()
    frozen = _frozen(plan.disclosure_id)  # ours, or the one a concurrent first download stored before us
    assert frozen is not None
    return frozen


def _checkpoint_covering(size: int) -> str:
    """The latest published checkpoint if it covers this bundle's events, else a new one through
    the one publication path (which waits for any publisher at work), with its cosignatures."""
    published = publication.served(signer())
    if published is None or published.size < size:
        result = publication.publish(signer(), publication.configured_witnesses())
        logger.info("bundle checkpoint %d cosignatures: %s", result.published.size, result.cosignatures)
        published = result.published
    return published.cosigned


def _checkpoint_head(signed: str) -> tuple[int, bytes]:
    parsed = note.parse_checkpoint(note.open_note(signed, signer().vkey()))
    return parsed.size, parsed.root


def _slice(chunks: Iterator[bytes], selected: ranges.Selected, frozen: Frozen) -> Iterator[bytes]:
    """The selected bytes of the generated bundle; a whole download is checked against the frozen
    digest as it goes out (a mismatch means the stored records changed since: logged as critical)."""
    position, digest = 0, hashlib.sha256()
    for chunk in chunks:
        if not selected.partial:
            digest.update(chunk)
        begin, position = position, position + len(chunk)
        if position <= selected.start:
            continue
        yield chunk[max(selected.start - begin, 0) : selected.end + 1 - begin]
        if position > selected.end:
            break
    if not selected.partial and (position != frozen.length or digest.digest() != frozen.sha256):
        logger.critical(
            "bundle %s regenerated with other bytes than when it was frozen (%d bytes, sha256 %s): "
            "its records changed since",
            frozen.etag,
            position,
            digest.hexdigest(),
        )


# --- the bytes -----------------------------------------------------------------------------------


@dataclass
class _Content:
    chunks: Iterator[bytes] | list[bytes]
    media_type: str
    extension: str
    description: str
    extra: dict[str, Any]
    origin: custody_trail.Origin | None = None
    # (file name, resource type, resource id, origin, withheld reason for every entry or None)
    sources: list[tuple[str, str, str, custody_trail.Origin | None, str | None]] = field(default_factory=list)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8") + b"\n"


def _redaction_map(redaction: Redaction) -> dict[str, Any]:
    """What a recipient learns of a redaction: each marker's category and legal basis, in order, and
    each kept segment's salted hash; never an offset or a length (the markers are fixed text)."""
    return {
        "markers": [
            {"marker": marker(span["category"]), "category": span["category"], "legal_basis": span["legal_basis"]}
            for span in redaction.spans
        ],
        "segments": [{"salt": segment["salt"], "sha256": segment["sha256"]} for segment in segments_of(redaction)],
    }


def _content(planned: _Planned) -> _Content:
    """The item's bytes (or an iterator over them); Gone if its key was destroyed meanwhile."""
    kind, ref = planned.kind, planned.ref
    if kind == "transcript_version":
        interview_id, number = parse_version_ref(ref)
        version = version_of(interview_id, number)
        text = read_content(version, planned.access)
        return _Content(
            [text],
            version.media_type,
            ".txt",
            f"transcript, interview {interview_id} version {number}",
            {"interview_id": interview_id, "version": number, "created_at": version.created_at.strftime(TIME_FORMAT)},
            custody_trail.Origin("interview", str(interview_id), "transcript.create", "created", ref),
        )
    if kind == "redaction":
        redaction = db.session.get_one(Redaction, int(ref))
        text = redacted_text(redaction)
        return _Content(
            [text],
            "text/plain; charset=utf-8",
            ".txt",
            f"redacted transcript {redaction.source_ref} (redaction {redaction.number})",
            {
                "source": {"kind": "transcript_version", "ref": redaction.source_ref},
                "redaction_map": _redaction_map(redaction),
                "created_at": redaction.created_at.strftime(TIME_FORMAT),
            },
            custody_trail.Origin(
                "transcript", redaction.source_ref, "redaction.create", "created_redaction", redaction.id
            ),
            [
                (
                    "source-custody.jsonl",
                    "transcript",
                    redaction.source_ref,
                    custody_trail.Origin(
                        "interview", str(redaction.interview_id), "transcript.create", "created", redaction.source_ref
                    ),
                    custody_trail.REDACTION_SOURCE,
                )
            ],
        )
    if kind == "exhibit":
        exhibit = db.session.get_one(Exhibit, int(ref))
        media_type = exhibit.media_type or "application/octet-stream"
        extension = mimetypes.guess_extension(media_type.split(";")[0].strip()) or ".bin"
        return _Content(
            iter_plaintext(exhibit),
            media_type,
            extension,
            f"exhibit {exhibit.id} ({exhibit.kind})",
            {
                "exhibit_kind": exhibit.kind,
                "interview_id": exhibit.interview_id,
                "incident_id": exhibit.incident_id,
                "captured_at": exhibit.captured_at.strftime(TIME_FORMAT) if exhibit.captured_at else None,
            },
            custody_trail.Origin(
                "interview" if exhibit.interview_id is not None else "incident",
                str(exhibit.interview_id or exhibit.incident_id),
                "exhibit.upload.create" if exhibit.interview_id is not None else "incident.exhibit.upload.create",
                "created_exhibit_id",
                exhibit.id,
            ),
        )
    if kind == "incident":
        incident = db.session.get_one(Incident, int(ref))
        return _Content(
            [_json_bytes(_INCIDENT.dump(incident))],
            "application/json",
            ".json",
            f"incident {incident.reference}",
            {},
            custody_trail.Origin("case", str(incident.case_id), "incident.create", "created_incident_id", incident.id),
        )
    witness = db.session.get_one(Witness, int(ref))
    identity = json.loads(witness.sealed_identity.open())
    return _Content(
        [_json_bytes({"pseudonym": witness.pseudonym, "identity": identity})],
        "application/json",
        ".json",
        f"identity of witness {witness.pseudonym}",
        {"pseudonym": witness.pseudonym},
        custody_trail.Origin("case", str(witness.case_id), "witness.create", "created_witness_id", witness.id),
    )


_INCIDENT = IncidentSchema(exclude=("created_by_id",))  # staff appear in a bundle as pseudonyms only
_ITEM_ROWS = (TranscriptVersion, Redaction, Exhibit, Incident, Witness, Interview)


def _forget() -> None:
    """Drop the item rows just streamed from the session (never the caller's own user)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, _ITEM_ROWS):
            db.session.expunge(obj)


def _custody(
    resource_type: str,
    resource_id: str,
    origin: custody_trail.Origin | None,
    frozen: Frozen,
    policy: custody_trail.TrailPolicy,
    summary: index_pdf.CustodySummary | None,
    withhold: str | None = None,
) -> Iterator[bytes]:
    entries = custody_trail.trail(resource_type, resource_id, frozen.tree_size, origin)
    for proved in custody_trail.proved(entries, frozen.tree_size, frozen.root):
        shown = policy.line(proved, withhold)
        if summary is not None:
            summary.add(shown.entry, shown.staff)
        yield shown.text


def _generate(plan: _Plan, frozen: Frozen) -> Iterator[bytes]:
    """The bundle's bytes, from the frozen facts alone: the same every time."""
    suspension.release_authorized({item.witness_id for item in plan.items if item.witness_id is not None})
    policy = custody_trail.TrailPolicy(plan.disclosure_id, reveal_staff=plan.reveal_staff)
    bag = BagZip(plan.bag_name, frozen.bagged_at)
    try:
        yield from _bag(bag, plan, frozen, policy)
    finally:
        bag.abandon()


def _bag(bag: BagZip, plan: _Plan, frozen: Frozen, policy: custody_trail.TrailPolicy) -> Iterator[bytes]:
    yield from bag.start()
    listing: list[dict[str, Any]] = []
    index = index_pdf.IndexBuilder(_index_header(plan, frozen))
    try:
        yield from _stream_items(bag, plan, index, listing, frozen, policy)
        pdf = index.finish()
    finally:
        index.close()
    yield from bag.payload(
        fmt.DISCLOSURE_CUSTODY_FILE,
        _custody(
            "disclosure",
            str(plan.disclosure_id),
            custody_trail.Origin(
                "case", str(plan.case_id), "disclosure.create", "created_disclosure", plan.disclosure_id
            ),
            frozen,
            policy,
            None,
        ),
        deflate=True,
    )
    record = {
        **plan.facts,
        "bag": plan.bag_name,
        "items": listing,
        "proposed_by": policy.staff(plan.proposed_by_id),
        "approved_by": policy.staff(plan.approved_by_id),
        "checkpoint": {"tree_size": frozen.tree_size, "root_hash": frozen.root.hex()},
    }
    if plan.reveal_staff:
        record["staff"] = _staff_names(policy)
    yield from bag.payload(fmt.DISCLOSURE_FILE, [_json_bytes(record)], deflate=True)
    yield from bag.payload(fmt.INDEX_FILE, [pdf])
    log_vkey = signer().vkey() + "\n"
    yield from bag.tag(fmt.CHECKPOINT_FILE, frozen.checkpoint.encode("utf-8"))
    yield from bag.tag(fmt.LOG_VKEY_FILE, log_vkey.encode("utf-8"))
    yield from bag.tag(fmt.WITNESS_VKEYS_FILE, frozen.witness_vkeys.encode("utf-8"))
    yield from bag.tag(fmt.README_FILE, _readme(plan, frozen, log_vkey).encode("utf-8"))
    yield from bag.finish(_bag_info(plan, listing, frozen.tree_size), _signer(plan, frozen))


def _staff_names(policy: custody_trail.TrailPolicy) -> dict[str, str]:
    """Pseudonym -> username, for a court that was given staff identities (approved by a second lawyer)."""
    known = policy.pseudonyms()
    names: dict[int, str] = dict(
        db.session.execute(select(User.id, User.username).where(User.id.in_(list(known)))).all()
    )
    return {pseudonym: names.get(user_id, f"user {user_id}") for user_id, pseudonym in known.items()}


def _stream_items(
    bag: BagZip,
    plan: _Plan,
    index: index_pdf.IndexBuilder,
    listing: list[dict[str, Any]],
    frozen: Frozen,
    policy: custody_trail.TrailPolicy,
) -> Iterator[bytes]:
    """Each item: its bytes, its metadata, its custody records; one item in memory at a time."""
    for planned in plan.items:
        content = _content(planned)  # Gone (a key destroyed since the decision) cuts the stream: see open_bundle
        directory = fmt.item_dir(planned.number)
        name = fmt.safe_name(planned.registration or f"item-{planned.number}") + content.extension
        yield from bag.payload(f"{directory}/{name}", content.chunks)
        digest, length = bag.last
        custody_files = [(fmt.CUSTODY_NAME, planned.resource_type, planned.ref, content.origin, None), *content.sources]
        metadata = {
            "registration_number": planned.registration,
            "kind": planned.kind,
            "item_ref": planned.ref,
            "content_file": name,
            "media_type": content.media_type,
            "sha256": digest,
            "size": length,
            "description": content.description,
            "custody_resource": {"type": planned.resource_type, "id": planned.ref},
            "custody_files": [
                {"file": f, "resource": {"type": t, "id": i}, "origin": o.to_json() if o else None, "withheld": w}
                for f, t, i, o, w in custody_files
            ],
            "decision": {"reason": planned.reason, "consent_version": planned.consent_version},
            **content.extra,
        }
        yield from bag.payload(f"{directory}/{fmt.METADATA_NAME}", [_json_bytes(metadata)], deflate=True)
        summary = index_pdf.CustodySummary()
        for file_name, resource_type, resource_id, origin, withhold in custody_files:
            yield from bag.payload(
                f"{directory}/{file_name}",
                _custody(
                    resource_type,
                    resource_id,
                    origin,
                    frozen,
                    policy,
                    summary if file_name == fmt.CUSTODY_NAME else None,
                    withhold,
                ),
                deflate=True,
            )
        index.add(
            index_pdf.IndexRow(
                planned.registration,
                content.description,
                f"{directory}/{name}",
                digest,
                length,
                summary.lines(f"{directory}/{fmt.CUSTODY_NAME}"),
            )
        )
        listing.append(
            {
                "number": planned.number,
                "directory": directory,
                "registration_number": planned.registration,
                "kind": planned.kind,
            }
        )
        _forget()  # one item's rows at a time, however many items
        db.session.rollback()  # and no read transaction held across items (SQLite: no lock held for long)


def _verify_hint(plan: _Plan) -> str:
    return f"casework-verify bundle {plan.bag_name}.zip --vkey LOG.vkey --witness-key WITNESS.vkey"


def _index_header(plan: _Plan, frozen: Frozen) -> index_pdf.IndexHeader:
    recipient = plan.facts["recipient"]
    return index_pdf.IndexHeader(
        f"Disclosure {plan.disclosure_id}: index of evidence",
        [
            ("Recipient", f"{recipient['name']}, {recipient['organisation']} ({recipient['kind']})"),
            ("Purpose", plan.facts["purpose"] or "-"),
            ("Disclosed", f"{plan.facts['created_at']} (case {plan.facts['case_id']})"),
            ("Bag", f"{plan.bag_name} (BagIt 1.0; verify with: {_verify_hint(plan)})"),
            (
                "Custody log",
                f"{keyring().log_name()}, checkpoint of {frozen.tree_size} events, root {frozen.root.hex()}",
            ),
            ("Items", f"{len(plan.items)} included"),
        ],
        created_at=frozen.bagged_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _fingerprint(vkey: str) -> str:
    return hashlib.sha256(vkey.strip().encode("utf-8")).hexdigest()


def _readme(plan: _Plan, frozen: Frozen, log_vkey: str) -> str:
    """How a recipient checks the bundle, and the keys, out of band: the bag carries the keys its
    maker chose, so trusting them needs a copy obtained another way."""
    witnesses = [line for line in frozen.witness_vkeys.splitlines() if line.strip()]
    lines = [
        f"Disclosure bundle {plan.bag_name}: how to check it",
        "",
        "1. Install the verifier anywhere (it needs only Python 3.11 and the cryptography package):",
        "       pip install ./verifier        (from the Casework source), then",
        f"       {_verify_hint(plan)}",
        "   It checks the bag, every item's bytes, every custody entry's inclusion proof, the checkpoint's",
        "   signature and its witnesses' cosignatures, and the signature over the whole bag.",
        "",
        "2. Check the keys out of band. This bag carries the keys below, but whoever made it chose them:",
        "   obtain the log's key from the organisation that runs it (its published key, or GET",
        "   /api/v1/custody/public-key from a lawyer of the case), and each witness's key from the",
        "   witness's operator, by another channel; compare them, or their SHA-256 fingerprints, with:",
        "",
        f"   log key      {log_vkey.strip()}",
        f"                SHA-256 {_fingerprint(log_vkey)}",
    ]
    for vkey in witnesses:
        lines += [f"   witness key  {vkey.strip()}", f"                SHA-256 {_fingerprint(vkey)}"]
    lines += [
        "",
        "3. What the custody trail shows. Staff appear as pseudonyms (S-01, S-02, ...) that hold for this",
        "   bundle only; staff ids, usernames and client addresses, and other recipients, appear only as",
        "   salted commitments. Entries of other people's refused attempts, of other disclosures, that",
        "   name staff, or of a redaction's unredacted source are proven by their leaf hash alone.",
        "",
        f"Checkpoint: {frozen.tree_size} events, root {frozen.root.hex()}.",
        "",
    ]
    return "\n".join(lines)


def _bag_info(plan: _Plan, listing: list[dict[str, Any]], size: int) -> list[tuple[str, str]]:
    recipient = plan.facts["recipient"]
    rows = [
        ("Source-Organization", f"Casework ({keyring().log_name()})"),
        ("External-Identifier", plan.bag_name),
        (
            "External-Description",
            (
                f"Disclosure {plan.disclosure_id} of case {plan.facts['case_id']} to "
                f"{recipient['name']}, {recipient['organisation']}"
            ),
        ),
        ("Recipient-Name", recipient["name"]),
        ("Recipient-Organisation", recipient["organisation"]),
        ("Recipient-Kind", recipient["kind"]),
        ("Disclosure-Id", str(plan.disclosure_id)),
        ("Custody-Log", keyring().log_name()),
        ("Custody-Checkpoint-Size", str(size)),
    ]
    rows += [("Registration-Number", item["registration_number"]) for item in listing]
    return rows


def _signer(plan: _Plan, frozen: Frozen) -> Any:
    def sign(tagmanifest_sha256: str) -> str:
        text = fmt.BundleSignature(
            plan.disclosure_id,
            plan.bag_name,
            tagmanifest_sha256,
            frozen.tree_size,
            base64.b64encode(frozen.root).decode("ascii"),
        ).text()
        return note.sign_note(text, keyring().log_name(), keyring().signing_key())

    return sign
