"""Publishing checkpoints: sign the tree head through the signer, store it, gather cosignatures.

Publication runs on a cadence (``flask custody publish``), never per request. The head lock
is held only while the tree head is read and signed; witnesses are asked afterwards, so a slow
witness never stalls appends.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from casework.custody import cosignature, log, merkle, witness_client
from casework.custody.models import CustodyCheckpoint, CustodyCosignature, CustodyHead
from casework.custody.signer import LogSigner
from casework.db import db
from casework.errors import LogCorrupted

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Witness:
    """A witness the log asks for cosignatures (C2SP tlog-witness), as configured."""

    name: str
    vkey: str
    url: str


def tree_head() -> tuple[int, bytes]:
    """The committed tree head under the head lock, with stored nodes and frontier cross-checked."""
    head = db.session.execute(select(CustodyHead).where(CustodyHead.id == log.HEAD_ID).with_for_update()).scalar_one()
    size = head.tree_size
    root = log.root_hash(size) if size else merkle.EMPTY_ROOT
    if merkle.CompactRange.from_bytes(size, head.frontier).root() != root:
        raise LogCorrupted("stored tree nodes disagree with the log head")
    return size, root


def publish(signer: LogSigner) -> CustodyCheckpoint:
    """Sign the current tree head (if the signer can prove it consistent) and store it."""
    size, root = tree_head()
    signed = signer.sign(size, root, lambda old: log.consistency_proof(old, size))
    stored = db.session.execute(
        select(CustodyCheckpoint).where(CustodyCheckpoint.tree_size == size)
    ).scalar_one_or_none()
    if stored is None:
        stored = CustodyCheckpoint(tree_size=size, root_hash=root, note=signed)
        db.session.add(stored)
        db.session.flush()
    elif stored.root_hash != root:
        raise LogCorrupted(f"the stored checkpoint of size {size} has another root")
    return stored


def latest() -> CustodyCheckpoint | None:
    return db.session.execute(
        select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size.desc()).limit(1)
    ).scalar_one_or_none()


def all_published() -> Sequence[CustodyCheckpoint]:
    return db.session.scalars(select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size)).all()


def cosigned(checkpoint: CustodyCheckpoint) -> str:
    """The checkpoint note with every stored witness cosignature appended."""
    lines = db.session.scalars(
        select(CustodyCosignature.line).where(CustodyCosignature.tree_size == checkpoint.tree_size)
        .order_by(CustodyCosignature.witness)
    ).all()
    return cosignature.append_signatures(checkpoint.note, lines) if lines else checkpoint.note


def _last_cosigned_size(witness: Witness, up_to: int) -> int:
    return db.session.scalar(
        select(func.max(CustodyCosignature.tree_size))
        .where(CustodyCosignature.witness == witness.name, CustodyCosignature.tree_size <= up_to)
    ) or 0


def _ask(witness: Witness, checkpoint: CustodyCheckpoint, old: int, timeout: float) -> list[str]:
    proof = log.consistency_proof(old, checkpoint.tree_size) if 0 < old < checkpoint.tree_size else []
    return witness_client.request_cosignature(witness.url, old, proof, checkpoint.note, timeout,
                                              trusted_vkeys=[witness.vkey])


def gather_cosignatures(checkpoint: CustodyCheckpoint, witnesses: Sequence[Witness],
                        timeout: float = 10.0) -> dict[str, str]:
    """Ask each witness to cosign; store what comes back. Returns witness -> "ok" or why not."""
    have = set(db.session.scalars(
        select(CustodyCosignature.witness).where(CustodyCosignature.tree_size == checkpoint.tree_size)
    ))
    results = {}
    for witness in witnesses:
        if witness.name in have:
            results[witness.name] = "ok"
            continue
        old = _last_cosigned_size(witness, checkpoint.tree_size)
        try:
            try:
                lines = _ask(witness, checkpoint, old, timeout)
            except witness_client.WitnessConflict as conflict:  # the witness knows another size: start there
                if conflict.known_size > checkpoint.tree_size:
                    raise
                lines = _ask(witness, checkpoint, conflict.known_size, timeout)
        except witness_client.WitnessError as exc:
            logger.warning("witness %s did not cosign size %d: %s", witness.name, checkpoint.tree_size, exc)
            results[witness.name] = f"refused: {exc}"
            continue
        for line in lines:
            db.session.add(CustodyCosignature(tree_size=checkpoint.tree_size, witness=witness.name, line=line))
        results[witness.name] = "ok" if lines else "no cosignature"
    db.session.flush()
    return results
