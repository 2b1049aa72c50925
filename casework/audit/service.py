"""Auditor queries over the custody log, signed checkpoints and RFC 9162 proofs."""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from casework.auth.policy import authorize
from casework.auth.target import Target
from casework.custody import log, merkle, note
from casework.custody.models import CustodyCheckpoint, CustodyEvent, CustodyHead
from casework.db import db
from casework.errors import ProblemError
from casework.keys import keyring
from casework.pagination import Page, keyset_page

_EQUALITY_FILTERS = ("actor_id", "action", "outcome", "resource_type", "resource_id", "case_id", "witness_id")


def event_dict(event: CustodyEvent) -> dict[str, Any]:
    return {**event.entry(), "leaf_hash": event.leaf_hash.hex()}


def list_events(args: dict[str, Any]) -> Page:
    authorize("custody.events.list", Target("custody_log"),
              filters=sorted(k for k in args if k not in ("limit", "cursor")))
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
    page = keyset_page(statement, CustodyEvent.seq, args)
    return {**page, "items": [event_dict(e) for e in page["items"]]}


def get_event(seq: int) -> CustodyEvent:
    authorize("custody.event.read", Target("custody_event", seq))
    event = db.session.get(CustodyEvent, seq)
    if event is None:
        raise ProblemError(404, "No custody event has that sequence number.")
    return event


def log_name() -> str:
    return keyring().log_name()


def vkey() -> str:
    return note.vkey_string(log_name(), keyring().signing_key().public_key())


def public_key() -> str:
    authorize("custody.key.read", Target("custody_log"))
    return vkey() + "\n"


def last_signed_checkpoint() -> str:
    last = db.session.execute(
        select(CustodyCheckpoint.note).order_by(CustodyCheckpoint.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    return last or ""


def sign_checkpoint() -> str:
    """Sign the current tree head, after proving it consistent with the last signed one.

    Holds the head lock, so the size, frontier and stored nodes it reads agree.
    """
    head = db.session.execute(select(CustodyHead).where(CustodyHead.id == log.HEAD_ID).with_for_update()).scalar_one()
    size = head.tree_size
    last = db.session.execute(
        select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    if last is not None and last.tree_size == size:
        return last.note
    if last is not None and last.tree_size > size:
        raise log.LogCorrupted(f"log shrank from a signed size {last.tree_size} to {size}")
    root = log.root_hash(size) if size else merkle.EMPTY_ROOT
    if merkle.CompactRange.from_bytes(size, head.frontier).root() != root:
        raise log.LogCorrupted("stored tree nodes disagree with the log head")
    if last is not None and not merkle.verify_consistency(
        last.tree_size, size, last.root_hash, root, log.consistency_proof(last.tree_size, size)
    ):
        raise log.LogCorrupted(f"tree of size {size} is not consistent with signed checkpoint {last.tree_size}")
    signed = note.sign_note(note.format_checkpoint(log_name(), size, root), log_name(), keyring().signing_key())
    db.session.add(CustodyCheckpoint(tree_size=size, root_hash=root, note=signed))
    db.session.flush()
    return signed


def checkpoint() -> str:
    authorize("custody.checkpoint.read", Target("custody_log"))
    try:
        return sign_checkpoint()
    except log.LogCorrupted as exc:
        current_app.logger.critical("custody log corrupted: %s", exc)
        raise ProblemError(500, "The custody log failed its consistency check; no checkpoint was signed.",
                           problem="custody-log-corrupted") from None


def _committed_size() -> int:
    return log.tree_size()


def inclusion(seq: int, tree_size: int) -> dict[str, Any]:
    authorize("custody.proof.inclusion", Target("custody_event", seq), tree_size=tree_size)
    size = _committed_size()
    if not 0 <= seq < tree_size <= size:
        raise ProblemError(422, f"Need 0 <= seq < tree_size <= {size}.",
                           errors={"query": {"tree_size": [f"The log has {size} entries."]}})
    event = db.session.get(CustodyEvent, seq)
    return {
        "seq": seq,
        "tree_size": tree_size,
        "leaf_hash": event.leaf_hash.hex() if event else None,
        "root_hash": log.root_hash(tree_size).hex(),
        "proof": [h.hex() for h in log.inclusion_proof(seq, tree_size)],
    }


def consistency(first: int, second: int) -> dict[str, Any]:
    authorize("custody.proof.consistency", Target("custody_log"), first=first, second=second)
    size = _committed_size()
    if not 1 <= first <= second <= size:
        raise ProblemError(422, f"Need 1 <= first <= second <= {size}.",
                           errors={"query": {"second": [f"The log has {size} entries."]}})
    return {
        "first": first,
        "second": second,
        "first_root_hash": log.root_hash(first).hex(),
        "second_root_hash": log.root_hash(second).hex(),
        "proof": [h.hex() for h in log.consistency_proof(first, second)],
    }
