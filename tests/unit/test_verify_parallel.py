"""The fast, parallel verification of export files reports exactly what the line-by-line pass does.

``verify_path`` hashes the signed prefix of a file in worker processes and falls back to the
precise pass on anything unusual; every tampering case must come out identical to
``verify_export``, with one and with two processes, across many small blocks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from casework_verify import log as verify_module
from casework_verify.log import verify_export, verify_path
from tests.unit.test_verify import CP20, CP50, ENTRIES, LINES, VKEY, checkpoint, event, line


def _cases() -> dict[str, tuple[list[bytes], list[str]]]:
    altered = list(LINES)
    altered[17] = line(event(17, actor_username="someone.else"), bytes.fromhex(json.loads(LINES[17])["leaf_hash"]))
    recomputed = list(LINES)
    recomputed[30] = line(event(30, action="case.delete"))
    swapped = list(LINES)
    swapped[12], swapped[13] = swapped[13], swapped[12]
    tail_altered = list(LINES)
    tail_altered[45] = line(event(45, outcome="error"), bytes.fromhex(json.loads(LINES[45])["leaf_hash"]))
    pretty = [json.dumps(json.loads(raw), indent=1).replace("\n", " ").encode() + b"\n" for raw in LINES]
    cp40 = checkpoint(ENTRIES, 40)
    return {
        "clean": (LINES, [CP20, CP50]),
        "uncovered tail": (LINES, [cp40]),
        "altered in the uncovered tail": (tail_altered, [cp40]),
        "only the empty checkpoint": (LINES, [checkpoint(ENTRIES, 0)]),
        "altered": (altered, [checkpoint(ENTRIES, 10), CP50]),
        "recomputed leaf hash": (recomputed, [CP20, CP50]),
        "deleted": (LINES[:12] + LINES[13:], [CP20, CP50]),
        "inserted": (LINES[:25] + [LINES[3]] + LINES[25:], [CP20, CP50]),
        "swapped": (swapped, [CP20, CP50]),
        "truncated": (LINES[:35], [CP20, CP50]),
        "blank line": (LINES[:5] + [b"\n"] + LINES[5:], [CP20, CP50]),
        "crlf": ([raw[:-1] + b"\r\n" for raw in LINES], [CP20, CP50]),
        "no final newline": (LINES[:-1] + [LINES[-1][:-1]], [CP50]),
        "pretty printed": (pretty, [CP50]),
        "garbage line": (LINES[:7] + [b"{not json\n"] + LINES[8:], [CP20, CP50]),
    }


CASES = _cases()


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_files_verify_exactly_like_the_stream(
    name: str, jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, checkpoints = CASES[name]
    monkeypatch.setattr(verify_module, "BLOCK", 700)  # a few lines a block: many blocks, many workers' turns
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(lines))
    expected = verify_export(lines, checkpoints, VKEY).to_dict()
    assert verify_path(str(path), checkpoints, VKEY, jobs=jobs).to_dict() == expected


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_clean_signed_prefix_takes_the_fast_path(jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this the equality above could hold because the fast path never runs."""
    monkeypatch.setattr(verify_module, "BLOCK", 700)
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(LINES))
    cps = verify_module.load_checkpoints([CP20, checkpoint(ENTRIES, 40)], VKEY)
    fast = verify_module._fast_prefix(str(path), cps, jobs)
    assert fast is not None
    frontier, offset = fast
    assert frontier.size == 40 and frontier.root() == cps[-1].root
    assert offset == len(b"".join(LINES[:40]))


def test_a_tampered_prefix_gives_up_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "BLOCK", 700)
    cps = verify_module.load_checkpoints([CP20, CP50], VKEY)
    for name in ("altered", "recomputed leaf hash", "swapped", "truncated", "blank line"):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"".join(CASES[name][0]))
        assert verify_module._fast_prefix(str(path), cps, 2) is None, name
