"""The tus 1.0 protocol at the HTTP edge: headers parsed and written here, rules in ``uploads`` and ``chunks``.

Supported: core, ``creation``, ``checksum`` (sha256 only), ``expiration`` and ``termination``
(DELETE cancels an unfinished upload). Not supported: ``creation-defer-length`` (Upload-Length
is required: the server must know where the final chunk is), ``creation-with-upload`` and
``concatenation``.

Downloads of a complete exhibit carry ``Repr-Digest`` (RFC 9530; ``casework.http.ranged_download``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import http_date

from casework.errors import BadInput, PreconditionFailed
from casework.exhibits.types import Body
from casework.http import MAX_SEQ, reject_unstorable

VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,expiration,termination"
CHECKSUM_ALGORITHMS = "sha256"
OFFSET_MEDIA_TYPE = "application/offset+octet-stream"
PIECE_BYTES = 256 * 1024  # how much of a PATCH body is read at a time

_INTEGER = re.compile(r"^[0-9]{1,16}$")
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def require_resumable(headers: Any) -> None:
    """Every tus request but OPTIONS names the protocol version; another version is 412."""
    if headers.get("Tus-Resumable") != VERSION:
        raise PreconditionFailed(
            f"Send Tus-Resumable: {VERSION} (the only version served).", problem="tus-version-unsupported"
        )


def _integer(value: str | None, name: str) -> int:
    if value is None or not _INTEGER.match(value.strip()) or int(value) > MAX_SEQ:
        raise BadInput(f"{name} must be a non-negative integer.", problem="bad-tus-header")
    return int(value)


def upload_length(headers: Any) -> int:
    if headers.get("Upload-Defer-Length") is not None:
        raise BadInput("Upload-Defer-Length is not supported; send Upload-Length.", problem="bad-tus-header")
    return _integer(headers.get("Upload-Length"), "Upload-Length")


def upload_offset(headers: Any) -> int:
    return _integer(headers.get("Upload-Offset"), "Upload-Offset")


def upload_checksum(headers: Any) -> bytes | None:
    """The sha256 digest of ``Upload-Checksum: sha256 <base64>``; other algorithms are 400."""
    value = headers.get("Upload-Checksum")
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise BadInput("Upload-Checksum supports sha256 only.", problem="checksum-algorithm-unsupported")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("Upload-Checksum is not base64.", problem="bad-tus-header") from None
    if len(digest) != 32:
        raise BadInput("Upload-Checksum is not a sha256 digest.", problem="bad-tus-header")
    return digest


def upload_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata: key base64,key2 base64,key3``: keys unique, values UTF-8 text."""
    found: dict[str, str] = {}
    if not header or not header.strip():
        return found
    for pair in header.split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not _METADATA_KEY.match(key) or key in found:
            raise BadInput("Upload-Metadata keys must be unique words.", problem="bad-tus-metadata")
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            reject_unstorable(value)
        except (binascii.Error, ValueError):
            raise BadInput(
                f"Upload-Metadata {key!r} is not base64 of UTF-8 text.", problem="bad-tus-metadata"
            ) from None
        found[key] = value
    return found


def expires(moment: datetime) -> str:
    return http_date(moment)


class RequestBody(Body):
    """A PATCH body read ``PIECE_BYTES`` at a time; a client that disconnects leaves it truncated.

    A disconnect shows as an error from the stream (Werkzeug's ``ClientDisconnected``) or, when
    the server marks its input terminated (gunicorn), as an end before ``Content-Length`` bytes.
    """

    def __init__(self, stream: IO[bytes], content_length: int | None) -> None:
        self._stream, self._expected = stream, content_length
        self.truncated = False

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        while True:
            try:
                piece = self._stream.read(PIECE_BYTES)
            except (ClientDisconnected, OSError):
                self.truncated = True
                return
            if not piece:
                self.truncated = self._expected is not None and received < self._expected
                return
            received += len(piece)
            yield piece
