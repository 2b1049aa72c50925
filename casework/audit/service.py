"""Auditor queries over the custody log, signed checkpoints and RFC 9162 proofs."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from casework.access.door import authorize
from casework.access.targets import Target
from casework.custody import checkpoints, log
from casework.custody.models import CustodyEvent
from casework.db import db
from casework.errors import Invalid, LogCorrupted, NotFound
from casework.keys import keyring
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
    return checkpoints.vkey(keyring()) + "\n"


def checkpoint() -> str:
    authorize("custody.checkpoint.read", LOG)
    try:
        return checkpoints.sign_checkpoint(keyring())
    except LogCorrupted as exc:
        logger.critical("custody log corrupted: %s", exc)
        raise LogCorrupted("The custody log failed its consistency check; no checkpoint was signed.") from None


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
    event = db.session.get(CustodyEvent, seq)
    return InclusionProof(seq, tree_size, event.leaf_hash if event else None, log.root_hash(tree_size),
                          log.inclusion_proof(seq, tree_size))


def consistency(first: int, second: int) -> ConsistencyProof:
    authorize("custody.proof.consistency", LOG, first=first, second=second)
    size = log.tree_size()
    if not 1 <= first <= second <= size:
        raise Invalid(f"Need 1 <= first <= second <= {size}.",
                      errors={"query": {"second": [f"The log has {size} entries."]}})
    return ConsistencyProof(first, second, log.root_hash(first), log.root_hash(second),
                            log.consistency_proof(first, second))
