"""Auditor queries over the custody log, signed checkpoints and RFC 9162 proofs."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from casework.access.door import authorize
from casework.access.targets import Target
from casework.custody import checkpoints, log, merkle
from casework.custody.models import CustodyEvent, CustodyNode
from casework.db import db
from casework.errors import Invalid, LogCorrupted, NotFound
from casework.keys import signer
from casework.pagination import Page, keyset_page

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
    return keyset_page(statement, CustodyEvent.seq, args)


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
    published = checkpoints.latest()
    if published is None:
        raise NotFound("No checkpoint has been published yet (flask custody publish).", problem="no-checkpoint")
    access.note(tree_size=published.tree_size)
    return checkpoints.cosigned(published)


def _signed_root_check(tree_size: int, root: bytes) -> None:
    """Serve nothing the signed history does not back: the root must be consistent with the
    latest published checkpoint, whose own root the signer proved consistent with its state."""
    published = checkpoints.latest()
    if published is None or tree_size > published.tree_size:
        raise Invalid(f"Proofs are served up to the latest published checkpoint "
                      f"({published.tree_size if published else 0} entries).",
                      errors={"query": {"tree_size": ["Beyond the latest published checkpoint."]}})
    proof = log.consistency_proof(tree_size, published.tree_size) if tree_size else []
    if tree_size and not merkle.verify_consistency(tree_size, published.tree_size, root, published.root_hash, proof):
        logger.critical("stored tree of size %d is not consistent with published checkpoint %d",
                        tree_size, published.tree_size)
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
    size = log.tree_size()
    if not 0 <= seq < tree_size <= size:
        raise Invalid(f"Need 0 <= seq < tree_size <= {size}.",
                      errors={"query": {"tree_size": [f"The log has {size} entries."]}})
    leaf = db.session.scalar(select(CustodyNode.hash).where(CustodyNode.level == 0, CustodyNode.index == seq))
    root, proof = log.root_hash(tree_size), log.inclusion_proof(seq, tree_size)
    _signed_root_check(tree_size, root)
    if leaf is None or not merkle.verify_inclusion(leaf, seq, tree_size, proof, root):
        logger.critical("inclusion proof for %d in %d does not verify", seq, tree_size)
        raise LogCorrupted("The custody log failed its consistency check; no proof was served.")
    return InclusionProof(seq, tree_size, leaf, root, proof)


def consistency(first: int, second: int) -> ConsistencyProof:
    authorize("custody.proof.consistency", LOG, first=first, second=second)
    size = log.tree_size()
    if not 1 <= first <= second <= size:
        raise Invalid(f"Need 1 <= first <= second <= {size}.",
                      errors={"query": {"second": [f"The log has {size} entries."]}})
    first_root, second_root = log.root_hash(first), log.root_hash(second)
    proof = log.consistency_proof(first, second)
    _signed_root_check(second, second_root)
    if not merkle.verify_consistency(first, second, first_root, second_root, proof):
        logger.critical("consistency proof %d -> %d does not verify", first, second)
        raise LogCorrupted("The custody log failed its consistency check; no proof was served.")
    return ConsistencyProof(first, second, first_root, second_root, proof)
