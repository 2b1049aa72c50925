"""C2SP tlog-witness ``add-checkpoint`` as a small standalone WSGI app.

Spec: https://c2sp.org/tlog-witness (cosignatures: https://c2sp.org/tlog-cosignature, Ed25519
``cosignature/v1``). The submission and monitoring prefixes are both the app's root:

* ``POST /add-checkpoint``: body ``old <size>\\n``, up to 63 base64 consistency proof lines, an
  empty line, then the signed checkpoint. Answers, in the order the spec states the checks:
  400 malformed body; 404 origin not witnessed; 403 no valid signature by a trusted log key (or
  a trusted key's signature that fails); 400 old size above the checkpoint size; 409 (body
  ``<size>\\n``, ``text/x.tlog.size``) old size is not the size last cosigned; 422 size 0 with a
  non-empty root, a proof with old size 0, a proof that does not verify, or the same size with
  another root; 200 with the cosignature line(s) once the new state is on disk.
* ``GET /<sha256(origin) hex>/checkpoint``: the latest cosigned checkpoint (log signature and
  cosignature), 404 if none.

The check of the old size and the write of the new state happen under one flock, so gunicorn
workers cannot roll the state back (the race the spec describes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from casework.tlog_witness.state import LogState, WitnessStore
from casework_verify.cosignature import CosignatureError, cosign, join_note, parse_signature_line, split_note
from casework_verify.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from casework_verify.note import Checkpoint, NoteError, parse_checkpoint

MAX_PROOF_LINES = 63
MAX_BODY = 256 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"

_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,19})\Z")
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}\Z")

log = logging.getLogger("casework.tlog_witness")


class Refusal(Exception):
    """An add-checkpoint answer other than 200."""

    def __init__(self, status: int, message: str, content_type: str = TEXT) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.content_type = content_type


@dataclass(frozen=True)
class Submission:
    old_size: int
    proof: list[bytes]
    text: str  # checkpoint body, as signed
    signature_lines: list[str]
    checkpoint: Checkpoint


def parse_submission(body: bytes) -> Submission:
    """Parse an add-checkpoint request body strictly; Refusal(400) if malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, "request body is not UTF-8") from exc
    lines_end = text.find("\n")
    match = _OLD_LINE.match(text[:lines_end]) if lines_end >= 0 else None
    if match is None:
        raise Refusal(400, "first line must be 'old <size>' (decimal, no leading zeroes)")
    old_size = int(match.group(1))
    if old_size >= 2**64:
        raise Refusal(400, "old size does not fit in 64 bits")
    rest = text[lines_end + 1 :]
    proof: list[bytes] = []
    while True:
        end = rest.find("\n")
        if end < 0:
            raise Refusal(400, "missing the empty line before the checkpoint")
        line, rest = rest[:end], rest[end + 1 :]
        if line == "":
            break
        if len(proof) == MAX_PROOF_LINES:
            raise Refusal(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refusal(400, "consistency proof line is not base64") from exc
        if len(digest) != HASH_SIZE or base64.b64encode(digest).decode("ascii") != line:
            raise Refusal(400, "consistency proof line must be one base64 SHA-256 hash")
        proof.append(digest)
    try:
        checkpoint_text, signature_lines = split_note(rest)
        checkpoint = parse_checkpoint(checkpoint_text)
    except NoteError as exc:  # CosignatureError is a NoteError
        raise Refusal(400, f"malformed checkpoint: {exc}") from exc
    return Submission(old_size, proof, checkpoint_text, signature_lines, checkpoint)


class Cosigner:
    """The witness's one act, over its state directory: check a submitted checkpoint against what
    it cosigned before, and cosign it (no HTTP here)."""

    def __init__(self, store: WitnessStore) -> None:
        self.store = store
        self.name = store.name()
        self.private_key = store.load_private_key()
        self.vkey = store.vkey()

    def _verified_log_lines(self, sub: Submission) -> list[str]:
        """The checkpoint's signature lines by trusted log keys, all verified (404/403 otherwise)."""
        verifiers = self.store.trusted_keys(sub.checkpoint.origin)
        if verifiers is None:
            raise Refusal(404, "unknown log origin")
        message = sub.text.encode("utf-8")
        good: list[str] = []
        for line in sub.signature_lines:
            name, raw = parse_signature_line(line)
            for verifier in verifiers:
                if name != verifier.name or raw[:4] != verifier.key_id:
                    continue  # signatures from unknown keys are ignored
                if len(raw) != 4 + 64 or not verifier.verify(message, raw[4:]):
                    raise Refusal(403, f"signature by trusted key {name} does not verify")
                good.append(line)
        if not good:
            raise Refusal(403, "no signature by a trusted key for this origin")
        return good

    def add_checkpoint(self, body: bytes) -> str:
        """Check a submission, persist the new state and return the cosignature lines."""
        sub = parse_submission(body)
        cp = sub.checkpoint
        log_lines = self._verified_log_lines(sub)
        if sub.old_size > cp.size:
            raise Refusal(400, "old size is larger than the checkpoint size")
        with self.store.lock():
            state = self.store.load_state()
            current = state.get(cp.origin)
            current_size = current.size if current else 0
            if sub.old_size != current_size:
                raise Refusal(409, f"{current_size}\n", SIZE_CONTENT_TYPE)
            self._check_consistency(sub, current, body)
            timestamp = max(int(time.time()), current.timestamp if current else 1, 1)
            line = cosign(sub.text, self.name, self.private_key, timestamp)
            stored = join_note(sub.text, [*log_lines, line])
            state[cp.origin] = LogState(cp.size, cp.root, timestamp, stored)
            self.store.save_state(state)
        log.info("cosigned %s at size %d", cp.origin, cp.size)
        return line + "\n"

    def _check_consistency(self, sub: Submission, current: LogState | None, body: bytes) -> None:
        cp = sub.checkpoint
        problem: str | None = None
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            problem = "a checkpoint of size 0 must have the empty tree's root hash"
        elif sub.old_size == 0:
            if sub.proof:
                problem = "the consistency proof must be empty when the old size is 0"
        else:
            if current is None:  # cannot happen: old size == current size > 0
                raise Refusal(500, "witness state lost")
            if sub.old_size == cp.size and cp.root != current.root:
                problem = "same size as the checkpoint already cosigned, but a different root hash"
            elif not verify_consistency(sub.old_size, cp.size, current.root, cp.root, sub.proof):
                problem = "the consistency proof does not verify against the checkpoint already cosigned"
        if problem is not None:
            where = self.store.save_evidence(body)
            log.warning(
                "refused a validly signed checkpoint of %s at size %d: %s (kept in %s)",
                cp.origin,
                cp.size,
                problem,
                where,
            )
            raise Refusal(422, problem)

    def latest_checkpoint(self, origin_hash: str) -> str | None:
        for origin, entry in self.store.load_state().items():
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                return entry.checkpoint
        return None


def create_witness_app(state_dir: str | os.PathLike[str]) -> Flask:
    """The witness WSGI app over ``state_dir`` (made with ``python -m casework.tlog_witness init``)."""
    cosigner = Cosigner(WitnessStore(state_dir))
    app = Flask("casework.tlog_witness", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["casework_cosigner"] = cosigner

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        try:
            lines = cosigner.add_checkpoint(request.get_data(cache=False))
        except Refusal as refusal:
            return Response(
                refusal.message if refusal.message.endswith("\n") else refusal.message + "\n",
                status=refusal.status,
                content_type=refusal.content_type,
            )
        except CosignatureError as exc:  # the signer failed: never answer with a bad cosignature
            log.error("cosigning failed: %s", exc)
            return Response("cosigning failed\n", status=500, content_type=TEXT)
        return Response(lines, status=200, content_type=TEXT)

    @app.get("/<origin_hash>/checkpoint")
    def checkpoint(origin_hash: str) -> Response:
        if not _ORIGIN_HASH.match(origin_hash):
            return Response("not found\n", status=404, content_type=TEXT)
        note = cosigner.latest_checkpoint(origin_hash)
        if note is None:
            return Response("no checkpoint cosigned for this log\n", status=404, content_type=TEXT)
        return Response(note, status=200, content_type=TEXT)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> WerkzeugResponse:
        response = exc.get_response()  # keeps headers such as Allow on a 405
        response.set_data(f"{exc.name}\n")
        response.content_type = TEXT
        return response

    return app
