"""``casework bundle download``: a disclosure bundle is a file, fetched whole or resumed.

The bytes go to ``FILE.part``, the ETag beside it (``FILE.part.etag``). A re-run asks for the
rest (``Range: bytes=N-``) only if the bundle is still the same representation (``If-Range``
with that ETag): 206 appends, 200 starts over (the server sent the whole), 416 means the part is
not a prefix of it. At the end the file's SHA-256 must be the ``Repr-Digest`` (RFC 9530) the
server gave and its length ``Content-Length``; only then is it renamed to FILE.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from casework_client.api import API, Api, ApiError, Unreachable, check
from casework_client.trust import VerificationFailed

_DIGEST = re.compile(r"sha-256=:([A-Za-z0-9+/=]+):")
_CONTENT_RANGE = re.compile(r"bytes ([0-9]+)-[0-9]+/([0-9]+)")


@dataclass
class Downloaded:
    path: Path
    size: int
    sha256: str
    resumed_from: int


def _repr_digest(header: str | None) -> bytes:
    match = _DIGEST.search(header or "")
    if not match:
        raise VerificationFailed("the server sent no Repr-Digest (sha-256) to check the bundle against")
    return base64.b64decode(match.group(1))


def download(
    api: Api,
    disclosure_id: int,
    output: Path | None,
    *,
    on_start: Callable[[int, int], None],
    on_progress: Callable[[int], None],
) -> Downloaded:
    url = f"{API}/disclosures/{disclosure_id}/bundle"
    target = output or Path(f"disclosure-{disclosure_id}.zip")
    part, etag_file = target.with_name(target.name + ".part"), target.with_name(target.name + ".part.etag")
    have = part.stat().st_size if part.exists() else 0
    etag = etag_file.read_text().strip() if etag_file.exists() and have else None
    headers = {"Range": f"bytes={have}-", "If-Range": etag} if etag else {}
    try:
        with api.http.stream("GET", url, headers=headers) as response:
            if response.status_code == 416:  # the part is not a prefix of this bundle: start again
                part.unlink(missing_ok=True)
                etag_file.unlink(missing_ok=True)
                raise ApiError(416, "the partial download did not fit the bundle; run the command again")
            check(response, 200, 206)
            if response.status_code == 206:
                found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
                if found is None or int(found.group(1)) != have:
                    raise ApiError(206, f"the server resumed at {response.headers.get('Content-Range')}, not at {have}")
                total = int(found.group(2))
            else:
                have, total = 0, int(response.headers.get("Content-Length", "0"))
            digest = _repr_digest(response.headers.get("Repr-Digest"))
            etag_file.write_text(response.headers.get("ETag", "") + "\n")
            on_start(total, have)
            with part.open("ab" if have else "wb") as out:
                written = have
                for piece in response.iter_bytes(1 << 20):
                    out.write(piece)
                    written += len(piece)
                    on_progress(written)
                out.flush()
                os.fsync(out.fileno())
    except httpx.TransportError as exc:
        raise Unreachable(
            f"the download was cut ({exc or type(exc).__name__}); run the same command to resume"
        ) from None
    resumed_from = have
    sha, size = hashlib.sha256(), 0
    with part.open("rb") as source:
        while piece := source.read(1 << 20):
            sha.update(piece)
            size += len(piece)
    if size != total or sha.digest() != digest:
        bad = target.with_name(target.name + ".corrupt")
        os.replace(part, bad)
        etag_file.unlink(missing_ok=True)
        raise VerificationFailed(
            f"the bundle's {size} bytes do not match the server's Repr-Digest and length "
            f"({total}): kept as {bad} for inspection; download it again"
        )
    os.replace(part, target)
    etag_file.unlink(missing_ok=True)
    return Downloaded(target, size, sha.hexdigest(), resumed_from)
