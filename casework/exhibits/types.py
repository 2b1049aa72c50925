"""What the exhibit modules and their HTTP edge (``views``, ``tus``) hand each other.

Plain values, kept apart from the rules so the edge imports shapes, never the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casework import ranges
from casework.exhibits.models import Exhibit


@dataclass(frozen=True)
class NewUpload:
    """What a tus creation request says about the exhibit to come."""

    length: int
    kind: str
    filename: str | None = None
    captured_at: datetime | None = None
    device_hash: str | None = None
    media_type_claim: str | None = None  # a name of ``media_types.REGISTER`` (the schema maps aliases)


class Body:
    """A request body read in pieces; ``truncated`` when the client went away before its end."""

    truncated: bool = False

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError


@dataclass(frozen=True)
class PatchResult:
    exhibit: Exhibit
    receipt: dict[str, Any] | None  # only on the PATCH that completed the upload


@dataclass(frozen=True)
class ContentRead:
    exhibit: Exhibit
    selected: ranges.Selected  # the bytes sent; end < start only for empty content
    chunks: Iterator[bytes]
    sha256: bytes | None  # of the whole content (Repr-Digest); None if completed before digests were sealed
