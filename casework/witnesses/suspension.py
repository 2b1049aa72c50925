"""Suspension: while a witness's erasure is pending, their key opens nothing, for anyone.

A withdrawal does not destroy the witness's key (one person never destroys evidence); it opens
an erasure, and from that commit on the key is *suspended*: every unwrap or wrap under
``witness:<id>`` is refused as if the key were gone, so every read of the witness's identity,
statements, exhibits, redactions and free text answers 410 Gone (``shredded``), free text beside
metadata reads null, and nothing new can be sealed for them: exactly as a shredded witness's
records answer. A second person then confirms (the key is destroyed in the provider) or rejects
(the erasure closes, the key opens again).

The refusal sits in front of the keyring provider (``SuspendingKeyring``, installed when the
erasures blueprint is registered), because every path that decrypts anything of a witness goes
through the provider with the witness's subject: no read path can forget to ask. It reads which
witnesses have a pending erasure once per request (or stream), in one statement. Schema
migrations, which convert rows as the operator for no reader, are not held back.

Ordering. Paths that change what a witness said take the witness lock first
(``casework.witnesses.locks``) and meet the suspension after it, so they are ordered with a
withdrawal (which takes that lock too). An exhibit upload's PATCH locks only its exhibit: one that
met no suspension may be recorded just after the withdrawal; what it stores is under the
witness's key and is destroyed with it on confirmation.

Streams. A streamed response decided and recorded its reads before its first byte. A disclosure
bundle marks the witnesses it released (``release_authorized``) in the stream's own application
context, so a withdrawal recorded after that decision does not cut it (the bundle was authorized
before the withdrawal; see ``casework.disclosure.bundle``). Other streams (the case file) meet the
suspension as it stood when they first decrypted (read once per stream, in its own context).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alembic import context as alembic_context
from flask import Flask, g, has_request_context, request
from sqlalchemy import select

from casework.crypto.keyring import KeyringProvider, SubjectKeyDestroyed
from casework.db import db, utcnow
from casework.settings import settings
from casework.witnesses.erasure_models import PENDING, WITHDRAWAL, Erasure

_WITNESS_SUBJECT = "witness:"
_CACHE = "casework.erasures.suspended"
_RELEASED = "casework_erasures_released"


class SubjectKeySuspended(SubjectKeyDestroyed):
    """The witness's erasure is pending: their key is held back until it is confirmed or rejected."""


def _cache() -> dict[str, frozenset[int]]:
    """Per request (or, outside one, per application context: a stream's own)."""
    if has_request_context():
        return request.environ.setdefault(_CACHE, {})
    return g.setdefault(_CACHE, {})


def suspended(witness_id: int, *, fresh: bool = False) -> bool:
    """Whether an erasure of the witness is pending (and the caller's stream did not release them).

    The set of witnesses with a pending erasure is read once per request (one statement, however
    many witnesses a case file decrypts); ``fresh`` asks about this witness again (a decision
    taken under the witness lock, or before a stream's first byte).
    """
    released: set[int] = g.get(_RELEASED, set())
    if witness_id in released:
        return False
    if fresh:
        return (
            db.session.execute(
                select(Erasure.id).where(Erasure.witness_id == witness_id, Erasure.status == PENDING).limit(1)
            ).first()
            is not None
        )
    cache = _cache()
    if "pending" not in cache:
        cache["pending"] = frozenset(db.session.scalars(select(Erasure.witness_id).where(Erasure.status == PENDING)))
    return witness_id in cache["pending"]


def forget(witness_id: int) -> None:
    """An erasure changed in this request: ask again."""
    _cache().pop("pending", None)


def release_authorized(witness_ids: Iterable[int]) -> None:
    """In this (a stream's own) application context: these witnesses' content was authorized and its
    release recorded before the response started; a withdrawal recorded since does not stop it."""
    released: set[int] = g.setdefault(_RELEASED, set())
    released.update(witness_ids)


def open_erasure(witness_id: int, case_id: int, *, requested_by_id: int, consent_version: int) -> Erasure:
    """Open a pending erasure (the caller holds the witness lock): the witness's key is suspended from
    this transaction's commit on."""
    now = utcnow()
    erasure = Erasure(
        witness_id=witness_id,
        case_id=case_id,
        origin=WITHDRAWAL,
        consent_version=consent_version,
        status=PENDING,
        requested_by_id=requested_by_id,
        requested_at=now,
        deadline=now + settings().erasure_delay,
    )
    db.session.add(erasure)
    db.session.flush()
    forget(witness_id)
    return erasure


def _witness_of(subject: str) -> int | None:
    if not subject.startswith(_WITNESS_SUBJECT):
        return None
    try:
        return int(subject[len(_WITNESS_SUBJECT) :])
    except ValueError:
        return None


def _migrating() -> bool:
    """A schema migration converts rows as the operator, for no reader (0006 moves witness rows between
    the KEKs and the witness keys, and runs before the erasures table exists): never held back."""
    return getattr(alembic_context, "_proxy", None) is not None


def _refuse_if_suspended(subject: str) -> None:
    witness_id = _witness_of(subject)
    if witness_id is not None and not _migrating() and suspended(witness_id):
        raise SubjectKeySuspended(f"the erasure of {subject} is pending; its key is suspended")


class SuspendingKeyring:
    """The configured keyring provider, with the keys of witnesses whose erasure is pending held back.

    Everything else (KEKs, the signing key, creating, testing and destroying subject keys) is
    the provider's own.
    """

    def __init__(self, provider: KeyringProvider) -> None:
        self.provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    def wrap_with_subject(self, subject: str, data_key: bytes, context: bytes) -> bytes:
        _refuse_if_suspended(subject)
        return self.provider.wrap_with_subject(subject, data_key, context)

    def unwrap_with_subject(self, subject: str, wrapped: bytes, context: bytes) -> bytes:
        _refuse_if_suspended(subject)
        return self.provider.unwrap_with_subject(subject, wrapped, context)


def install(app: Flask) -> None:
    """Put the suspension in front of the app's keyring provider (once)."""
    provider = app.extensions["casework.keyring"]
    if not isinstance(provider, SuspendingKeyring):
        app.extensions["casework.keyring"] = SuspendingKeyring(provider)
