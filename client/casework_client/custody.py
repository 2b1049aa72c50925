"""Auditors' commands: who read a witness's records, and a monitor of the log (as CT monitors do).

**Monitor.** Each run fetches the served checkpoint, checks the log's signature under the pinned
key and the witnesses' cosignatures (``casework_verify.note``, ``casework_verify.cosignature``),
then checks that it extends the checkpoint kept by the previous run: the same root at the same
size, or a consistency proof (GET /custody/proofs/consistency) from the kept size to the new one
that ``casework_verify.merkle`` verifies against both signed roots. Only then is the new one
kept. Two checkpoints signed by the log that no proof can join are a fork: the log showed two
histories. The monitor then keeps nothing new, writes both signed notes (and the proof offered)
to ``monitor/fork-<time>.txt`` as evidence, and exits non-zero naming both.

The kept checkpoint is a signed note, checked under the pinned key every time it is read: an
altered kept file is the monitor's own state tampered with, reported as such, never a fork.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casework_client.api import Api, ApiError
from casework_client.config import Config, write_private
from casework_client.trust import VerificationFailed, fingerprint
from casework_verify import merkle
from casework_verify.cosignature import CosignatureError, QuorumError, verify_quorum
from casework_verify.note import Checkpoint, NoteError, open_note, parse_checkpoint, parse_vkey

CLOCK_SKEW = 300  # seconds a cosignature may be dated ahead of this machine's clock
# What counts as reading a witness's records (every *.read, and what lists or releases them).
READ_ACTIONS = ("transcript.list", "exhibit.list", "disclosure.item", "disclosure.bundle")


# -- who read ------------------------------------------------------------------------------


@dataclass
class WitnessFound:
    case_id: int
    witness_id: int
    pseudonym: str


def find_witness(api: Api, pseudonym: str, case_id: int | None) -> tuple[list[WitnessFound], list[str]]:
    """The witnesses with this pseudonym (in one case, or in every case the caller may list), and
    notes on how they were found (e.g. a filter the server does not offer)."""
    notes: list[str] = []
    cases = [case_id] if case_id is not None else [case["id"] for case in api.pages("/cases")]
    found: list[WitnessFound] = []
    filtered = True
    for case in cases:
        items: Iterable[dict[str, Any]]
        if filtered:
            try:
                items = list(api.pages(f"/cases/{case}/witnesses", pseudonym=pseudonym))
            except ApiError as exc:
                if exc.status != 422:
                    raise
                filtered = False
                notes.append(
                    "the server has no ?pseudonym= filter on GET /cases/{id}/witnesses: "
                    "listed every witness of each case instead"
                )
        if not filtered:
            items = api.pages(f"/cases/{case}/witnesses")
        found += [WitnessFound(case, w["id"], w["pseudonym"]) for w in items if w.get("pseudonym") == pseudonym]
    return found, notes


def is_read(action: str) -> bool:
    return action.endswith(".read") or action in READ_ACTIONS


def events_of_witness(api: Api, witness_id: int, *, since: str | None, until: str | None) -> Iterator[dict[str, Any]]:
    """Every custody event about the witness (GET /custody/events?witness_id=), oldest first.

    The API filters by one exact ``action``; reads are several actions, so they are selected here.
    """
    return api.pages("/custody/events", witness_id=witness_id, since=since, until=until)


def describe_target(event: dict[str, Any]) -> str:
    details = event.get("details") or {}
    what = f"{event.get('resource_type') or '?'} {event.get('resource_id') or ''}".strip()
    extra = [
        f"{key} {details[key]}"
        for key in ("range", "version", "part", "registration_number", "via")
        if details.get(key) not in (None, "")
    ]
    return what + (f" ({', '.join(extra)})" if extra else "")


# -- monitor ------------------------------------------------------------------------------


@dataclass
class Seen:
    note: str
    checkpoint: Checkpoint

    def name(self) -> str:
        return f"{self.checkpoint.origin} size {self.checkpoint.size} root {self.checkpoint.root.hex()}"


@dataclass
class MonitorResult:
    served: Seen
    kept: Seen | None
    kept_at: str | None
    cosigners: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fork: bool = False
    consistency: str = ""
    evidence: Path | None = None


class KeptState:
    """The last checkpoint the monitor kept for one log (by key), under ``monitor/``."""

    def __init__(self, config: Config, vkey: str) -> None:
        self.directory = config.directory / "monitor"
        self.path = self.directory / f"{hashlib.sha256(vkey.encode()).hexdigest()[:16]}.json"
        self.vkey = vkey

    def load(self) -> tuple[Seen, str] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            text = open_note(data["note"], self.vkey)
            return Seen(data["note"], parse_checkpoint(text)), str(data.get("kept_at"))
        except (ValueError, KeyError, NoteError) as exc:
            raise VerificationFailed(
                f"the kept checkpoint {self.path} is not a checkpoint signed by the pinned log key ({exc}): the "
                "monitor's own state was altered or damaged. Restore it from a copy you trust, or delete it to "
                "start again from the served checkpoint (trust on first use)."
            ) from None

    def keep(self, seen: Seen, server: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        kept_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_private(
            self.path, json.dumps({"note": seen.note, "kept_at": kept_at, "server": server}, indent=2).encode()
        )

    def evidence(self, result: MonitorResult, proof: Any) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.directory / f"fork-{stamp}.txt"
        kept = result.kept
        parts = [
            "Two checkpoints signed by the log key below that no consistency proof joins.",
            f"log key: {self.vkey}",
            "",
            f"== kept (kept at {result.kept_at}): {kept.name() if kept else '-'}",
            kept.note if kept else "",
            f"== served now: {result.served.name()}",
            result.served.note,
            "== problems",
            *result.problems,
            "",
            "== consistency proof offered by the server",
            json.dumps(proof, indent=2) if proof is not None else "(none)",
            "",
        ]
        write_private(path, "\n".join(parts).encode())
        return path


def _root(value: Any) -> bytes:
    return bytes.fromhex(str(value))


def monitor(api: Api, config: Config, vkey: str, witness_keys: list[str], quorum: int) -> MonitorResult:
    state = KeptState(config, vkey)
    kept_state = state.load()  # first: a tampered kept file is reported before anything is fetched
    note = api.request("GET", "/custody/checkpoint").text
    try:
        served = Seen(note, parse_checkpoint(open_note(note, vkey)))
    except NoteError as exc:
        raise VerificationFailed(
            f"the served checkpoint is not signed by the pinned log key {fingerprint(vkey)}: {exc}"
        ) from None
    if served.checkpoint.origin != parse_vkey(vkey).name:
        raise VerificationFailed(f"the checkpoint's origin {served.checkpoint.origin!r} is not the log key's name")
    kept, kept_at = kept_state or (None, None)
    result = MonitorResult(served, kept, kept_at)
    if witness_keys:
        try:
            valid = verify_quorum(note, witness_keys, quorum, latest=int(time.time()) + CLOCK_SKEW)
            result.cosigners = [_cosigner(c.name, c.timestamp) for c in valid]
        except QuorumError as exc:
            result.cosigners = [_cosigner(c.name, c.timestamp) for c in exc.valid]
            result.problems.append(f"witnesses: {exc}")
        except CosignatureError as exc:
            result.problems.append(f"witnesses: {exc}")
    proof_offered: Any = None
    if kept is not None:
        old, new = kept.checkpoint, served.checkpoint
        if new.size < old.size:
            result.fork = True
            result.problems.append(
                f"rollback: the log now shows {new.size} entries, fewer than the {old.size} it signed before"
            )
        elif new.size == old.size:
            if new.root != old.root:
                result.fork = True
                result.problems.append(f"fork: two different roots signed for size {new.size}")
            else:
                result.consistency = f"the same tree as the kept checkpoint (size {new.size})"
        elif old.size == 0:
            result.consistency = "extends the kept empty tree"
        else:
            try:
                proof_offered = api.get_json("/custody/proofs/consistency", first=old.size, second=new.size)
            except ApiError as exc:
                result.problems.append(f"no consistency proof from {old.size} to {new.size}: {exc}")
            if proof_offered is not None:
                hashes = [_root(h) for h in proof_offered.get("proof", [])]
                if _root(proof_offered.get("first_root_hash")) != old.root:
                    result.fork = True
                    result.problems.append(
                        f"fork: the server's tree of size {old.size} has root "
                        f"{proof_offered.get('first_root_hash')}, not the signed "
                        f"{old.root.hex()} kept"
                    )
                elif not merkle.verify_consistency(old.size, new.size, old.root, new.root, hashes):
                    result.fork = True
                    result.problems.append(
                        f"fork: the consistency proof from {old.size} to {new.size} does not join the two signed roots"
                    )
                else:
                    result.consistency = (
                        f"extends the kept checkpoint of size {old.size} (consistency proof of "
                        f"{len(hashes)} hashes verified)"
                    )
    if result.fork:
        result.evidence = state.evidence(result, proof_offered)
    if not result.problems:
        state.keep(served, api.server)
    return result


def _cosigner(name: str, timestamp: int) -> str:
    return f"{name} at {datetime.fromtimestamp(timestamp, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
