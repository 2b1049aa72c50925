"""The one publication path: the CLI, the publisher service and bundles all sign through ``publish``.

The signer trusts nothing the database says about the tree. It reads the events after the
size it last signed, recomputes each leaf from the event (leaf form v2), extends the compact
range it keeps beside its key, and signs that root. Where the database differs (a leaf hash,
a node, the head's size or frontier, a missing or extra event) it signs nothing and the
publication is refused naming the first differing seq. One publisher per log at a time (a
lock beside the signer's state and, on PostgreSQL, an advisory lock); the checkpoint is stored
through the custody owner's function, then witnesses are asked to cosign.

What is served (``served``) is the latest stored checkpoint that this log's key signed, never
older than the signer's own state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from casework.custody import log, proofs, witness_client
from casework.custody.models import CustodyCheckpoint, CustodyCosignature, CustodyEvent, CustodyHead, leaf_entry
from casework.custody.signer import LogSigner, SignedState, SignerBusy
from casework.db import db
from casework.errors import LogCorrupted
from casework.settings import settings
from casework_verify import cosignature, leaf, merkle, note

logger = logging.getLogger(__name__)

# pg_advisory_lock key of the publisher: one signer per log, across hosts sharing the database.
_PUBLISHER_LOCK = 0x63617365776B7075  # "casewkpu"
_READ_BATCH = 2000
_STORED_CHECKPOINTS_TRIED = 16


class PublicationRefused(LogCorrupted):
    """The database differs from what the signer computed, or the signer's state is missing or stale."""

    problem = "publication-refused"

    def __init__(self, message: str, first_bad_seq: int | None = None) -> None:
        super().__init__(message if first_bad_seq is None else f"{message} (first differing seq {first_bad_seq})")
        self.first_bad_seq = first_bad_seq


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks for cosignatures (C2SP tlog-witness), as configured."""

    name: str
    vkey: str
    url: str


def configured_witnesses() -> list[WitnessEndpoint]:
    """CASEWORK_WITNESSES: a JSON file listing {name, vkey, url} for each witness."""
    path = settings().custody.witnesses_file
    if not path:
        return []
    return [WitnessEndpoint(w["name"], w["vkey"], w["url"]) for w in json.loads(Path(path).read_text())]


@dataclass(frozen=True)
class Published:
    size: int
    root: bytes
    note: str  # the log's signed note, without cosignatures

    @property
    def cosigned(self) -> str:
        """The note with every stored witness cosignature appended."""
        lines = db.session.scalars(
            select(CustodyCosignature.line)
            .where(CustodyCosignature.tree_size == self.size)
            .order_by(CustodyCosignature.witness)
        ).all()
        return cosignature.append_signatures(self.note, lines) if lines else self.note


@dataclass(frozen=True)
class Publication:
    published: Published
    cosignatures: dict[str, str]  # witness -> "ok" or why not


def majority_quorum(witnesses: Sequence[WitnessEndpoint], configured: int | None) -> int:
    """The quorum: a majority of the configured witnesses at least (two disjoint minorities could
    otherwise each cosign one side of a fork). Raises ValueError for a smaller one."""
    quorum = len(witnesses) if configured is None else configured
    if witnesses and not len(witnesses) // 2 < quorum <= len(witnesses):
        raise ValueError(f"a witness quorum of {quorum} is not a majority of the {len(witnesses)} configured witnesses")
    return quorum


# --- what is served ------------------------------------------------------------------------------


def served(signer: LogSigner) -> Published | None:
    """The latest stored checkpoint whose note this log's key signed, or the signer's own state
    if that is newer (a checkpoint row that was never stored, or rows that were withheld)."""
    found = _newest_stored(signer)
    try:
        state = signer.last()
    except LogCorrupted:
        state = None
    if state is not None and (found is None or state.size > found.size):
        return Published(state.size, state.root, state.note)
    return found


def all_published(signer: LogSigner) -> list[Published]:
    rows = db.session.scalars(select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size)).all()
    return [Published(r.tree_size, r.root_hash, r.note) for r in rows if signer.verify_note(r.note) is not None]


# --- publishing --------------------------------------------------------------------------------


def publish(signer: LogSigner, witnesses: Sequence[WitnessEndpoint] = (), *, wait: bool = True) -> Publication:
    """Integrate what is committed, recompute and sign, store, and gather cosignatures."""
    with signer.exclusive(wait=wait), _database_lock(wait=wait):
        _integrate_all()
        _one_snapshot()
        state = _state(signer)
        _refuse_if_witnesses_are_ahead(signer, state, witnesses)
        extended = recompute(state.compact_range() if state else merkle.CompactRange(), _head_size())
        _check_signed_history(state, extended)
        note = signer.sign(extended, state)
        published = Published(extended.size, extended.root(), note)
        log.store_checkpoint(published.size, published.root, note)
        db.session.commit()
        results = gather_cosignatures(published, witnesses) if witnesses else {}
        db.session.commit()
        return Publication(published, results)


@contextmanager
def _database_lock(*, wait: bool) -> Iterator[None]:
    """On PostgreSQL a session advisory lock on a connection of its own, held for the publication."""
    if db.engine.dialect.name != "postgresql":
        yield
        return
    with db.engine.connect() as connection:
        if wait:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_PUBLISHER_LOCK})")
        elif not connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({_PUBLISHER_LOCK})").scalar():
            raise SignerBusy("another publisher is signing this log; try again when it is done")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_PUBLISHER_LOCK})")
            connection.commit()


def _one_snapshot() -> None:
    """Read the head, the events and the nodes as of one moment: requests keep integrating while
    the signer recomputes, and a head read after the events would look like a rewrite. (SQLite's
    one writer gives a transaction that already.)"""
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _integrate_all() -> None:
    """Everything committed goes into the tree first; a queue that cannot be integrated (a row
    already at the next seq, a head that does not fit) is a refusal naming where it stopped."""
    try:
        log.integrate_committed()
    except Exception as exc:
        db.session.rollback()
        raise PublicationRefused(
            f"the intake queue cannot be integrated ({exc.__class__.__name__})", _head_size()
        ) from None


def _state(signer: LogSigner) -> SignedState | None:
    """The signer's state, refused when missing for a log that has published, or older than a
    checkpoint the log published (restored from a backup, or another server's)."""
    state = signer.last()
    stored = _newest_stored(signer)
    newest = stored.size if stored else None
    if state is None and newest is not None:
        raise PublicationRefused(
            f"the signer has no state but the log published size {newest}: run `flask custody recover-state`"
        )
    if state is not None and newest is not None and newest > state.size:
        raise PublicationRefused(
            f"the signer's state (size {state.size}) is older than published size {newest}: "
            "run `flask custody recover-state`"
        )
    return state


def _refuse_if_witnesses_are_ahead(
    signer: LogSigner, state: SignedState | None, witnesses: Sequence[WitnessEndpoint]
) -> None:
    """Before signing, each witness is shown the last checkpoint the signer holds (the empty tree
    without a state): one that holds a larger size of this log says so (409), and then the state
    is stale (restored with the database, or another server's) and nothing is signed."""
    if not witnesses:
        return
    if state is None:
        name = signer.keyring.log_name()
        empty = note.sign_note(note.format_checkpoint(name, 0, merkle.EMPTY_ROOT), name, signer.keyring.signing_key())
        last = Published(0, merkle.EMPTY_ROOT, empty)
    else:
        last = Published(state.size, state.root, state.note)
    for witness in witnesses:
        known = witness_known_size(witness, last, old=last.size)
        if known is not None and known > last.size:
            held = "no state" if state is None else f"a state of size {last.size}"
            raise PublicationRefused(
                f"the signer has {held} but witness {witness.name} holds size {known} "
                "of this log: run `flask custody recover-state`"
            )


def _newest_stored(signer: LogSigner) -> Published | None:
    """The newest stored checkpoint that is this log's: its note signed by the log's key, for the
    size and root of its row. Rows that are not (inserted by whoever could) are passed over."""
    rows = db.session.scalars(
        select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size.desc()).limit(_STORED_CHECKPOINTS_TRIED)
    )
    for row in rows:
        body = signer.verify_note(row.note)
        if body is not None and (body.size, body.root) == (row.tree_size, row.root_hash):
            return Published(row.tree_size, row.root_hash, row.note)
        logger.critical("stored checkpoint of size %d does not carry this log's signature", row.tree_size)
    return None


def _head_size() -> int:
    return db.session.execute(select(CustodyHead.tree_size).where(CustodyHead.id == log.HEAD_ID)).scalar_one()


def recompute(extended: merkle.CompactRange, size: int, *, whole_log: bool = True) -> merkle.CompactRange:
    """Extend ``extended`` with the leaves of the events from its size to ``size``, each recomputed
    from its event, checking every stored leaf hash and node against what it computes, and (for
    the ``whole_log``) that no event lies beyond ``size`` and the head's frontier is this range's."""
    start = extended.size
    if size < start:
        raise PublicationRefused(f"the log shrank from signed size {start} to {size}", size)
    beyond = db.session.scalar(select(func.min(CustodyEvent.seq)).where(CustodyEvent.seq >= size))
    columns = [
        CustodyEvent.seq,
        CustodyEvent.recorded_at,
        *[getattr(CustodyEvent, n) for n in leaf.ENTRY_FIELDS],
        CustodyEvent.salt,
        CustodyEvent.leaf_hash,
    ]
    for low in range(start, size, _READ_BATCH):
        high = min(low + _READ_BATCH, size)
        rows = db.session.execute(
            select(*columns).where(CustodyEvent.seq >= low, CustodyEvent.seq < high).order_by(CustodyEvent.seq)
        ).all()
        first_bad: int | None = None
        completed: list[tuple[int, int, bytes]] = []
        for row in rows:
            if row.seq != extended.size:
                raise PublicationRefused(f"event {extended.size} is missing", extended.size)
            computed = leaf.leaf_hash(leaf_entry(row.seq, row.recorded_at, row))
            if computed != row.leaf_hash and first_bad is None:
                first_bad = row.seq
            completed.extend(extended.append(computed))
        if extended.size != high:
            raise PublicationRefused(f"event {extended.size} is missing", extended.size)
        node_bad = _first_node_mismatch(completed)
        bad = min((s for s in (first_bad, node_bad) if s is not None), default=None)
        if bad is not None:
            raise PublicationRefused("the database's leaves or tree differ from the events", bad)
    if not whole_log:
        return extended
    if beyond is not None:
        raise PublicationRefused(f"an event row beyond the log head ({size})", beyond)
    head = db.session.execute(select(CustodyHead.frontier).where(CustodyHead.id == log.HEAD_ID)).scalar_one()
    if head != extended.to_bytes():
        raise PublicationRefused("the log head's frontier differs from the events", max(size - 1, 0))
    return extended


def _check_signed_history(state: SignedState | None, extended: merkle.CompactRange) -> None:
    """The database's tree must still prove what was signed: the consistency proof it gives from the
    signed size, and the root it gives for the new one, must be the signer's. Otherwise proofs
    served from it would fail, and witnesses would be sent a proof that does not verify."""
    if state is None or state.size == 0 or extended.size == state.size:
        return
    try:
        proof = proofs.consistency_proof(state.size, extended.size)
        stored_root = proofs.root_hash(extended.size)
    except LogCorrupted:
        proof, stored_root = [], b""
    if stored_root != extended.root() or not merkle.verify_consistency(
        state.size, extended.size, state.root, extended.root(), proof
    ):
        raise PublicationRefused(
            f"the database's tree nodes no longer prove the signed history "
            f"(signed size {state.size}): a rewrite before seq {state.size}"
        )


def _first_node_mismatch(completed: list[tuple[int, int, bytes]]) -> int | None:
    """The seq whose append completed the first stored node that differs from the computed one."""
    if not completed:
        return None
    try:
        stored = proofs.fetch_nodes({(level, index) for level, index, _ in completed})
    except LogCorrupted:
        stored = {}
    for level, index, value in completed:
        if stored.get((level, index)) != value:
            return ((index + 1) << level) - 1
    return None


# --- witnesses ---------------------------------------------------------------------------------


def _last_cosigned_size(witness: WitnessEndpoint, up_to: int) -> int:
    return (
        db.session.scalar(
            select(func.max(CustodyCosignature.tree_size)).where(
                CustodyCosignature.witness == witness.name, CustodyCosignature.tree_size <= up_to
            )
        )
        or 0
    )


def _ask(witness: WitnessEndpoint, published: Published, old: int, timeout: float) -> list[str]:
    proof = proofs.consistency_proof(old, published.size) if 0 < old < published.size else []
    return witness_client.request_cosignature(
        witness.url, old, proof, published.note, timeout, trusted_vkeys=[witness.vkey]
    )


def gather_cosignatures(
    published: Published, witnesses: Sequence[WitnessEndpoint], timeout: float = 10.0
) -> dict[str, str]:
    """Ask each witness to cosign; store what comes back. Returns witness -> "ok" or why not.

    A witness that holds a newer checkpoint of this log than the one just signed means the
    signer's state is stale (restored): that is a refusal, not a retry.
    """
    have = set(
        db.session.scalars(select(CustodyCosignature.witness).where(CustodyCosignature.tree_size == published.size))
    )
    results = {}
    for witness in witnesses:
        if witness.name in have:
            results[witness.name] = "ok"
            continue
        old = _last_cosigned_size(witness, published.size)
        try:
            try:
                lines = _ask(witness, published, old, timeout)
            except witness_client.WitnessConflict as conflict:  # the witness knows another size: start there
                if conflict.known_size > published.size:
                    raise PublicationRefused(
                        f"witness {witness.name} holds size {conflict.known_size}, newer than the signer's "
                        f"{published.size}: run `flask custody recover-state`"
                    ) from None
                lines = _ask(witness, published, conflict.known_size, timeout)
        except witness_client.WitnessError as exc:
            logger.warning("witness %s did not cosign size %d: %s", witness.name, published.size, exc)
            results[witness.name] = f"refused: {exc}"
            continue
        log.store_cosignatures(published.size, [(witness.name, line) for line in lines])
        results[witness.name] = "ok" if lines else "no cosignature"
    return results


def witness_known_size(
    witness: WitnessEndpoint, published: Published, timeout: float = 10.0, *, old: int = 0
) -> int | None:
    """The size of this log a witness last cosigned: it answers an add-checkpoint from another
    size with 409 and its own. None when unreachable or refusing."""
    try:
        witness_client.request_cosignature(witness.url, old, [], published.note, timeout, trusted_vkeys=[witness.vkey])
    except witness_client.WitnessConflict as conflict:
        return conflict.known_size
    except witness_client.WitnessError:
        return None
    return published.size


# --- recovery ----------------------------------------------------------------------------------


def recover_state(signer: LogSigner, witnesses: Sequence[WitnessEndpoint], quorum: int) -> SignedState:
    """Rebuild the signer's state from the newest stored checkpoint that a quorum of witnesses
    cosigned, after checking that no witness holds a newer one and that the events reproduce it."""
    if not witnesses:
        raise PublicationRefused("recovery needs the configured witnesses (CASEWORK_WITNESSES)")
    vkeys = [w.vkey for w in witnesses]
    with signer.exclusive(), _database_lock(wait=True):
        log.integrate_committed()
        chosen = None
        for row in db.session.scalars(select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size.desc())):
            candidate = Published(row.tree_size, row.root_hash, row.note)
            try:
                cosignature.verify_quorum(candidate.cosigned, vkeys, quorum, log_vkey=signer.vkey())
            except cosignature.CosignatureError:
                continue
            chosen = candidate
            break
        if chosen is None:
            raise PublicationRefused(f"no stored checkpoint carries {quorum} witness cosignatures")
        for witness in witnesses:
            known = witness_known_size(witness, chosen)
            if known is not None and known > chosen.size:
                raise PublicationRefused(
                    f"witness {witness.name} holds size {known}, newer than any quorum-cosigned "
                    "checkpoint in this database: restore the database first"
                )
        rebuilt = recompute(merkle.CompactRange(), chosen.size, whole_log=False)
        if rebuilt.root() != chosen.root:
            raise PublicationRefused(f"the events do not reproduce the cosigned root of size {chosen.size}")
        state = SignedState(chosen.size, chosen.root, chosen.note, rebuilt.hashes)
        signer.save(state)
        return state
