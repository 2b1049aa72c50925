"""Every custody event of a resource, each with its RFC 9162 inclusion proof to one checkpoint,
and what a bundle's recipient may see of it (``TrailPolicy``).

Events are read in keyset batches (never a list of a resource's events) as Core rows, so the
session's identity map does not grow; the proofs of a batch are assembled from one read of
the stored perfect subtrees they share. Each proof is verified against the checkpoint root
before it is handed out: a bundle never carries a proof the verifier would reject.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select

from casework.custody import proofs
from casework.custody.models import CustodyEvent, leaf_entry
from casework.db import db
from casework.errors import LogCorrupted
from casework_verify import merkle
from casework_verify.canonical import canonical_json
from casework_verify.leaf import COMMITTED_PATHS, hide
from casework_verify.leaf import leaf_hash as entry_leaf_hash

_EVENTS: Table = CustodyEvent.__table__  # type: ignore[assignment]
_NODE_CHUNK = 400  # tuples per IN (...) query


def events_of(resource_type: str, resource_id: str, tree_size: int, batch: int = 200) -> Iterator[dict[str, Any]]:
    """Leaf entries of the resource's events with seq < tree_size, in seq order."""
    after = -1
    while True:
        rows = db.session.execute(
            select(_EVENTS)
            .where(
                _EVENTS.c.resource_type == resource_type,
                _EVENTS.c.resource_id == resource_id,
                _EVENTS.c.seq > after,
                _EVENTS.c.seq < tree_size,
            )
            .order_by(_EVENTS.c.seq)
            .limit(batch)
        ).all()
        for row in rows:
            yield leaf_entry(row.seq, row.recorded_at, row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


@dataclass(frozen=True)
class Origin:
    """The event that created an item, recorded against its parent (a transcript version's upload
    is recorded against the interview, naming the version in ``details[key]``)."""

    resource_type: str
    resource_id: str
    action: str
    key: str
    value: str | int

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.resource_type,
            "id": self.resource_id,
            "action": self.action,
            "detail": self.key,
            "value": self.value,
        }


def _origin_events(origin: Origin, tree_size: int, batch: int = 200) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        rows = db.session.execute(
            select(_EVENTS)
            .where(
                _EVENTS.c.resource_type == origin.resource_type,
                _EVENTS.c.resource_id == origin.resource_id,
                _EVENTS.c.action == origin.action,
                _EVENTS.c.seq > after,
                _EVENTS.c.seq < tree_size,
            )
            .order_by(_EVENTS.c.seq)
            .limit(batch)
        ).all()
        for row in rows:
            if (row.details or {}).get(origin.key) == origin.value:
                yield leaf_entry(row.seq, row.recorded_at, row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


def trail(
    resource_type: str, resource_id: str, tree_size: int, origin: Origin | None = None
) -> Iterator[dict[str, Any]]:
    """The resource's events, and its origin event if any, in seq order."""
    events = events_of(resource_type, resource_id, tree_size)
    if origin is None:
        return events
    return heapq.merge(events, _origin_events(origin, tree_size), key=lambda entry: int(entry["seq"]))


def _fetch(wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    found: dict[merkle.Node, bytes] = {}
    pending = sorted(wanted)
    for start in range(0, len(pending), _NODE_CHUNK):
        found.update(proofs.fetch_nodes(set(pending[start : start + _NODE_CHUNK])))
    return found


@dataclass(frozen=True)
class Proved:
    """An entry, its leaf hash and its audit path to the checkpoint (already checked against the root)."""

    entry: dict[str, Any]
    leaf_hash: bytes
    proof: list[bytes]


def proved(entries: Iterator[dict[str, Any]], tree_size: int, root: bytes, batch: int = 64) -> Iterator[Proved]:
    """Each entry with its inclusion proof, in batches that share one read of the stored subtrees."""
    pending: list[dict[str, Any]] = []
    for entry in entries:
        pending.append(entry)
        if len(pending) >= batch:
            yield from _prove(pending, tree_size, root)
            pending = []
    if pending:
        yield from _prove(pending, tree_size, root)


def _prove(entries: list[dict[str, Any]], tree_size: int, root: bytes) -> Iterator[Proved]:
    plans = [merkle.inclusion_plan(entry["seq"], tree_size) for entry in entries]
    found = _fetch({node for plan in plans for group in plan for node in group})
    for entry, plan in zip(entries, plans, strict=True):
        proof = [merkle.fold([found[node] for node in group]) for group in plan]
        leaf = entry_leaf_hash(entry)
        if not merkle.verify_inclusion(leaf, entry["seq"], tree_size, proof, root):
            raise LogCorrupted(
                f"custody event {entry['seq']} does not verify against the checkpoint "
                f"of size {tree_size}; no bundle is served"
            )
        yield Proved(entry, leaf, proof)


# --- what a recipient sees of each entry ---------------------------------------------------------

# Why an entry is proven by its hash alone (its content left out of the bundle).
REFUSED_ATTEMPT = "refused_attempt"  # someone's denied or failed attempt: theirs, not the recipient's
OTHER_DISCLOSURE = "other_disclosure"  # another disclosure's decision or release (another recipient)
NAMES_STAFF = "names_staff"  # its details name a member of staff by user id
UNSALTED_V1 = "unsalted_v1"  # recorded before leaf form v2: its identities cannot be hidden
REDACTION_SOURCE = "redaction_source"  # the unredacted source of a redaction (its size would show)

_STAFF_KEY = re.compile(r"(?:^|_)(?:by_id|user_id)$")
_ACTOR_PATHS = ("actor_id", "actor_username")
_RECIPIENT_PATHS = ("details.recipient.name", "details.recipient.organisation")


@dataclass(frozen=True)
class Shown:
    """One line of a bundle's custody file: its bytes, the entry as shown (None: by hash alone), the actor's
    pseudonym."""

    text: bytes
    entry: dict[str, Any] | None
    staff: str | None


@dataclass
class TrailPolicy:
    """How one disclosure's bundle shows custody entries: staff as pseudonyms (``S-01`` in order of
    first appearance, so the same bundle always numbers them alike), identities as commitments,
    this disclosure's recipient in clear, and some entries by hash alone (see the reasons above).

    ``reveal_staff`` (a court, approved by a second lawyer) shows staff ids and usernames with
    their salts, so the court can check them against the commitments.
    """

    disclosure_id: int
    reveal_staff: bool = False
    _pseudonyms: dict[int, str] = field(default_factory=dict)

    def staff(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self._pseudonyms:
            self._pseudonyms[user_id] = f"S-{len(self._pseudonyms) + 1:02d}"
        return self._pseudonyms[user_id]

    def pseudonyms(self) -> dict[int, str]:
        """User id -> pseudonym, for those seen so far."""
        return dict(self._pseudonyms)

    def line(self, item: Proved, withhold: str | None = None) -> Shown:
        """The bundle's canonical JSON line for an entry, and what it shows."""
        entry = item.entry
        proof = [node.hex() for node in item.proof]
        owner = self._disclosure_of(entry)
        reason = withhold or self._withheld(entry, owner)
        if reason is not None:
            return Shown(
                canonical_json(
                    {"seq": entry["seq"], "leaf_hash": item.leaf_hash.hex(), "proof": proof, "withheld": reason}
                )
                + b"\n",
                None,
                None,
            )
        shown = hide(entry, self._hidden(owner))
        out: dict[str, Any] = {"entry": shown, "leaf_hash": item.leaf_hash.hex(), "proof": proof}
        pseudonym = self.staff(entry.get("actor_id"))
        if pseudonym is not None:
            out["staff"] = pseudonym
        return Shown(canonical_json(out) + b"\n", shown, pseudonym)

    def _withheld(self, entry: dict[str, Any], owner: int | None) -> str | None:
        if "v" not in entry:
            return UNSALTED_V1
        if entry.get("outcome") != "allowed":
            return REFUSED_ATTEMPT
        if owner not in (None, self.disclosure_id):
            return OTHER_DISCLOSURE
        if not self.reveal_staff and any(_STAFF_KEY.search(key) for key in entry.get("details") or {}):
            return NAMES_STAFF
        return None

    def _hidden(self, owner: int | None) -> list[str]:
        """The identifying paths to show only as commitments; ``owner`` is the entry's disclosure."""
        shown = set(_ACTOR_PATHS) if self.reveal_staff else set()
        if owner == self.disclosure_id:
            shown.update(_RECIPIENT_PATHS)  # the recipient's own name: they know it
        return [path for path in COMMITTED_PATHS if path not in shown]

    @staticmethod
    def _disclosure_of(entry: dict[str, Any]) -> int | None:
        """The disclosure an entry belongs to, if any (its decision, release, bundle or creation)."""
        if entry.get("resource_type") == "disclosure":
            return int(entry["resource_id"]) if str(entry.get("resource_id", "")).isdigit() else -1
        details = entry.get("details") or {}
        for key in ("disclosure_id", "created_disclosure"):
            value = details.get(key)
            if value is not None:
                return int(value) if isinstance(value, int) else -1
        return None
