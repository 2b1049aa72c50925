"""The log side of C2SP tlog-witness: ask a witness to cosign a checkpoint (standard library only).

    lines = request_cosignature("https://witness.example.org", old_size, proof, signed_checkpoint, 5.0)
    note = cosignature.append_signatures(signed_checkpoint, lines)

On ``WitnessConflict`` the witness has cosigned another size (``exc.known_size``): resend with
that old size and a consistency proof from it. Any other refusal is ``WitnessRefused``; network
trouble is ``WitnessUnreachable``. Pass ``trusted_vkeys`` to keep only the lines that are valid
cosignatures by those witness keys (the spec requires clients to ignore unknown keys).
"""

from __future__ import annotations

import base64
import http.client
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from email.message import Message as HTTPMessage
from typing import IO

from casework_verify.cosignature import (
    CosignatureError,
    cosigners,
    join_note,
    parse_signature_line,
    split_note,
)
from casework_verify.note import SIG_PREFIX

MAX_PROOF_LINES = 63
MAX_RESPONSE = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_SIZE = re.compile(r"(0|[1-9][0-9]{0,19})\n\Z")


class WitnessError(Exception):
    """A witness did not cosign."""


class WitnessConflict(WitnessError):
    """409: the witness's latest cosigned checkpoint has another size; retry from ``known_size``."""

    def __init__(self, known_size: int) -> None:
        super().__init__(f"witness has cosigned size {known_size}")
        self.known_size = known_size


class WitnessRefused(WitnessError):
    """The witness answered with another status (or an unusable body)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"witness refused with HTTP {status}: {body.strip()[:200]}")
        self.status = status
        self.body = body


class WitnessBadResponse(WitnessRefused):
    """A 200 (or 409) whose body breaks the protocol, or carries no valid trusted cosignature."""


class WitnessUnreachable(WitnessError):
    """Connection refused, timed out, reset, TLS failure..."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A POST must not be silently re-sent elsewhere (or downgraded to GET): 3xx is a refusal."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def add_checkpoint_body(old_size: int, consistency_proof: Sequence[bytes], signed_checkpoint: str) -> bytes:
    """The request body: ``old N``, one base64 hash per line, an empty line, the checkpoint."""
    if not 0 <= old_size < 2**64:
        raise ValueError("old size must be a 64-bit unsigned integer")
    if len(consistency_proof) > MAX_PROOF_LINES:
        raise ValueError(f"at most {MAX_PROOF_LINES} consistency proof hashes")
    if old_size == 0 and consistency_proof:
        raise ValueError("the consistency proof must be empty when the old size is 0")
    if any(len(h) != 32 for h in consistency_proof):
        raise ValueError("consistency proof hashes are 32 bytes")
    split_note(signed_checkpoint)  # CosignatureError if it is not a signed note
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in consistency_proof)]
    return ("".join(f"{line}\n" for line in lines) + "\n" + signed_checkpoint).encode("utf-8")


def _endpoint(url: str) -> str:
    """Accept the witness's submission prefix or the full add-checkpoint URL."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("witness URL must be http:// or https://")
    return url if url.rstrip("/").endswith("/add-checkpoint") else url.rstrip("/") + "/add-checkpoint"


def _read(response: IO[bytes], status: int) -> str:
    data = response.read(MAX_RESPONSE + 1)
    if len(data) > MAX_RESPONSE:
        raise WitnessBadResponse(status, "response too large")
    return data.decode("utf-8", errors="replace")


def _parse_lines(body: str) -> list[str]:
    if not body or not body.endswith("\n"):
        raise WitnessBadResponse(200, body)
    lines = body[:-1].split("\n")
    try:
        for line in lines:
            if not line.startswith(SIG_PREFIX):
                raise CosignatureError("not a signature line")
            parse_signature_line(line)
    except CosignatureError as exc:
        raise WitnessBadResponse(200, body) from exc
    return lines


def request_cosignature(
    url: str,
    old_size: int,
    consistency_proof: list[bytes],
    signed_checkpoint: str,
    timeout: float,
    *,
    trusted_vkeys: Sequence[str] | None = None,
) -> list[str]:
    """POST add-checkpoint to a witness; return its cosignature lines (without newlines).

    Raises WitnessConflict(known_size) on 409, WitnessRefused(status, body) on any other
    status or a malformed answer, WitnessUnreachable on network errors and timeouts.
    With ``trusted_vkeys`` (cosigner vkeys) only lines that verify as cosignatures of this
    checkpoint by those keys are returned, and WitnessBadResponse is raised if there are none.
    """
    body = add_checkpoint_body(old_size, consistency_proof, signed_checkpoint)
    req = urllib.request.Request(  # noqa: S310 (_endpoint admits only http and https witness URLs)
        _endpoint(url),
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": "casework-custody-log"},
    )
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            status = response.status
            text = _read(response, status)
    except urllib.error.HTTPError as exc:
        try:
            status, text = exc.code, _read(exc, exc.code)
        except (OSError, http.client.HTTPException):
            status, text = exc.code, ""
        finally:
            exc.close()
        if status == 409:
            content_type = (exc.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            match = _SIZE.match(text)
            if content_type != SIZE_CONTENT_TYPE or match is None:
                raise WitnessBadResponse(409, text) from None
            raise WitnessConflict(int(match.group(1))) from None
        raise WitnessRefused(status, text) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise WitnessUnreachable(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    if status != 200:
        raise WitnessRefused(status, text)
    lines = _parse_lines(text)
    if trusted_vkeys is None:
        return lines
    checkpoint_text, _ = split_note(signed_checkpoint)
    try:
        valid = cosigners(join_note(checkpoint_text, lines), trusted_vkeys)
    except CosignatureError as exc:
        raise WitnessBadResponse(200, f"{exc}\n{text}") from exc
    signers = {(c.name, c.key_id) for c in valid}
    kept = []
    for line in lines:
        name, raw = parse_signature_line(line)
        if (name, raw[:4]) in signers:
            kept.append(line)
    if not kept:
        raise WitnessBadResponse(200, f"no cosignature by a trusted witness key\n{text}")
    return kept
