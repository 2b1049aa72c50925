"""Auditor queries over the custody log, signed checkpoints and RFC 9162 proofs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, tuple_

from casework.access.door import authorize
from casework.access.targets import Target
from casework.custody import log, proofs, publication
from casework.custody.models import CustodyEvent
from casework.custody.signer import signer
from casework.db import db
from casework.errors import Invalid, LogCorrupted, NotFound
from casework.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor, keyset_page
from casework_verify import merkle

logger = logging.getLogger(__name__)

_EQUALITY_FILTERS = ("actor_id", "action", "outcome", "resource_type", "resource_id", "case_id", "witness_id")
LOG = Target("custody_log")


def list_events(args: dict[str, Any]) -> Page:
    authorize("custody.events.list", LOG, filters=sorted(k for k in args if k not in ("limit", "cursor")))
    statement = select(CustodyEvent)
    for name in _EQUALITY_FILTERS:
        if name in args:
            statement = statement.where(getattr(CustodyEvent, name) == args[name])
    if "actor" in args:
        statement = statement.where(CustodyEvent.actor_username == args["actor"])
    if "since" in args:
        statement = statement.where(CustodyEvent.recorded_at >= args["since"])
    if "until" in args:
        statement = statement.where(CustodyEvent.recorded_at < args["until"])
    if "since" in args or "until" in args:
        return _time_page(statement, args)
    return keyset_page(statement, CustodyEvent.seq, args)


def _time_page(statement: Select[Any], args: dict[str, Any]) -> Page:
    """A time window pages in (recorded_at, seq) order, the order of ix_custody_events_time.

    Paged by seq, a window deep in a long log is either a scan from seq 0 until the window
    starts or a sort of the whole window; in index order it is one descent and one page, at
    any log size. The order is the seq order whenever time never went backwards. The cursor
    is still the last seq shown: the next page starts after that event's (time, seq).
    """
    limit = args.get("limit", DEFAULT_LIMIT)
    if args.get("cursor"):
        after = decode_cursor(args["cursor"])
        anchor = select(CustodyEvent.recorded_at).where(CustodyEvent.seq == after).scalar_subquery()
        statement = statement.where(tuple_(CustodyEvent.recorded_at, CustodyEvent.seq) > tuple_(anchor, after))
    rows = list(db.session.scalars(statement.order_by(CustodyEvent.recorded_at, CustodyEvent.seq).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor}


def get_event(seq: int) -> CustodyEvent:
    authorize("custody.event.read", Target("custody_event", seq))
    event = db.session.get(CustodyEvent, seq)
    if event is None:
        raise NotFound("No custody event has that sequence number.")
    return event


def public_key() -> str:
    authorize("custody.key.read", LOG)
    return signer().vkey() + "\n"


def checkpoint() -> str:
    """The latest published checkpoint with its witnesses' cosignatures (nothing is signed here)."""
    access = authorize("custody.checkpoint.read", LOG)
    published = publication.served(signer())
    if published is None:
        raise NotFound("No checkpoint has been published yet (flask custody publish).", problem="no-checkpoint")
    access.note(tree_size=published.size)
    return published.cosigned


def _published_covering(tree_size: int, published: publication.Published | None) -> publication.Published:
    """Serve nothing the signed history does not back: proofs reach at most the latest published
    checkpoint, whose own root the signer proved consistent with its state."""
    if published is None or tree_size > published.size:
        raise Invalid(
            f"Proofs are served up to the latest published checkpoint ({published.size if published else 0} entries).",
            errors={"query": {"tree_size": ["Beyond the latest published checkpoint."]}},
        )
    return published


def _consistent_with_published(
    tree_size: int, root: bytes, published: publication.Published, proof: list[bytes]
) -> None:
    if tree_size and not merkle.verify_consistency(tree_size, published.size, root, published.root, proof):
        logger.critical(
            "stored tree of size %d is not consistent with published checkpoint %d", tree_size, published.size
        )
        raise LogCorrupted("The custody log failed its consistency check; no proof was served.")


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: bytes | None
    root_hash: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root_hash: bytes
    second_root_hash: bytes
    proof: list[bytes]


def inclusion(seq: int, tree_size: int) -> InclusionProof:
    authorize("custody.proof.inclusion", LOG, seq=seq, tree_size=tree_size)
    published = publication.served(signer())  # the log size is read only to explain a refusal
    if published is None or not 0 <= seq < tree_size <= published.size:
        size = log.tree_size()
        if not 0 <= seq < tree_size <= size:
            raise Invalid(
                f"Need 0 <= seq < tree_size <= {size}.",
                errors={"query": {"tree_size": [f"The log has {size} entries."]}},
            )
    published = _published_covering(tree_size, published)
    nodes = proofs.Nodes()
    leaf_at, root_at = nodes.want([[(0, seq)]]), nodes.want([merkle.root_plan(tree_size)])
    proof_at = nodes.want(merkle.inclusion_plan(seq, tree_size))
    signed_at = nodes.want(merkle.consistency_plan(tree_size, published.size))
    hashes = nodes.resolve()
    leaf, root, proof = hashes[leaf_at][0], hashes[root_at][0], hashes[proof_at]
    _consistent_with_published(tree_size, root, published, hashes[signed_at])
    if not merkle.verify_inclusion(leaf, seq, tree_size, proof, root):
        logger.critical("inclusion proof for %d in %d does not verify", seq, tree_size)
        raise LogCorrupted("The custody log failed its consistency check; no proof was served.")
    return InclusionProof(seq, tree_size, leaf, root, proof)


def consistency(first: int, second: int) -> ConsistencyProof:
    authorize("custody.proof.consistency", LOG, first=first, second=second)
    published = publication.served(signer())
    if published is None or not 1 <= first <= second <= published.size:
        size = log.tree_size()
        if not 1 <= first <= second <= size:
            raise Invalid(
                f"Need 1 <= first <= second <= {size}.", errors={"query": {"second": [f"The log has {size} entries."]}}
            )
    published = _published_covering(second, published)
    nodes = proofs.Nodes()
    first_at, second_at = nodes.want([merkle.root_plan(first)]), nodes.want([merkle.root_plan(second)])
    proof_at = nodes.want(merkle.consistency_plan(first, second))
    signed_at = nodes.want(merkle.consistency_plan(second, published.size))
    hashes = nodes.resolve()
    first_root, second_root, proof = hashes[first_at][0], hashes[second_at][0], hashes[proof_at]
    _consistent_with_published(second, second_root, published, hashes[signed_at])
    if not merkle.verify_consistency(first, second, first_root, second_root, proof):
        logger.critical("consistency proof %d -> %d does not verify", first, second)
        raise LogCorrupted("The custody log failed its consistency check; no proof was served.")
    return ConsistencyProof(first, second, first_root, second_root, proof)
