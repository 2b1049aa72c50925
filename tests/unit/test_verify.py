"""Offline export verifier and leaf encoding: every kind of tampering is caught and named."""

from __future__ import annotations

import collections
import enum
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casework.custody.canonical import canonical_json
from casework.custody.merkle import CompactRange, leaf_hash
from casework.custody.note import NoteError, format_checkpoint, sign_note, vkey_string
from casework.custody.verify import EXIT_FAILED, EXIT_OK, EXIT_USAGE, VerifyReport, main, verify_export

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "casework.test/custody"
KEY = Ed25519PrivateKey.generate()
VKEY = vkey_string(ORIGIN, KEY.public_key())


def event(seq: int, **changes: Any) -> dict[str, Any]:
    """An entry shaped like CustodyEvent.entry()."""
    entry: dict[str, Any] = {
        "seq": seq,
        "time": f"2025-11-25T09:{seq // 60 % 60:02d}:{seq % 60:02d}.{seq * 7919 % 10**6:06d}Z",
        "actor_id": 3 + seq % 4,
        "actor_username": ["a.okafor", "j.lindqvist", "m.haddad", "r.ferreira"][seq % 4],
        "actor_role": "investigator" if seq % 3 else "supervisor",
        "action": ["case.read", "witness.update", "transcript.read", "interview.create"][seq % 4],
        "outcome": "denied" if seq % 11 == 5 else "allowed",
        "resource_type": "case",
        "resource_id": str(1000 + seq % 9),
        "case_id": 1000 + seq % 9,
        "witness_id": None if seq % 2 else 70 + seq % 5,
        "request_id": f"req-{seq:012d}",
        "client_addr": f"192.0.2.{seq % 200}",
        "details": {"fields": ["name", "statement"], "note": "Zoë's statement \u2014 second interview",
                    "version": seq % 3},
    }
    entry.update(changes)
    return entry


def line(entry: dict[str, Any], stored: bytes | None = None) -> bytes:
    """One export line as the exporter writes it (canonical JSON of the record)."""
    digest = stored if stored is not None else leaf_hash(canonical_json(entry))
    return orjson.dumps({"entry": entry, "leaf_hash": digest.hex()}, option=orjson.OPT_SORT_KEYS) + b"\n"


def checkpoint(entries: list[dict[str, Any]], size: int, key: Ed25519PrivateKey = KEY) -> str:
    frontier = CompactRange()
    for entry in entries[:size]:
        frontier.append(leaf_hash(canonical_json(entry)))
    return sign_note(format_checkpoint(ORIGIN, size, frontier.root()), ORIGIN, key)


ENTRIES = [event(i) for i in range(50)]
LINES = [line(e) for e in ENTRIES]
CP20, CP50 = checkpoint(ENTRIES, 20), checkpoint(ENTRIES, 50)


def verify(lines: list[bytes], checkpoints: list[str] | None = None, vkey: str = VKEY) -> VerifyReport:
    return verify_export(lines, checkpoints if checkpoints is not None else [CP20, CP50], vkey)


# --- leaf encoding ------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, True, None], "a": "Zoë \u2014 \"q\"\\\n\x01\x7f"}) == (
        '{"a":"Zoë \u2014 \\"q\\"\\\\\\n\\u0001\x7f","b":[1,true,null]}'.encode()
    )
    assert canonical_json({"z": {"y": 1, "x": 2}}) == b'{"z":{"x":2,"y":1}}'


def test_canonical_json_sorts_keys_by_utf16_like_jcs() -> None:
    # RFC 8785 section 3.2.3 sorting example
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    encoded = canonical_json({k: i for i, k in enumerate(keys)})
    assert list(json.loads(encoded)) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize("value", [1.0, {"a": [1, {"b": 0.5}]}, {1: "x"}, {"a": b"bytes"}, {"a": {1, 2}}])
def test_canonical_json_rejects_types(value: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


class _Colour(enum.StrEnum):
    RED = "red"


class _Big(enum.IntEnum):
    SMALL = 7
    BIG = 2**53


@pytest.mark.parametrize("value", [2**53, -(2**53), {"a": "\ud800"}, {"a": [_Big.BIG]}])
def test_canonical_json_rejects_values(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_canonical_json_takes_subclasses_of_the_json_types_as_their_base() -> None:
    """The exact built-in types take a fast path; their subclasses are checked the long way and
    encode exactly as the base types would."""
    value = {"c": _Colour.RED, "n": _Big.SMALL, "o": collections.OrderedDict([("b", 1), ("a", (True, None))])}
    assert canonical_json(value) == b'{"c":"red","n":7,"o":{"a":[true,null],"b":1}}'
    with pytest.raises(TypeError):
        canonical_json({"when": datetime.now(UTC)})


# --- verification outcomes ----------------------------------------------------------------


def test_clean_export_verifies() -> None:
    report = verify(LINES)
    assert report.ok and report.problem is None and report.first_bad_seq is None
    assert (report.entries, report.verified_size, report.uncovered) == (50, 50, 0)
    assert report.checkpoint_sizes == (20, 50) and report.origin == ORIGIN


def test_entries_after_the_last_checkpoint_are_counted_but_not_covered() -> None:
    report = verify(LINES, [checkpoint(ENTRIES, 40)])
    assert report.ok and report.entries == 50 and report.verified_size == 40 and report.uncovered == 10
    assert "NOT covered" in report.message


def test_altered_entry_is_named() -> None:
    lines = list(LINES)
    original_hash = leaf_hash(canonical_json(ENTRIES[17]))
    lines[17] = line(event(17, outcome="allowed", actor_username="someone.else"), original_hash)
    report = verify(lines, [checkpoint(ENTRIES, 10), CP50])
    assert (report.ok, report.problem, report.first_bad_seq, report.verified_size) == (False, "altered", 17, 10)


def test_altered_entry_with_recomputed_leaf_hash_is_caught_by_the_root() -> None:
    lines = list(LINES)
    lines[30] = line(event(30, action="case.delete"))  # leaf hash recomputed by the forger
    report = verify(lines)
    assert (report.ok, report.problem, report.verified_size) == (False, "root_mismatch", 20)
    assert report.bad_range == (20, 49) and report.first_bad_seq is None
    assert "root mismatch at checkpoint size 50" in report.message and "(20, 50]" in report.message


def test_deleted_line() -> None:
    report = verify(LINES[:12] + LINES[13:])
    assert (report.ok, report.problem, report.first_bad_seq, report.bad_range) == (False, "deleted", 12, (12, 12))
    report = verify(LINES[:12] + LINES[15:])
    assert (report.problem, report.first_bad_seq, report.bad_range) == ("deleted", 12, (12, 14))


def test_inserted_line() -> None:
    forged = line(event(12, action="case.read", actor_username="m.haddad"))
    report = verify(LINES[:12] + [forged] + LINES[12:])
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "inserted", 12)
    report = verify(LINES[:25] + [LINES[3]] + LINES[25:])
    assert (report.problem, report.first_bad_seq) == ("inserted", 25)


def test_swapped_lines() -> None:
    lines = list(LINES)
    lines[12], lines[13] = lines[13], lines[12]
    report = verify(lines)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "reordered", 12)


def test_truncated_export() -> None:
    report = verify(LINES[:35])
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", 35)
    assert report.verified_size == 20 and report.bad_range == (35, 49) and report.entries == 35
    assert verify([]).problem == "truncated"


def test_bad_checkpoint_signature() -> None:
    forged = CP50.replace("\n50\n", "\n49\n")
    report = verify(LINES, [CP20, forged])
    assert (report.ok, report.problem, report.entries) == (False, "checkpoint", 0)
    assert "checkpoint #2" in report.message


def test_wrong_vkey() -> None:
    other = vkey_string(ORIGIN, Ed25519PrivateKey.generate().public_key())
    report = verify(LINES, vkey=other)
    assert (report.ok, report.problem) == (False, "checkpoint")
    assert "no signature by" in report.message


def test_checkpoint_signed_by_another_key_is_rejected() -> None:
    report = verify(LINES, [CP20, checkpoint(ENTRIES, 50, Ed25519PrivateKey.generate())])
    assert report.problem == "checkpoint"


def test_forked_checkpoints_are_rejected() -> None:
    other_history = ENTRIES[:30] + [event(30, action="case.delete")] + ENTRIES[31:]
    report = verify(LINES, [CP50, checkpoint(other_history, 50)])
    assert report.problem == "checkpoint" and "forked" in report.message


def test_usage_errors_raise() -> None:
    with pytest.raises(NoteError):
        verify(LINES, vkey="not a key")
    with pytest.raises(ValueError):
        verify(LINES, [])


@pytest.mark.parametrize("bad", [
    b"{not json\n",
    b'{"entry": {"seq": 7}}\n',                                   # no leaf_hash
    b'["entry", "leaf_hash"]\n',
    orjson.dumps({"entry": event(7) | {"seq": "7"}, "leaf_hash": "00" * 32}) + b"\n",
    orjson.dumps({"entry": event(7) | {"seq": True}, "leaf_hash": "00" * 32}) + b"\n",
])
def test_malformed_line(bad: bytes) -> None:
    lines = list(LINES)
    lines[7] = bad
    report = verify(lines)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "malformed", 7)


def test_extra_fields_and_bad_leaf_hash_are_malformed() -> None:
    record = json.loads(LINES[7])
    record["comment"] = "added"
    assert verify(LINES[:7] + [json.dumps(record).encode()] + LINES[8:]).problem == "malformed"
    record = json.loads(LINES[7])
    record["leaf_hash"] = "zz" * 32
    assert verify(LINES[:7] + [json.dumps(record).encode()] + LINES[8:]).problem == "malformed"


def test_duplicate_keys_are_malformed() -> None:
    # a reader would see "case.delete"; the hash covers the second, genuine value
    genuine = LINES[9].decode()
    hidden = genuine.replace('"action":"witness.update"', '"action":"case.delete","action":"witness.update"')
    assert hidden != genuine
    report = verify(LINES[:9] + [hidden.encode()] + LINES[10:])
    assert (report.problem, report.first_bad_seq) == ("malformed", 9)


def test_float_in_entry_is_malformed() -> None:
    lines = list(LINES)
    lines[4] = line(event(4, case_id=1004.0), leaf_hash(canonical_json(ENTRIES[4])))
    report = verify(lines)
    assert (report.problem, report.first_bad_seq) == ("malformed", 4)


def test_non_canonical_formatting_and_blank_lines_still_verify() -> None:
    pretty = [json.dumps({"leaf_hash": json.loads(raw)["leaf_hash"], "entry": e}, indent=None).encode() + b"\r\n"
              for raw, e in zip(LINES, ENTRIES, strict=True)]
    assert verify(pretty).ok
    upper = [raw.replace(json.loads(raw)["leaf_hash"].encode(), json.loads(raw)["leaf_hash"].upper().encode())
             for raw in LINES]
    assert verify(upper).ok
    assert verify(LINES[:10] + [b"\n"] + LINES[10:] + [b""]).ok


def test_unsorted_compact_lines_verify_and_duplicates_are_caught() -> None:
    unsorted = [orjson.dumps({"entry": e, "leaf_hash": json.loads(raw)["leaf_hash"]}) + b"\n"
                for raw, e in zip(LINES, ENTRIES, strict=True)]
    assert unsorted != LINES and verify(unsorted).ok
    hidden = unsorted[9].replace(b'"action":"witness.update"', b'"action":"case.delete","action":"witness.update"')
    assert hidden != unsorted[9]
    report = verify(unsorted[:9] + [hidden] + unsorted[10:])
    assert (report.problem, report.first_bad_seq) == ("malformed", 9)


def test_keys_outside_the_bmp_use_jcs_order() -> None:
    entries = [event(i, details={"\U0001f600": 1, "\uffff": 2}) for i in range(5)]
    cp = checkpoint(entries, 5)
    exporter_lines = [b'{"entry":' + canonical_json(e) + b',"leaf_hash":"' + leaf_hash(canonical_json(e)).hex().encode()
                      + b'"}\n' for e in entries]
    assert verify(exporter_lines, [cp]).ok
    assert verify([line(e) for e in entries], [cp]).ok


def test_streams_a_generator_in_constant_memory() -> None:
    size = 20_000

    def generate() -> Iterator[bytes]:
        for i in range(size):
            yield line(event(i))

    frontier = CompactRange()
    total = 0
    for raw in generate():
        total += len(raw)
        frontier.push(bytes.fromhex(json.loads(raw)["leaf_hash"]))
    cp = sign_note(format_checkpoint(ORIGIN, size, frontier.root()), ORIGIN, KEY)
    tracemalloc.start()
    try:
        report = verify_export(generate(), [cp], VKEY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok and report.entries == size
    assert total > 8_000_000
    assert peak < 1_000_000, f"peak {peak} bytes: the verifier is keeping lines"


# --- command line -------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ["export.jsonl", "tampered.jsonl", "cp20.txt", "cp50.txt", "vkey.txt"]}
    paths["export.jsonl"].write_bytes(b"".join(LINES))
    paths["tampered.jsonl"].write_bytes(b"".join(LINES[:12] + LINES[13:]))
    paths["cp20.txt"].write_text(CP20, encoding="utf-8")
    paths["cp50.txt"].write_text(CP50, encoding="utf-8")
    paths["vkey.txt"].write_text(VKEY + "\n", encoding="utf-8")
    return paths


def test_cli_subprocess_exit_codes(files: dict[str, Path]) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "casework.custody.verify", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    ok = run(str(files["export.jsonl"]), "--checkpoint", str(files["cp20.txt"]),
             "--checkpoint", str(files["cp50.txt"]), "--vkey", str(files["vkey.txt"]))
    assert ok.returncode == EXIT_OK and ok.stdout.startswith("OK"), ok.stderr
    bad = run(str(files["tampered.jsonl"]), "--checkpoint", str(files["cp50.txt"]), "--vkey", VKEY, "--json")
    assert bad.returncode == EXIT_FAILED
    data = json.loads(bad.stdout)
    assert (data["ok"], data["problem"], data["first_bad_seq"]) == (False, "deleted", 12)
    usage = run(str(files["export.jsonl"]), "--vkey", VKEY)
    assert usage.returncode == EXIT_USAGE


def test_main_usage_errors(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cp = str(files["cp50.txt"])
    assert main([str(files["export.jsonl"]), "--checkpoint", cp, "--vkey", VKEY]) == EXIT_OK
    assert main([str(tmp_path / "missing.jsonl"), "--checkpoint", cp, "--vkey", VKEY]) == EXIT_USAGE
    missing_cp = str(tmp_path / "missing.txt")
    assert main([str(files["export.jsonl"]), "--checkpoint", missing_cp, "--vkey", VKEY]) == EXIT_USAGE
    assert main([str(files["export.jsonl"]), "--checkpoint", cp, "--vkey", "garbage"]) == EXIT_USAGE
    assert main([]) == EXIT_USAGE
    assert main(["--help"]) == EXIT_OK
    assert main([str(files["tampered.jsonl"]), "--checkpoint", cp, "--vkey", VKEY]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "FAILED (deleted)" in out and "first bad seq: 12" in out
