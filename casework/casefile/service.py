"""The case file, streamed: every part of a case, decided and recorded before a byte is sent.

Consent rule (the witness's consent in force *now*): a statement is released in the case file
only if the witness's latest consent record grants ``record`` and is not a withdrawal (and the
witness was not crypto-shredded). Otherwise it is listed with its metadata, ``text`` null and
``withheld`` naming the reason (``witness_shredded``, ``no_consent_record``,
``consent_withdrawn``, ``consent_record_scope_missing``; ``shredded`` when the key turns out
to be gone at read time, e.g. a database restored from before a withdrawal). Identities are
never in the case file: each is released on its own (``GET /witnesses/{id}?include=identity``).

Exhibits (of each interview and each incident) are listed by their metadata, never their bytes:
kind, media type, size, captured_at, the plain SHA-256 and the file name (both sealed, shown as
to any reader of the exhibit's content) and the path to download it, which is a read of its own.
Only complete exhibits are listed. One whose key is gone is listed with ``withheld`` naming why
(``witness_shredded``, ``consent_withdrawn`` while an erasure is pending, else ``shredded``),
without its sealed metadata or path. The consent rule above is about statements' text: an
exhibit's content is not in the file, so consent does not hide its metadata.

Each released statement is its own ``transcript.read`` event (``via=casefile``), and each listed
exhibit its own ``exhibit.metadata.read`` (``via=casefile``), recorded, with ``casefile.read``,
before the response starts. Reading is in keyset batches and one statement is decrypted at a
time, so memory does not grow with the case: what is kept is the consent decision per witness,
a watermark (statements uploaded after the decisions are not in this file) and the ids of the
exhibits recorded (8 bytes and a flag each; exhibits completed after the decisions are not in
this file).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Table, func, select
from sqlalchemy.orm import selectinload

from casework.access.door import Access, authorize, load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Gone
from casework.exhibits.models import COMPLETE, Exhibit
from casework.exhibits.sealed import sealed_or_shredded
from casework.fields import Extended
from casework.incidents.models import Incident
from casework.interviews.free_text import as_seen, may_read_content
from casework.interviews.models import Interview
from casework.interviews.service import with_free_text as interview_with_free_text
from casework.transcripts.models import TranscriptVersion
from casework.transcripts.service import read_content, version_ref, with_free_text
from casework.witnesses.models import Witness

CONSENT_RULE = (
    "A statement's text is included only if the witness's consent in force grants 'record' and is "
    "not withdrawn; otherwise it is listed with text null and the reason in 'withheld'. "
    "Identities are not part of the case file."
)
_BATCH = 100
_CONTENT_BYTES = 2**19  # statements are fetched with their ciphertext this many bytes at a time
_VERSIONS: Table = TranscriptVersion.__table__  # type: ignore[assignment]
# Why an exhibit whose key is gone is withheld, when its witness's decision already says it.
_WITNESS_REASONS = frozenset({"witness_shredded", "consent_withdrawn"})
R = TypeVar("R")


@dataclass
class InterviewInFile:
    shown: Extended  # the interview with its free text
    statements: Iterator[Extended]
    exhibits: Iterator[Extended]


@dataclass
class IncidentInFile:
    incident: Incident
    exhibits: Iterator[Extended]


@dataclass
class CaseFileStream:
    """The case and lazy iterators over its parts (run while the response streams)."""

    case: Iterator[Case]  # the one case, read when the stream starts
    consent_rule: str
    incidents: Iterator[IncidentInFile]
    witnesses: Iterator[Witness]
    interviews: Iterator[InterviewInFile]


@dataclass
class ListedExhibits:
    """The exhibits whose listing was recorded, in id order, and whether the reader may see their free text."""

    ids: array[int] = field(default_factory=lambda: array("q"))
    readable: bytearray = field(default_factory=bytearray)

    def add(self, exhibit_id: int, readable: bool) -> None:
        assert not self.ids or exhibit_id > self.ids[-1]
        self.ids.append(exhibit_id)
        self.readable.append(readable)

    def shows(self, exhibit_id: int) -> bool | None:
        """None if the exhibit was not recorded (not in this file); else whether its free text is shown."""
        at = bisect_left(self.ids, exhibit_id)
        if at == len(self.ids) or self.ids[at] != exhibit_id:
            return None
        return bool(self.readable[at])


def withheld_reason(witness: Witness) -> str | None:
    """Why a witness's statements stay out of the case file, or None to release them."""
    if witness.shredded_at is not None:
        return "witness_shredded"
    record = witness.consent
    if record is None:
        return "no_consent_record"
    if record.withdrawn_at is not None:
        return "consent_withdrawn"
    if (record.scopes or {}).get("record") is not True:
        return "consent_record_scope_missing"
    return None


def _forget(*models: type) -> None:
    """Drop rows of these kinds from the session (never the caller's own user, loaded by the login)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, models):
            db.session.expunge(obj)


def _keyset(model: Any, *where: Any, options: tuple[Any, ...] = ()) -> Iterator[Any]:
    after = 0
    while True:
        rows = db.session.scalars(
            select(model).where(*where, model.id > after).options(*options).order_by(model.id).limit(_BATCH)
        ).all()
        yield from rows
        if len(rows) < _BATCH:
            return
        after = rows[-1].id
        _forget(model)  # objects already handed out were serialized: memory stays flat
        db.session.rollback()  # no read transaction held across batches (SQLite: no lock held for long)


def stream_case_file(case_id: int) -> CaseFileStream:
    """Decide and record everything now; return iterators that read and decrypt as they are consumed."""
    access = load_authorized(Case, case_id, "casefile.read")
    case = access.obj
    case_id = case.id
    decisions: dict[int, str | None] = {}
    for witness in _keyset(Witness, Witness.case_id == case_id):
        decisions[witness.id] = withheld_reason(witness)
    watermark = (
        db.session.scalar(select(func.max(TranscriptVersion.id)).where(TranscriptVersion.case_id == case_id)) or 0
    )
    withheld: Counter[str] = Counter()
    released = 0
    after = (0, 0)
    while True:  # one release event per statement, recorded before the response starts
        rows = db.session.execute(
            select(_VERSIONS.c.id, _VERSIONS.c.interview_id, _VERSIONS.c.version, _VERSIONS.c.witness_id)
            .where(
                _VERSIONS.c.case_id == case_id,
                _VERSIONS.c.id <= watermark,
                (_VERSIONS.c.interview_id > after[0])
                | ((_VERSIONS.c.interview_id == after[0]) & (_VERSIONS.c.version > after[1])),
            )
            .order_by(_VERSIONS.c.interview_id, _VERSIONS.c.version)
            .limit(_BATCH * 5)
        ).all()
        db.session.scalars(select(Interview).where(Interview.id.in_({row.interview_id for row in rows}))).all()
        for row in rows:
            reason = decisions.get(row.witness_id, "no_consent_record")
            if reason is not None:
                withheld[reason] += 1
                continue
            target = db.session.get_one(Interview, row.interview_id).custody_target()
            authorize(
                "transcript.read", target.part("transcript", version_ref(row.interview_id, row.version)), via="casefile"
            )
            released += 1
            if released % _BATCH == 0:
                access.spill()  # bounded statements; the queue stays short
        if len(rows) < _BATCH * 5:
            break
        after = (rows[-1].interview_id, rows[-1].version)
        _forget(Interview)
    listed = _record_exhibits(case_id, access)
    access.note(
        transcript_versions_released=released,
        withheld=dict(withheld),
        consent_rule="record",
        exhibits_listed=len(listed.ids),
    )
    return CaseFileStream(
        case=_one_case(case_id),
        consent_rule=CONSENT_RULE,
        incidents=_incidents(case_id, decisions, listed),
        witnesses=_keyset(Witness, Witness.case_id == case_id),
        interviews=_interviews(case_id, decisions, watermark, listed),
    )


def _record_exhibits(case_id: int, access: Access[Case]) -> ListedExhibits:
    """One ``exhibit.metadata.read`` event per complete exhibit of the case, recorded now.

    Whether the reader sees an exhibit's free text (file name, SHA-256) is decided here too, as
    beside any metadata read (``may_read_content``): the stream has no caller to ask.
    """
    listed = ListedExhibits()
    after = 0
    while True:
        rows = db.session.scalars(
            select(Exhibit)
            .where(Exhibit.case_id == case_id, Exhibit.status == COMPLETE, Exhibit.id > after)
            .order_by(Exhibit.id)
            .limit(_BATCH * 5)
        ).all()
        for exhibit in rows:
            target = exhibit.custody_target()
            authorize("exhibit.metadata.read", target, via="casefile")
            listed.add(exhibit.id, may_read_content("exhibit.read", target))
            if len(listed.ids) % _BATCH == 0:
                access.spill()  # bounded listings; the queue stays short
        if len(rows) < _BATCH * 5:
            break
        after = rows[-1].id
        _forget(Exhibit)
    _forget(Exhibit)
    return listed


def _one_case(case_id: int) -> Iterator[Case]:
    yield db.session.get_one(Case, case_id)


def _batches(rows: Iterable[R]) -> Iterator[list[R]]:
    """``_BATCH`` rows at a time (the last batch may be short, or empty)."""
    batch: list[R] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    yield batch


def _interviews(
    case_id: int, decisions: dict[int, str | None], watermark: int, listed: ListedExhibits
) -> Iterator[InterviewInFile]:
    """Interviews a batch at a time, each with its statements from one read of the batch's versions
    and its exhibits from one read of the batch's exhibits."""
    rows = _keyset(Interview, Interview.case_id == case_id, options=(selectinload(Interview.incidents),))
    for batch in _batches(rows):
        yield from _with_statements(batch, decisions, watermark, listed)


def _incidents(case_id: int, decisions: dict[int, str | None], listed: ListedExhibits) -> Iterator[IncidentInFile]:
    """Incidents a batch at a time, each with its exhibits from one read of the batch's exhibits."""
    for batch in _batches(_keyset(Incident, Incident.case_id == case_id)):
        exhibits = _exhibits_of(Exhibit.incident_id, [incident.id for incident in batch], listed)
        for incident in batch:
            yield IncidentInFile(incident, _listing(exhibits.get(incident.id, []), decisions, listed))
        _forget(Exhibit)


def _exhibits_of(column: Any, owner_ids: list[int], listed: ListedExhibits) -> dict[int, list[Exhibit]]:
    """The recorded exhibits of these interviews (or incidents), by owner id, in id order: one query."""
    found: defaultdict[int, list[Exhibit]] = defaultdict(list)
    if not owner_ids:
        return found
    for exhibit in db.session.scalars(
        select(Exhibit).where(column.in_(owner_ids), Exhibit.status == COMPLETE).order_by(Exhibit.id)
    ):
        if listed.shows(exhibit.id) is not None:
            found[getattr(exhibit, column.key)].append(exhibit)
    return found


def _listing(exhibits: list[Exhibit], decisions: dict[int, str | None], listed: ListedExhibits) -> Iterator[Extended]:
    for exhibit in exhibits:
        reason = decisions.get(exhibit.witness_id) if exhibit.witness_id is not None else None
        yield _exhibit(exhibit, reason, bool(listed.shows(exhibit.id)))


def _exhibit(exhibit: Exhibit, reason: str | None, readable: bool) -> Extended:
    """Metadata only; the sealed file name and SHA-256 opened now (their listing is already recorded)."""
    sealed = sealed_or_shredded(exhibit)
    if sealed is None:
        return Extended(
            exhibit, filename=None, sha256=None, withheld=reason if reason in _WITNESS_REASONS else "shredded"
        )
    shown = as_seen({"filename": sealed.get("filename"), "sha256": sealed.get("sha256")}, readable)
    return Extended(exhibit, **shown, withheld=None)


def _with_statements(
    interviews: list[Interview], decisions: dict[int, str | None], watermark: int, listed: ListedExhibits
) -> Iterator[InterviewInFile]:
    """Statement metadata of the whole batch in one query; their ciphertext by the byte budget."""
    if not interviews:
        return
    statements = db.session.execute(
        select(_VERSIONS.c.id, _VERSIONS.c.interview_id, _VERSIONS.c.size)
        .where(_VERSIONS.c.interview_id.in_([interview.id for interview in interviews]), _VERSIONS.c.id <= watermark)
        .order_by(_VERSIONS.c.interview_id, _VERSIONS.c.version)
    ).all()
    versions = _in_byte_budget([row.id for row in statements], [row.size for row in statements])
    counts = Counter(row.interview_id for row in statements)
    exhibits = _exhibits_of(Exhibit.interview_id, [interview.id for interview in interviews], listed)
    for interview in interviews:
        yield InterviewInFile(
            interview_with_free_text(interview),
            (
                _statement(version, decisions.get(version.witness_id, "no_consent_record"))
                for version in _of_interview(interview.id, islice(versions, counts[interview.id]))
            ),
            _listing(exhibits.get(interview.id, []), decisions, listed),
        )
    _forget(Exhibit)


def _in_byte_budget(ids: list[int], sizes: list[int]) -> Iterator[TranscriptVersion]:
    """The versions in order, read with their ciphertext at most ``_CONTENT_BYTES`` at a time."""
    start = 0
    while start < len(ids):
        end, budget = start + 1, sizes[start]
        while end < len(ids) and budget + sizes[end] <= _CONTENT_BYTES:
            budget += sizes[end]
            end += 1
        found = {
            v.id: v
            for v in db.session.scalars(select(TranscriptVersion).where(TranscriptVersion.id.in_(ids[start:end])))
        }
        for version_id in ids[start:end]:
            yield found[version_id]
            db.session.expunge(found.pop(version_id))  # only the current budget of ciphertext is kept
        start = end


def _of_interview(interview_id: int, versions: Iterator[TranscriptVersion]) -> Iterator[TranscriptVersion]:
    """The statements are consumed interview by interview; a skipped interview would misfile them."""
    for version in versions:
        if version.interview_id != interview_id:
            raise RuntimeError("case file statements consumed out of order")
        yield version


def _statement(version: TranscriptVersion, reason: str | None) -> Extended:
    """Decrypted now, if released (its event is already recorded); otherwise listed without text."""
    if reason is not None:
        return with_free_text(version, text=None, withheld=reason)
    if version.shredded:
        return with_free_text(version, text=None, withheld="shredded")
    try:
        text = read_content(version, _RECORDED).decode("utf-8")
    except Gone:
        return with_free_text(version, text=None, withheld="shredded")
    return with_free_text(version, text=text, withheld=None)


class _Recorded:
    """The release was recorded before streaming; later notes have nowhere to go."""

    def note(self, **details: Any) -> None:
        return None


_RECORDED: Any = _Recorded()
