"""Leaf form v2 (casework_verify/leaf.py) against known answers derived without it.

The vectors in tests/vectors/custody-leaf-v2/cases.json were computed with hashlib and json
alone; see the README there for the rules they follow.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from casework_verify import leaf

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "custody-leaf-v2" / "cases.json").read_text(encoding="utf-8")
)
VALID = {case["name"]: case for case in VECTORS["valid"]}
INVALID = {case["name"]: case for case in VECTORS["invalid"]}
EVENTS = sorted(name for name, case in VALID.items() if "event" in case)


def _at(path: str, entry: dict[str, Any]) -> Any:
    node: Any = entry
    for part in path.split("."):
        node = node[part]
    return node


def test_the_vectors_cover_what_they_should() -> None:
    assert tuple(VECTORS["rules"]["committed_paths"]) == leaf.COMMITTED_PATHS
    assert len(EVENTS) >= 3 and "v1" in VALID
    assert {"wrong-salt", "altered-value", "altered-hidden-value", "missing-salt"} <= set(INVALID)
    assert {case["expect"] for case in INVALID.values()} == {"mismatch", "error"}
    hashes = {case["leaf_hash"] for case in VALID.values()}
    assert all(case["leaf_hash"] in hashes for case in INVALID.values())  # each bad case claims a real leaf


@pytest.mark.parametrize("name", sorted(VALID))
def test_leaf_hash(name: str) -> None:
    case = VALID[name]
    entry = copy.deepcopy(case["entry"])
    assert leaf.leaf_hash(entry).hex() == case["leaf_hash"]
    assert hashlib.sha256(b"\x00" + leaf.leaf_bytes(entry)).hexdigest() == case["leaf_hash"]
    assert entry == case["entry"]  # hashing changes nothing in the entry


@pytest.mark.parametrize("name", sorted(name for name, case in VALID.items() if "leaf_form" in case))
def test_leaf_form(name: str) -> None:
    case = VALID[name]
    assert leaf.leaf_form(case["entry"]) == case["leaf_form"]


def test_v1_is_hashed_as_it_is() -> None:
    entry = VALID["v1"]["entry"]
    assert "v" not in entry and "seq" in entry
    with pytest.raises(leaf.LeafFormError):
        leaf.leaf_form(entry)


@pytest.mark.parametrize("name", EVENTS)
def test_make_entry(name: str) -> None:
    event = VALID[name]["event"]
    made = leaf.make_entry(
        event["seq"],
        datetime.strptime(event["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ"),
        SimpleNamespace(**event["fields"]),
        bytes.fromhex(event["salt"]),
    )
    assert made == VALID[name]["entry"]
    unplaced = leaf.make_entry(
        None,
        datetime.strptime(event["recorded_at"], leaf.TIME_FORMAT),
        SimpleNamespace(**event["fields"]),
        bytes.fromhex(event["salt"]),
    )
    assert "seq" not in unplaced and leaf.leaf_hash(unplaced).hex() == VALID[name]["leaf_hash"]


@pytest.mark.parametrize("name", EVENTS)
def test_path_salts_and_commitments(name: str) -> None:
    case = VALID[name]
    event_salt = bytes.fromhex(case["event"]["salt"])
    entry = case["entry"]
    assert sorted(entry["salts"]) == sorted(leaf.present_paths(entry))
    for path, salt in entry["salts"].items():
        assert leaf.path_salt(event_salt, path).hex() == salt
        assert leaf.commitment(bytes.fromhex(salt), _at(path, entry)) == _at(path, case["leaf_form"])


@pytest.mark.parametrize("name", sorted(name for name, case in VALID.items() if "hidden_paths" in case))
def test_hide(name: str) -> None:
    case = VALID[name]
    source = copy.deepcopy(VALID[case["hidden_from"]]["entry"])
    assert leaf.hide(source, case["hidden_paths"]) == case["entry"]
    assert source == VALID[case["hidden_from"]]["entry"]  # the caller's entry is untouched


@pytest.mark.parametrize("name", sorted(name for name, case in INVALID.items() if case["expect"] == "mismatch"))
def test_a_changed_entry_hashes_differently(name: str) -> None:
    case = INVALID[name]
    assert leaf.leaf_hash(case["entry"]).hex() != case["leaf_hash"]


@pytest.mark.parametrize("name", sorted(name for name, case in INVALID.items() if case["expect"] == "error"))
def test_no_leaf_is_made_of_a_broken_entry(name: str) -> None:
    with pytest.raises(leaf.LeafFormError):
        leaf.leaf_hash(INVALID[name]["entry"])
