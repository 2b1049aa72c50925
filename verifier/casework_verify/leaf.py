"""Leaf form v2 of the custody log: what is hashed, what auditors see, what a bundle may hide.

An *entry* is what auditors and exports see: the event's values in clear, its ``seq`` and
``time``, and the salts of its identifying values. The *leaf form* is what is hashed:

    leaf_hash = SHA-256(0x00 || canonical_json(leaf_form(entry)))

The leaf form is the entry without its seq (the leaf's position is its seq, so the hash is
known the moment the event is recorded: an upload's receipt is signed over it at intake) and
without the salts, with each identifying value replaced by a salted commitment
``{"sha256": hex SHA-256(salt || UTF-8 value)}``. A bundle shows the leaf form, or an entry
with only some values revealed; anyone can check a revealed value against its commitment, and
nobody can guess a hidden one (the salt is 32 random bytes, kept in the database).

Each event has one random 32-byte salt in the database; the salt of each identifying path is
derived from it (``path_salt``), so revealing one value never reveals the salt of another.
An entry carries the derived salts only. Entries of leaf form v1 (before SPEC v3) have no
``v`` and hash themselves, seq included; ``leaf_bytes`` reads both.

This module imports nothing from the application: the offline verifiers use it as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from casework_verify.canonical import canonical_json

VERSION = 2
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# What an event says besides its place (seq) and time, in the order the columns are stored.
ENTRY_FIELDS = (
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "case_id",
    "witness_id",
    "request_id",
    "client_addr",
    "details",
)
# Identifying values, by path: top-level fields, and keys inside ``details`` ("details.a.b").
COMMITTED_PATHS = (
    "actor_id",
    "actor_username",
    "client_addr",
    "details.claimed_username",
    "details.recipient.name",
    "details.recipient.organisation",
)
SALT_BYTES = 32
_SALT_DOMAIN = b"casework/custody/leaf-v2/salt\x00"


class LeafFormError(ValueError):
    """An entry that no leaf can be made of (a missing or malformed salt, an unknown version)."""


def path_salt(event_salt: bytes, path: str) -> bytes:
    """The salt of one identifying value, derived from the event's own salt."""
    return hashlib.sha256(_SALT_DOMAIN + event_salt + b"\x00" + path.encode()).digest()


def commitment(salt: bytes, value: str | int) -> dict[str, str]:
    """``{"sha256": hex SHA-256(salt || UTF-8 value)}``; an integer is committed as its decimal digits."""
    return {"sha256": hashlib.sha256(salt + str(value).encode()).hexdigest()}


def _get(entry: Mapping[str, Any], path: str) -> Any:
    node: Any = entry
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _with(entry: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``entry``, copying each dict on the way so the caller's is untouched."""
    parts = path.split(".")
    node = entry
    for part in parts[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[parts[-1]] = value


def is_committed(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"sha256"}


def present_paths(entry: Mapping[str, Any]) -> list[str]:
    """The identifying paths that hold a value (None is no value and is not committed)."""
    return [path for path in COMMITTED_PATHS if _get(entry, path) is not None]


def make_entry(seq: int | None, recorded_at: datetime, event: Any, event_salt: bytes) -> dict[str, Any]:
    """The auditor's entry of an event (an object with the ``ENTRY_FIELDS`` attributes)."""
    entry: dict[str, Any] = {name: getattr(event, name) for name in ENTRY_FIELDS}
    entry["details"] = entry["details"] or {}
    entry["v"] = VERSION
    entry["time"] = recorded_at.strftime(TIME_FORMAT)
    entry["salts"] = {path: path_salt(event_salt, path).hex() for path in present_paths(entry)}
    if seq is not None:
        entry["seq"] = seq
    return entry


def leaf_form(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What is hashed: the entry without seq and salts, each identifying value committed.

    A value may already be a commitment (a bundle that hides it); a clear value needs its salt.
    """
    if entry.get("v") != VERSION:
        raise LeafFormError(f"not a leaf form v{VERSION} entry")
    salts = entry.get("salts") or {}
    if not isinstance(salts, Mapping):
        raise LeafFormError("salts must be an object")
    form = {key: value for key, value in entry.items() if key not in ("seq", "salts")}
    for path in COMMITTED_PATHS:
        value = _get(form, path)
        if value is None or is_committed(value):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise LeafFormError(f"{path}: an identifying value must be a string or an integer")
        salt = salts.get(path)
        try:
            salt_bytes = bytes.fromhex(salt) if isinstance(salt, str) else b""
        except ValueError:
            salt_bytes = b""
        if len(salt_bytes) != SALT_BYTES:
            raise LeafFormError(f"{path}: no valid salt for a revealed value")
        _with(form, path, commitment(salt_bytes, value))
    return form


def leaf_bytes(entry: Mapping[str, Any]) -> bytes:
    """The bytes under the leaf hash: v2 through ``leaf_form``, v1 (no ``v``) as they are."""
    if "v" not in entry:
        return canonical_json(entry)
    return canonical_json(leaf_form(entry))


def leaf_hash(entry: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_bytes(entry)).digest()


def hide(entry: Mapping[str, Any], paths: tuple[str, ...] | list[str] = COMMITTED_PATHS) -> dict[str, Any]:
    """The entry with these identifying values replaced by their commitments and their salts
    dropped: the same leaf hash, none of those values."""
    form = leaf_form(entry)
    hidden = {key: value for key, value in entry.items() if key != "salts"}
    salts = dict(entry.get("salts") or {})
    for path in paths:
        committed = _get(form, path)
        if committed is not None:
            _with(hidden, path, committed)
            salts.pop(path, None)
    if salts:
        hidden["salts"] = salts
    hidden["v"] = VERSION
    return hidden
