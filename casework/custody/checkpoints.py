"""Signing checkpoints of the log: only after proving the tree consistent with the last one."""
from __future__ import annotations

from sqlalchemy import select

from casework.crypto.keyring import KeyringProvider
from casework.custody import log, merkle, note
from casework.custody.models import CustodyCheckpoint, CustodyHead
from casework.db import db
from casework.errors import LogCorrupted


def vkey(keyring: KeyringProvider) -> str:
    return note.vkey_string(keyring.log_name(), keyring.signing_key().public_key())


def last_signed_checkpoint() -> str:
    last = db.session.execute(
        select(CustodyCheckpoint.note).order_by(CustodyCheckpoint.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    return last or ""


def sign_checkpoint(keyring: KeyringProvider) -> str:
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
        raise LogCorrupted(f"log shrank from a signed size {last.tree_size} to {size}")
    root = log.root_hash(size) if size else merkle.EMPTY_ROOT
    if merkle.CompactRange.from_bytes(size, head.frontier).root() != root:
        raise LogCorrupted("stored tree nodes disagree with the log head")
    if last is not None and not merkle.verify_consistency(
        last.tree_size, size, last.root_hash, root, log.consistency_proof(last.tree_size, size)
    ):
        raise LogCorrupted(f"tree of size {size} is not consistent with signed checkpoint {last.tree_size}")
    name = keyring.log_name()
    signed = note.sign_note(note.format_checkpoint(name, size, root), name, keyring.signing_key())
    db.session.add(CustodyCheckpoint(tree_size=size, root_hash=root, note=signed))
    db.session.flush()
    return signed
