"""HTTP byte ranges (RFC 9110 14): one ``bytes=`` range, parsed at the edge and resolved against a size.

One way for every download that can be resumed (an exhibit's content, a disclosure bundle):
a single range ``first-last``, ``first-`` or ``-suffix``; several ranges, another unit or a
malformed header select the whole representation (a server may ignore a Range it does not
support); a range that starts past the end is 416.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from casework.errors import RangeNotSatisfiable

_RANGE = re.compile(r"^bytes=(?:([0-9]{1,16})-([0-9]{0,16})|-([0-9]{1,16}))$")


@dataclass(frozen=True)
class ByteRange:
    """A parsed ``Range: bytes=`` spec: first-last, first- (last None), or a suffix of n bytes."""

    first: int | None
    last: int | None
    suffix: int | None = None


@dataclass(frozen=True)
class Selected:
    """What a response sends of a representation of ``size`` bytes: ``start``..``end`` inclusive."""

    start: int
    end: int
    size: int
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse(header: str | None) -> ByteRange | None:
    """One ``bytes=`` range, or None (no header, or one this server ignores)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        return ByteRange(None, None, int(suffix))
    if last and int(last) < int(first):
        return None  # syntactically invalid: ignored
    return ByteRange(int(first), int(last) if last else None)


def select(spec: ByteRange | None, size: int) -> Selected:
    """The bytes to send; ``RangeNotSatisfiable`` for a range wholly past the end."""
    if spec is None or size == 0:
        return Selected(0, size - 1, size, False)
    if spec.suffix is not None:
        if spec.suffix == 0:
            raise RangeNotSatisfiable("An empty suffix range selects nothing.", size=size)
        return Selected(max(size - spec.suffix, 0), size - 1, size, True)
    assert spec.first is not None
    if spec.first >= size:
        raise RangeNotSatisfiable(f"The representation has {size} bytes.", size=size)
    last = size - 1 if spec.last is None else min(spec.last, size - 1)
    return Selected(spec.first, last, size, True)


def if_range_allows(header: str | None, etag: str) -> bool:
    """RFC 9110 13.1.5: a Range is honoured only if ``If-Range`` (when sent) names the current
    strong ETag; a date or another tag means the client's part is of another representation."""
    return header is None or header.strip() == etag
