"""Offline export verifier and leaf encoding: every kind of tampering is caught and named.

The export is built as the exporter builds it: leaf form v2 entries (``leaf.make_entry``),
with identifying values in clear and their salts. A section at the end keeps leaf form v1
exports (and exports mixing both) verifying.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casework_verify import leaf
from casework_verify import log as verify_module
from casework_verify.canonical import canonical_json
from casework_verify.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from casework_verify.log import VerifyReport, verify_export, verify_path
from casework_verify.merkle import CompactRange
from casework_verify.note import NoteError, format_checkpoint, sign_note, vkey_string

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "casework.test/custody"
KEY = Ed25519PrivateKey.generate()
VKEY = vkey_string(ORIGIN, KEY.public_key())
ENTRY_KEYS = set(leaf.ENTRY_FIELDS)


def fields(seq: int) -> dict[str, Any]:
    """What an event says, varied by seq: some with recipients, some failed logins (no actor)."""
    values: dict[str, Any] = {
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
        "details": {
            "fields": ["name", "statement"],
            "note": "Zo\u00eb's statement \u2014 second interview",
            "version": seq % 3,
        },
    }
    if seq % 10 == 7:
        values.update(
            actor_id=None,
            actor_username=None,
            actor_role=None,
            action="auth.login",
            outcome="denied",
            details={"claimed_username": f"user{seq}", "reason": "bad password"},
        )
    if seq % 10 == 4:
        values["details"] = dict(values["details"], recipient={"name": "Zo\u00eb Ferreira", "organisation": "CPS"})
    return values


def event_salt(seq: int) -> bytes:
    return hashlib.sha256(b"test event salt %d" % seq).digest()


def event(seq: int, /, **changes: Any) -> dict[str, Any]:
    """A leaf form v2 entry, as the exporter makes it; ``changes`` to fields keep the event's salts."""
    values = fields(seq)
    values.update({name: value for name, value in changes.items() if name in ENTRY_KEYS})
    recorded_at = datetime(2025, 11, 25, 9, seq // 60 % 60, seq % 60, seq * 7919 % 10**6)
    # the salts derive from the event's salt, not from its values: a changed value keeps its salt
    entry = leaf.make_entry(seq, recorded_at, SimpleNamespace(**values), event_salt(seq))
    entry.update({name: value for name, value in changes.items() if name not in ENTRY_KEYS})
    return entry


def v1_event(seq: int, /, **changes: Any) -> dict[str, Any]:
    """A leaf form v1 entry (shaped like CustodyEvent.entry() before SPEC v3): no v, no salts."""
    entry = {name: value for name, value in event(seq).items() if name not in ("v", "salts")}
    entry.update(changes)
    return entry


def line(entry: dict[str, Any], stored: bytes | None = None) -> bytes:
    """One export line as the exporter writes it (canonical JSON of the record)."""
    digest = stored if stored is not None else leaf.leaf_hash(entry)
    return orjson.dumps({"entry": entry, "leaf_hash": digest.hex()}, option=orjson.OPT_SORT_KEYS) + b"\n"


def checkpoint(entries: list[dict[str, Any]], size: int, key: Ed25519PrivateKey = KEY) -> str:
    frontier = CompactRange()
    for entry in entries[:size]:
        frontier.append(leaf.leaf_hash(entry))
    return sign_note(format_checkpoint(ORIGIN, size, frontier.root()), ORIGIN, key)


ENTRIES = [event(i) for i in range(50)]
LINES = [line(e) for e in ENTRIES]
CP20, CP50 = checkpoint(ENTRIES, 20), checkpoint(ENTRIES, 50)


def verify(lines: list[bytes], checkpoints: list[str] | None = None, vkey: str = VKEY) -> VerifyReport:
    return verify_export(lines, checkpoints if checkpoints is not None else [CP20, CP50], vkey)


def stored_hash(raw: bytes) -> bytes:
    return bytes.fromhex(json.loads(raw)["leaf_hash"])


# --- leaf encoding ------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, True, None], "a": 'Zoë \u2014 "q"\\\n\x01\x7f'}) == (
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
    original_hash = leaf.leaf_hash(ENTRIES[17])
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


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json\n",
        b'{"entry": {"seq": 7}}\n',  # no leaf_hash
        b'["entry", "leaf_hash"]\n',
        orjson.dumps({"entry": event(7) | {"seq": "7"}, "leaf_hash": "00" * 32}) + b"\n",
        orjson.dumps({"entry": event(7) | {"seq": True}, "leaf_hash": "00" * 32}) + b"\n",
    ],
)
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
    lines[4] = line(event(4, case_id=1004.0), leaf.leaf_hash(ENTRIES[4]))
    report = verify(lines)
    assert (report.problem, report.first_bad_seq) == ("malformed", 4)


def test_non_canonical_formatting_and_blank_lines_still_verify() -> None:
    pretty = [
        json.dumps({"leaf_hash": json.loads(raw)["leaf_hash"], "entry": e}, indent=None).encode() + b"\r\n"
        for raw, e in zip(LINES, ENTRIES, strict=True)
    ]
    assert verify(pretty).ok
    upper = [
        raw.replace(json.loads(raw)["leaf_hash"].encode(), json.loads(raw)["leaf_hash"].upper().encode())
        for raw in LINES
    ]
    assert verify(upper).ok
    assert verify(LINES[:10] + [b"\n"] + LINES[10:] + [b""]).ok


def test_unsorted_compact_lines_verify_and_duplicates_are_caught() -> None:
    unsorted = [
        orjson.dumps({"entry": e, "leaf_hash": json.loads(raw)["leaf_hash"]}) + b"\n"
        for raw, e in zip(LINES, ENTRIES, strict=True)
    ]
    assert unsorted != LINES and verify(unsorted).ok
    hidden = unsorted[9].replace(b'"action":"witness.update"', b'"action":"case.delete","action":"witness.update"')
    assert hidden != unsorted[9]
    report = verify(unsorted[:9] + [hidden] + unsorted[10:])
    assert (report.problem, report.first_bad_seq) == ("malformed", 9)


def test_keys_outside_the_bmp_use_jcs_order() -> None:
    entries = [event(i, details={"\U0001f600": 1, "\uffff": 2}) for i in range(5)]
    cp = checkpoint(entries, 5)
    exporter_lines = [
        b'{"entry":' + canonical_json(e) + b',"leaf_hash":"' + leaf.leaf_hash(e).hex().encode() + b'"}\n'
        for e in entries
    ]
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


# --- leaf form v2: salts, commitments, hidden values ------------------------------------------


def _with_entry(seq: int, change: Any) -> list[bytes]:
    """LINES with entry ``seq`` changed in place by ``change(entry)``, its stated leaf hash kept."""
    entry = json.loads(LINES[seq])["entry"]
    change(entry)
    lines = list(LINES)
    lines[seq] = line(entry, stored_hash(LINES[seq]))
    return lines


def _v2_tampering() -> dict[str, tuple[list[bytes], str, int | None]]:
    """name: (lines, the finding, its seq) for what can go wrong with commitments and salts."""
    other_salt = leaf.path_salt(event_salt(99), "actor_username").hex()
    cases: dict[str, tuple[list[bytes], str, int | None]] = {
        "wrong salt": (_with_entry(13, lambda e: e["salts"].update(actor_username=other_salt)), "altered", 13),
        "salt of another path": (
            _with_entry(13, lambda e: e["salts"].update(actor_id=e["salts"]["client_addr"])),
            "altered",
            13,
        ),
        "altered identifying value": (_with_entry(14, lambda e: e.update(client_addr="198.51.100.1")), "altered", 14),
        "altered integer value": (_with_entry(15, lambda e: e.update(actor_id=4)), "altered", 15),
        "altered recipient": (
            _with_entry(24, lambda e: e["details"]["recipient"].update(name="Someone Else")),
            "altered",
            24,
        ),
        "altered plain field": (_with_entry(16, lambda e: e.update(outcome="error")), "altered", 16),
        "missing salt": (_with_entry(17, lambda e: e["salts"].pop("details.claimed_username")), "malformed", 17),
        "no salts": (_with_entry(18, lambda e: e.pop("salts")), "malformed", 18),
        "short salt": (_with_entry(19, lambda e: e["salts"].update(actor_id="ab" * 31)), "malformed", 19),
        "salt not hex": (_with_entry(21, lambda e: e["salts"].update(actor_id="zz" * 32)), "malformed", 21),
        "salts not an object": (_with_entry(22, lambda e: e.update(salts=["ab" * 32])), "malformed", 22),
        "identifying value not a string": (_with_entry(23, lambda e: e.update(actor_username=["x"])), "malformed", 23),
        "identifying value boolean": (_with_entry(25, lambda e: e.update(actor_id=True)), "malformed", 25),
        "unknown leaf form": (_with_entry(26, lambda e: e.update(v=3)), "malformed", 26),
        "leaf form as a string": (_with_entry(27, lambda e: e.update(v="2")), "malformed", 27),
    }
    hidden = [line(leaf.hide(e, ["actor_username", "client_addr"])) for e in ENTRIES]
    forged = json.loads(hidden[33])["entry"]
    digest = forged["actor_username"]["sha256"]
    forged["actor_username"] = {"sha256": ("1" if digest[0] == "0" else "0") + digest[1:]}
    hidden[33] = line(forged, stored_hash(hidden[33]))
    cases["altered commitment"] = (hidden, "altered", 33)
    guessed = [line(leaf.hide(e, ["actor_username"])) for e in ENTRIES]
    revealed = json.loads(guessed[34])["entry"]
    revealed["actor_username"] = "j.lindqvist"  # a hidden value "revealed" without its salt
    guessed[34] = line(revealed, stored_hash(guessed[34]))
    cases["revealed without salt"] = (guessed, "malformed", 34)
    relabelled = list(LINES)  # v2 seqs are not in the leaf hash: only their place binds them
    relabelled[12] = line(event(12, seq=99))
    cases["seq relabelled"] = (relabelled, "deleted", 12)
    swapped_labels = list(LINES)
    swapped_labels[12], swapped_labels[13] = line(event(12, seq=13)), line(event(13, seq=12))
    cases["seq labels swapped"] = (swapped_labels, "reordered", 12)
    duplicate_salt = list(LINES)
    duplicate_salt[35] = LINES[35].replace(b'"salts":{', b'"salts":{"actor_id":"' + other_salt.encode() + b'",')
    cases["duplicate salt key"] = (duplicate_salt, "malformed", 35)
    return cases


V2_TAMPERING = _v2_tampering()


def test_every_v2_entry_is_v2_with_salts_for_its_identifying_values() -> None:
    assert all(e["v"] == 2 and set(e["salts"]) == set(leaf.present_paths(e)) for e in ENTRIES)
    assert {path for e in ENTRIES for path in e["salts"]} == set(leaf.COMMITTED_PATHS)
    assert all(stored_hash(raw) == leaf.leaf_hash(e) for raw, e in zip(LINES, ENTRIES, strict=True))


@pytest.mark.parametrize("name", sorted(V2_TAMPERING))
def test_v2_commitment_tampering_is_named(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines, problem, seq = V2_TAMPERING[name]
    report = verify(lines)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, problem, seq), report.message
    assert f"seq {seq}" in report.message
    # the file's fast path finds exactly the same, with one and two processes
    monkeypatch.setattr(verify_module, "BLOCK", 2000)
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(lines))
    cps = verify_module.load_checkpoints([CP20, CP50], VKEY)
    assert verify_module._fast_prefix(str(path), cps, 1) is None
    for jobs in (1, 2):
        assert verify_path(str(path), [CP20, CP50], VKEY, jobs=jobs).to_dict() == report.to_dict()


def test_hidden_values_verify() -> None:
    """An export may show commitments in place of identifying values: no salt, the same leaf."""
    hidden = [leaf.hide(e) if i % 2 else leaf.hide(e, ["client_addr"]) for i, e in enumerate(ENTRIES)]
    lines = [line(e) for e in hidden]
    assert [stored_hash(raw) for raw in lines] == [stored_hash(raw) for raw in LINES]
    assert all("salts" not in e for e in hidden[1::2]) and "a.okafor" not in b"".join(lines[1::2]).decode()
    assert verify(lines).ok


def test_a_v2_export_takes_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(LINES))
    cps = verify_module.load_checkpoints([CP20, CP50], VKEY)
    fast = verify_module._fast_prefix(str(path), cps, 1)
    assert fast is not None and fast[0].root() == cps[-1].root and fast[1] == path.stat().st_size


# --- leaf form v1: older exports still verify --------------------------------------------------

V1_ENTRIES = [v1_event(i) for i in range(30)]
V1_LINES = [line(e) for e in V1_ENTRIES]
V1_CP = checkpoint(V1_ENTRIES, 30)


def test_v1_entries_hash_themselves_seq_included() -> None:
    assert all("v" not in e and "salts" not in e for e in V1_ENTRIES)
    assert stored_hash(V1_LINES[5]) == hashlib.sha256(b"\x00" + canonical_json(V1_ENTRIES[5])).digest()
    assert V1_LINES[5].startswith(b'{"entry":{"action":') and b'"actor_username":"j.lindqvist"' in V1_LINES[5]


@pytest.mark.parametrize("jobs", [1, 2])
def test_v1_export_verifies(jobs: int, tmp_path: Path) -> None:
    report = verify(V1_LINES, [checkpoint(V1_ENTRIES, 10), V1_CP])
    assert report.ok and (report.entries, report.verified_size) == (30, 30)
    path = tmp_path / "v1.jsonl"
    path.write_bytes(b"".join(V1_LINES))
    cps = verify_module.load_checkpoints([V1_CP], VKEY)
    assert verify_module._fast_prefix(str(path), cps, jobs) is not None  # hashed unparsed, as before
    assert verify_path(str(path), [V1_CP], VKEY, jobs=jobs).ok


def test_v1_tampering_is_named() -> None:
    altered = list(V1_LINES)
    altered[8] = line(v1_event(8, actor_username="someone.else"), stored_hash(V1_LINES[8]))
    assert (verify(altered, [V1_CP]).problem, verify(altered, [V1_CP]).first_bad_seq) == ("altered", 8)
    relabelled = list(V1_LINES)  # v1 hashes its seq: relabelling one is altering it
    relabelled[8], relabelled[9] = (
        line(v1_event(8, seq=9), stored_hash(V1_LINES[8])),
        line(v1_event(9, seq=8), stored_hash(V1_LINES[9])),
    )
    report = verify(relabelled, [V1_CP])
    assert (report.problem, report.first_bad_seq) == ("reordered", 8)
    recomputed = list(V1_LINES)
    recomputed[8] = line(v1_event(8, action="case.delete"))
    assert verify(recomputed, [V1_CP]).problem == "root_mismatch"


def test_an_export_moving_from_v1_to_v2_verifies(tmp_path: Path) -> None:
    """A log recorded in v1 and then in v2: each line is read in its own form."""
    entries = V1_ENTRIES[:20] + ENTRIES[20:40]
    lines = V1_LINES[:20] + LINES[20:40]
    cps = [checkpoint(entries, 20), checkpoint(entries, 40)]
    assert verify(lines, cps).ok
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(lines))
    assert verify_module._fast_prefix(str(path), verify_module.load_checkpoints(cps, VKEY), 2) is not None
    assert verify_path(str(path), cps, VKEY, jobs=2).ok
    downgraded = list(lines)  # a v2 entry passed off as v1 (its v and salts dropped) no longer hashes
    downgraded[25] = line(v1_event(25), stored_hash(lines[25]))
    report = verify(downgraded, cps)
    assert (report.problem, report.first_bad_seq) == ("altered", 25)


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
    def run(*args: str, module: tuple[str, ...] = ("casework_verify", "log")) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *module, *args], cwd=REPO, capture_output=True, text=True, timeout=60
        )

    ok = run(
        str(files["export.jsonl"]),
        "--checkpoint",
        str(files["cp20.txt"]),
        "--checkpoint",
        str(files["cp50.txt"]),
        "--vkey",
        str(files["vkey.txt"]),
    )
    assert ok.returncode == EXIT_OK and ok.stdout.startswith("OK"), ok.stderr
    bad = run(str(files["tampered.jsonl"]), "--checkpoint", str(files["cp50.txt"]), "--vkey", VKEY, "--json")
    assert bad.returncode == EXIT_FAILED
    data = json.loads(bad.stdout)
    assert (data["ok"], data["problem"], data["first_bad_seq"]) == (False, "deleted", 12)
    usage = run(str(files["export.jsonl"]), "--vkey", VKEY)
    assert usage.returncode == EXIT_USAGE
    # The module SPEC names still runs it.
    old = run(
        str(files["export.jsonl"]),
        "--checkpoint",
        str(files["cp50.txt"]),
        "--vkey",
        VKEY,
        module=("casework.custody.verify",),
    )
    assert old.returncode == EXIT_OK and old.stdout.startswith("OK"), old.stderr


def test_the_summary_says_what_was_proven_against_which_checkpoints(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "log",
                str(files["export.jsonl"]),
                "--checkpoint",
                str(files["cp20.txt"]),
                "--checkpoint",
                str(files["cp50.txt"]),
                "--vkey",
                VKEY,
            ]
        )
        == EXIT_OK
    )
    out = capsys.readouterr().out
    assert "Entries 0..49 are exactly the entries the log signed at tree size 50" in out
    assert f"log {ORIGIN}, tree size 20, root " in out and f"log {ORIGIN}, tree size 50, root " in out
    assert "cosigned by no witness" in out and "log key: given with --vkey" in out
    assert (
        main(["log", str(files["export.jsonl"]), "--checkpoint", str(files["cp50.txt"]), "--vkey", VKEY, "--json"])
        == EXIT_OK
    )
    report = json.loads(capsys.readouterr().out)
    assert [(cp["origin"], cp["size"], cp["cosigners"]) for cp in report["checkpoints"]] == [(ORIGIN, 50, [])]


def test_without_orjson_the_findings_are_the_same(files: dict[str, Path]) -> None:
    """A recipient's verifier may have only the standard library: same verdicts, same reports."""
    no_orjson = "import sys; sys.modules['orjson'] = None; "  # as if not installed: its import fails
    block = no_orjson + "from casework_verify.cli import main; sys.exit(main(sys.argv[1:]))"
    for name in ("export.jsonl", "tampered.jsonl"):
        args = [
            "log",
            str(files[name]),
            "--checkpoint",
            str(files["cp20.txt"]),
            "--checkpoint",
            str(files["cp50.txt"]),
            "--vkey",
            VKEY,
            "--jobs",
            "1",
            "--json",
        ]
        plain = subprocess.run(
            [sys.executable, "-c", block, *args], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        fast = subprocess.run(
            [sys.executable, "-m", "casework_verify", *args], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert plain.stderr == "" and plain.returncode == fast.returncode, plain.stderr
        assert json.loads(plain.stdout) == json.loads(fast.stdout)
    probe = no_orjson + "from casework_verify import fastjson; print(fastjson.HAVE_ORJSON)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "False\n"


def test_main_usage_errors(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cp = str(files["cp50.txt"])
    assert main(["log", str(files["export.jsonl"]), "--checkpoint", cp, "--vkey", VKEY]) == EXIT_OK
    assert main(["log", str(tmp_path / "missing.jsonl"), "--checkpoint", cp, "--vkey", VKEY]) == EXIT_USAGE
    missing_cp = str(tmp_path / "missing.txt")
    assert main(["log", str(files["export.jsonl"]), "--checkpoint", missing_cp, "--vkey", VKEY]) == EXIT_USAGE
    assert main(["log", str(files["export.jsonl"]), "--checkpoint", cp, "--vkey", "garbage"]) == EXIT_USAGE
    assert main([]) == EXIT_USAGE
    assert main(["--help"]) == EXIT_OK
    assert main(["log", str(files["tampered.jsonl"]), "--checkpoint", cp, "--vkey", VKEY]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "FAILED (deleted)" in out and "first bad seq: 12" in out
