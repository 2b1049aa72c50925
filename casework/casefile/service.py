"""The case file, streamed: every part of a case, decided and recorded before a byte is sent.

Consent rule (the witness's consent in force *now*): a statement is released in the case file
only if the witness's latest consent record grants ``record`` and is not a withdrawal (and the
witness was not crypto-shredded). Otherwise it is listed with its metadata, ``text`` null and
``withheld`` naming the reason (``witness_shredded``, ``no_consent_record``,
``consent_withdrawn``, ``consent_record_scope_missing``; ``shredded`` when the key turns out
to be gone at read time, e.g. a database restored from before a withdrawal). Identities are
never in the case file: each is released on its own (``GET /witnesses/{id}?include=identity``).

Each released statement is its own ``transcript.read`` event (``via=casefile``), recorded,
with ``casefile.read``, before the response starts. Reading is in keyset batches and one
statement is decrypted at a time, so memory does not grow with the case: what is kept is the
consent decision per witness and a watermark (statements uploaded after the decisions are
not in this file).
"""
from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from flask import current_app
from sqlalchemy import Table, func, select
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

CONSENT_RULE = ("A statement's text is included only if the witness's consent in force grants 'record' and is "
                "not withdrawn; otherwise it is listed with text null and the reason in 'withheld'. "
                "Identities are not part of the case file.")
_BATCH = 100
_CONTENT_BYTES = 2**19  # statements are fetched with their ciphertext this many bytes at a time
_VERSIONS: Table = TranscriptVersion.__table__  # type: ignore[assignment]


@dataclass
class CaseFileStream:
    """The case and lazy iterators over its parts (run while the response streams)."""

    case: Iterator[Case]  # the one case, read when the stream starts
    consent_rule: str
    incidents: Iterator[Incident]
    witnesses: Iterator[Witness]
    interviews: Iterator[tuple[Extended, Iterator[Extended]]]


def in_own_app_context(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run a response body in an application context of its own, isolated from the caller's.

    The request ends (its session closed, its context popped) when the view returns; the body
    is generated later, with a session of its own. Nothing it needs comes from the request:
    every decision was recorded before. The context lives in a ``contextvars.Context`` of the
    body's own, so a body left half-read (a client that stops reading; a test client that
    pulls the first chunk) never leaks its context into the next request on the thread.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    context = contextvars.Context()

    def run() -> Iterator[bytes]:
        app_ctx = app.app_context()
        context.run(app_ctx.push)
        try:
            while True:
                try:
                    chunk = context.run(next, chunks)
                except StopIteration:
                    return
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            try:
                if close is not None:
                    context.run(close)
            finally:
                context.run(app_ctx.pop)
    return run()


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
        rows = db.session.scalars(select(model).where(*where, model.id > after).options(*options)
                                  .order_by(model.id).limit(_BATCH)).all()
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
    watermark = db.session.scalar(select(func.max(TranscriptVersion.id))
                                  .where(TranscriptVersion.case_id == case_id)) or 0
    withheld: Counter[str] = Counter()
    released = 0
    after = (0, 0)
    while True:  # one release event per statement, recorded before the response starts
        rows = db.session.execute(
            select(_VERSIONS.c.id, _VERSIONS.c.interview_id, _VERSIONS.c.version, _VERSIONS.c.witness_id)
            .where(_VERSIONS.c.case_id == case_id, _VERSIONS.c.id <= watermark,
                   (_VERSIONS.c.interview_id > after[0])
                   | ((_VERSIONS.c.interview_id == after[0]) & (_VERSIONS.c.version > after[1])))
            .order_by(_VERSIONS.c.interview_id, _VERSIONS.c.version).limit(_BATCH * 5)
        ).all()
        db.session.scalars(select(Interview).where(Interview.id.in_({row.interview_id for row in rows}))).all()
        for row in rows:
            reason = decisions.get(row.witness_id, "no_consent_record")
            if reason is not None:
                withheld[reason] += 1
                continue
            target = db.session.get_one(Interview, row.interview_id).custody_target()
            authorize("transcript.read", target.part("transcript", version_ref(row.interview_id, row.version)),
                      via="casefile")
            released += 1
            if released % _BATCH == 0:
                access.spill()  # bounded statements; the queue stays short
        if len(rows) < _BATCH * 5:
            break
        after = (rows[-1].interview_id, rows[-1].version)
        _forget(Interview)
    access.note(transcript_versions_released=released, withheld=dict(withheld), consent_rule="record")
    return CaseFileStream(
        case=_one_case(case_id), consent_rule=CONSENT_RULE,
        incidents=_keyset(Incident, Incident.case_id == case_id),
        witnesses=_keyset(Witness, Witness.case_id == case_id),
        interviews=_interviews(case_id, decisions, watermark),
    )


def _one_case(case_id: int) -> Iterator[Case]:
    yield db.session.get_one(Case, case_id)


def _interviews(case_id: int, decisions: dict[int, str | None],
                watermark: int) -> Iterator[tuple[Extended, Iterator[Extended]]]:
    """Interviews a batch at a time, each with its statements from one read of the batch's versions."""
    batch: list[Interview] = []
    for interview in _keyset(Interview, Interview.case_id == case_id, options=(selectinload(Interview.incidents),)):
        batch.append(interview)
        if len(batch) == _BATCH:
            yield from _with_statements(batch, decisions, watermark)
            batch = []
    yield from _with_statements(batch, decisions, watermark)


def _with_statements(interviews: list[Interview], decisions: dict[int, str | None],
                     watermark: int) -> Iterator[tuple[Extended, Iterator[Extended]]]:
    """Statement metadata of the whole batch in one query; their ciphertext by the byte budget."""
    if not interviews:
        return
    listed = db.session.execute(
        select(_VERSIONS.c.id, _VERSIONS.c.interview_id, _VERSIONS.c.size)
        .where(_VERSIONS.c.interview_id.in_([interview.id for interview in interviews]),
               _VERSIONS.c.id <= watermark)
        .order_by(_VERSIONS.c.interview_id, _VERSIONS.c.version)
    ).all()
    versions = _in_byte_budget([row.id for row in listed], [row.size for row in listed])
    counts = Counter(row.interview_id for row in listed)
    for interview in interviews:
        yield interview_with_free_text(interview), (
            _statement(version, decisions.get(version.witness_id, "no_consent_record"))
            for version in _of_interview(interview.id, islice(versions, counts[interview.id])))


def _in_byte_budget(ids: list[int], sizes: list[int]) -> Iterator[TranscriptVersion]:
    """The versions in order, read with their ciphertext at most ``_CONTENT_BYTES`` at a time."""
    start = 0
    while start < len(ids):
        end, budget = start + 1, sizes[start]
        while end < len(ids) and budget + sizes[end] <= _CONTENT_BYTES:
            budget += sizes[end]
            end += 1
        found = {v.id: v for v in db.session.scalars(select(TranscriptVersion)
                                                     .where(TranscriptVersion.id.in_(ids[start:end])))}
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
