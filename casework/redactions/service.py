"""Redacted derivatives of transcript versions: create (lawyers), list (metadata), read (lawyers).

Offsets are Unicode code points of the source text decoded from UTF-8 (what Python's ``str``
indexes), because lawyers mark text, not bytes; each unredacted segment also carries its
UTF-8 byte offsets in the source. Spans are sorted here; they must be non-empty, inside the
text and must not overlap (touching is allowed).

Each redacted span becomes ``[REDACTED:<category>]`` in the derivative. Each unredacted
segment of the source gets a fresh 16-byte salt and ``sha256 = SHA-256(salt || UTF-8 bytes
of the segment)``: a court holding the original recomputes it from
``original_bytes[byte_start:byte_end]`` and confirms the disclosed text is the witness's own
words, while the salt stops anyone confirming a guess of a short segment from the hash alone.
The removed text is stored nowhere: not in the map, the derivative, the segments or the log.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from casework.access.door import load_authorized
from casework.db import db
from casework.errors import Gone, IntegrityFailure, Invalid
from casework.fields import Extended
from casework.interviews.models import Interview
from casework.pagination import Page, keyset_page
from casework.redactions.models import Redaction
from casework.transcripts.service import read_content, version_of, version_ref
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import Witness
from casework.witnesses.service import keyed_digest

SALT_BYTES = 16


def marker(category: str) -> str:
    return f"[REDACTED:{category}]"


@dataclass(frozen=True)
class Derivative:
    text: str
    segments: list[dict[str, Any]]


def checked_spans(spans: list[dict[str, Any]], length: int) -> list[dict[str, Any]]:
    """Sorted spans, or ``Invalid`` naming each bad one (by its index in the request)."""
    errors: dict[str, Any] = {}
    for index, span in enumerate(spans):
        if span["end"] <= span["start"]:
            errors[str(index)] = {"end": ["Must be greater than start."]}
        elif span["end"] > length:
            errors[str(index)] = {"end": [f"Beyond the end of the text ({length} characters)."]}
    if not errors:
        order = sorted(range(len(spans)), key=lambda i: (spans[i]["start"], spans[i]["end"]))
        for before, after in itertools.pairwise(order):
            if spans[after]["start"] < spans[before]["end"]:
                errors[str(after)] = {"start": [f"Overlaps span {before}."]}
    if errors:
        raise Invalid("The redaction spans are not valid; see errors.", errors={"json": {"spans": errors}})
    return sorted(
        ({key: span[key] for key in ("start", "end", "category", "legal_basis")} for span in spans),
        key=lambda span: span["start"],
    )


def derive(text: str, spans: list[dict[str, Any]]) -> Derivative:
    """Apply sorted, checked spans: the redacted text and the salted hash of every segment kept."""
    parts: list[str] = []
    segments: list[dict[str, Any]] = []
    out = 0  # code points written so far
    position, byte_position = 0, 0

    def keep(start: int, end: int) -> None:
        nonlocal out, byte_position
        piece = text[start:end]
        encoded = piece.encode("utf-8")
        salt = os.urandom(SALT_BYTES)
        segments.append(
            {
                "start": start,
                "end": end,
                "byte_start": byte_position,
                "byte_end": byte_position + len(encoded),
                "out_start": out,
                "out_end": out + len(piece),
                "salt": salt.hex(),
                "sha256": hashlib.sha256(salt + encoded).hexdigest(),
            }
        )
        parts.append(piece)
        out += len(piece)
        byte_position += len(encoded)

    for span in spans:
        if span["start"] > position:
            keep(position, span["start"])
        byte_position += len(text[span["start"] : span["end"]].encode("utf-8"))
        parts.append(marker(span["category"]))
        out += len(parts[-1])
        position = span["end"]
    if position < len(text):
        keep(position, len(text))
    return Derivative("".join(parts), segments)


def create(interview_id: int, version_number: int, data: dict[str, Any]) -> Extended:
    """Redact one transcript version into a new, sealed derivative with lineage to it."""
    ref = version_ref(interview_id, version_number)
    access = load_authorized(Interview, interview_id, "redaction.create", part=("transcript", ref))
    witness = lock_witness(access.obj.witness_id)  # first, and re-read: see casework.witnesses.locks
    source = version_of(access.obj.id, version_number)
    if witness.shredded_at is not None:
        raise Gone("The witness withdrew consent; their statements were crypto-shredded.", problem="shredded")
    try:
        text = read_content(source, access).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("Only UTF-8 text transcripts can be redacted.", problem="not-text") from None
    spans = checked_spans(data["spans"], len(text))
    derivative = derive(text, spans)
    redacted = derivative.text.encode("utf-8")
    number = (
        db.session.scalar(select(func.max(Redaction.number)).where(Redaction.source_version_id == source.id)) or 0
    ) + 1
    redaction = Redaction(
        case_id=source.case_id,
        interview_id=source.interview_id,
        witness_id=source.witness_id,
        source_version_id=source.id,
        source_version=source.version,
        number=number,
        spans=spans,
        size=len(redacted),
        keyed_sha256=keyed_digest(witness, redacted),
        created_by_id=access.user_id,
    )
    redaction.sealed_content.seal(redacted)
    redaction.sealed_segments.seal(json.dumps(derivative.segments).encode())
    db.session.add(redaction)
    db.session.flush()
    access.note(
        created_redaction=redaction.id,
        redaction_number=number,
        spans=len(spans),
        categories=sorted({span["category"] for span in spans}),
        redaction_keyed_sha256=redaction.keyed_sha256.hex(),
    )
    return _with_content(redaction, derivative.text, derivative.segments, redacted)


def list_for_version(interview_id: int, version_number: int, args: dict[str, Any]) -> Page:
    """The redactions of one version: metadata and maps, no text."""
    ref = version_ref(interview_id, version_number)
    interview = load_authorized(Interview, interview_id, "redaction.list", part=("transcript", ref)).obj
    return keyset_page(
        select(Redaction).where(Redaction.interview_id == interview.id, Redaction.source_version == version_number),
        Redaction.id,
        args,
    )


def read(redaction_id: int) -> Extended:
    """The redacted text and the segment hashes, recorded as a read of this derivative."""
    access = load_authorized(Redaction, redaction_id, "redaction.read")
    redaction = access.obj
    access.note(source=redaction.source_ref, keyed_sha256=redaction.keyed_sha256.hex())
    text = redacted_text(redaction)
    return _with_content(redaction, text.decode("utf-8"), segments_of(redaction), text)


def redacted_text(redaction: Redaction) -> bytes:
    """The redacted UTF-8 text, checked against its keyed hash; ``Gone`` once shredded."""
    content = redaction.sealed_content.open()
    witness = db.session.get_one(Witness, redaction.witness_id)
    if not hmac.compare_digest(keyed_digest(witness, content), redaction.keyed_sha256):
        raise IntegrityFailure("Redaction failed its integrity check.")
    return content


def segments_of(redaction: Redaction) -> list[dict[str, Any]]:
    """The unredacted segments with their salts and hashes; ``Gone`` once shredded."""
    segments: list[dict[str, Any]] = json.loads(redaction.sealed_segments.open())
    return segments


def _with_content(redaction: Redaction, text: str, segments: list[dict[str, Any]], raw: bytes) -> Extended:
    return Extended(redaction, text=text, segments=segments, sha256=hashlib.sha256(raw).digest(), shredded=False)
