"""Reading exhibits: content (whole or a range), metadata, listings and receipts; each read decided once.

Content reads are decided, recorded (with the range served) and their data key unwrapped, and
the sealed SHA-256 of the whole content opened for ``Repr-Digest``, before a byte is produced;
the bytes then stream from ``content.iter_plaintext``, one chunk in memory at a time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from casework import ranges
from casework.access.door import load_authorized
from casework.custody.receipts import locate
from casework.custody.signer import signer
from casework.db import db
from casework.errors import NotFound
from casework.exhibits import sealed
from casework.exhibits.content import iter_plaintext
from casework.exhibits.models import Exhibit
from casework.exhibits.types import ContentRead
from casework.fields import Extended
from casework.incidents.models import Incident
from casework.interviews.models import Interview
from casework.pagination import Page, keyset_page


def open_content(exhibit_id: int, spec: ranges.ByteRange | None, *, headers_only: bool = False) -> ContentRead:
    """Decide and record a read of an exhibit's content (whole or a range), then hand out its bytes.

    ``headers_only`` (HEAD) is decided as a read, and recorded as one that served no byte (its
    event also says ``headers_only``, as every HEAD's does): an auditor asking who received the
    footage must not count a client that asked only its length.
    """
    access = load_authorized(Exhibit, exhibit_id, "exhibit.read")
    exhibit = access.obj
    selected = ranges.select(spec, exhibit.size)
    start, end, partial = selected.start, selected.end, selected.partial
    access.note(
        range=f"{start}-{end}" if partial else None,
        bytes_served=0 if headers_only else max(end - start + 1, 0),
        size=exhibit.size,
        keyed_sha256=exhibit.keyed_sha256.hex() if exhibit.keyed_sha256 else None,
    )
    chunks = iter(()) if headers_only else iter_plaintext(exhibit, start, end)
    # The whole content's digest (RFC 9530 Repr-Digest), on ranged reads too: a resumed download checks it.
    digest = sealed.sha256_of(sealed.opened(exhibit)) if exhibit.complete else None
    return ContentRead(exhibit, selected, chunks, digest)


def receipt_of(exhibit_id: int) -> dict[str, Any]:
    """The exhibit's stored receipt and where its promised leaf is now (see ``custody.receipts``)."""
    exhibit = load_authorized(Exhibit, exhibit_id, "exhibit.metadata.read").obj
    if exhibit.receipt is None:
        raise NotFound("This exhibit's upload is not complete: it has no receipt yet.")
    return {**exhibit.receipt, "custody": locate(exhibit.receipt, "exhibit", str(exhibit.id), signer()).as_dict()}


def get_exhibit(exhibit_id: int) -> Extended:
    access = load_authorized(Exhibit, exhibit_id, "exhibit.metadata.read")
    return sealed.as_seen_by_caller(access.obj)


def _listing(statement: Any, args: dict[str, Any]) -> Page:
    page = keyset_page(statement, Exhibit.id, args)
    page["items"] = [sealed.as_seen_by_caller(exhibit) for exhibit in page["items"]]
    return page


def list_for_interview(interview_id: int, args: dict[str, Any]) -> Page:
    interview = load_authorized(Interview, interview_id, "exhibit.list").obj
    return _listing(select(Exhibit).where(Exhibit.interview_id == interview.id), args)


def list_for_incident(incident_id: int, args: dict[str, Any]) -> Page:
    incident = load_authorized(Incident, incident_id, "exhibit.list").obj
    return _listing(select(Exhibit).where(Exhibit.incident_id == incident.id), args)


def exhibit_of_interview(exhibit_id: int, interview_id: int) -> Exhibit:
    """A complete exhibit of this interview (lineage of a transcript), else ``NotFound``.

    No decision of its own: the caller's (the transcript version that derives from it) covers it.
    """
    exhibit = db.session.get(Exhibit, exhibit_id)
    if exhibit is None or exhibit.interview_id != interview_id or not exhibit.complete:
        raise NotFound("No such complete exhibit of this interview.")
    return exhibit
