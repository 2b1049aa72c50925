"""Witnesses: pseudonymous records; the identity behind a pseudonym is protected separately.

Reading the identity is its own action (``witness.identity.read``), asked for explicitly
with ``include=identity``, so every disclosure of who a witness is stands in the log.

Each witness gets their own key in the keyring provider when created (``witness:<id>``), and a
random hash key sealed under it: the key of the keyed content hashes (HMAC-SHA256) that metadata
readers and the log see. Withdrawal suspends the witness key at once (``casework.erasures``) and
a second person's confirmation destroys it, so the hashes can no longer be recomputed and confirm
no guess about what the witness said.
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

from sqlalchemy import select, update

from casework.access.door import authorize, load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Conflict
from casework.fields import Extended
from casework.keys import create_subject_key, keyed_sha256
from casework.pagination import Page, keyset_page
from casework.witnesses import suspension
from casework.witnesses.locks import lock_witness
from casework.witnesses.models import Witness


def _next_pseudonym(case_id: int) -> str:
    """W-0001, W-0002, ... per case; the counter row lock keeps concurrent creations apart."""
    number = db.session.execute(
        update(Case)
        .where(Case.id == case_id)
        .values(witness_counter=Case.witness_counter + 1)
        .returning(Case.witness_counter)
    ).scalar_one()
    return f"W-{number:04d}"


def _withdrawn() -> Conflict:
    return Conflict("The witness withdrew consent; nothing more can be recorded for them.", problem="consent-withdrawn")


def _seal_identity(witness: Witness, identity: dict[str, Any]) -> None:
    if witness.shredded_at is not None or suspension.suspended(witness.id):
        raise _withdrawn()
    dob = identity.get("date_of_birth")
    plain = {**identity, "date_of_birth": dob.isoformat() if dob else None}
    witness.sealed_identity.seal(json.dumps(plain, sort_keys=True).encode())


def _give_hash_key(witness: Witness) -> None:
    witness.sealed_hashkey.seal(os.urandom(32))


def hash_key(witness: Witness) -> bytes:
    """The witness's HMAC key for content hashes; ``Gone`` once their key is destroyed.

    While their erasure is pending: ``Conflict`` (``consent-withdrawn``), so an upload for the
    witness is refused as after any withdrawal. (A read has met the suspended key, 410, before it
    asks for this one.)
    """
    if suspension.suspended(witness.id):
        raise _withdrawn()
    if not witness.sealed_hashkey.present:
        # A witness recorded before hash keys existed whose migration found no key to seal one.
        if witness.shredded_at is not None:
            raise _withdrawn()
        _give_hash_key(witness)
    return witness.sealed_hashkey.open()


def keyed_digest(witness: Witness, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data`` under the witness's hash key: the hash metadata readers and the log see."""
    return keyed_sha256(hash_key(witness), data)


def create_witness(case_id: int, data: dict[str, Any]) -> Witness:
    access = load_authorized(Case, case_id, "witness.create")
    identity = data.pop("identity", None)
    witness = Witness(
        case_id=access.obj.id, pseudonym=_next_pseudonym(access.obj.id), recorded_by_id=access.user_id, **data
    )
    db.session.add(witness)
    db.session.flush()
    create_subject_key(witness.key_subject())
    _give_hash_key(witness)
    if identity:
        _seal_identity(witness, identity)
    access.note(created_witness_id=witness.id, identity_recorded=bool(identity))
    return witness


def list_witnesses(case_id: int, args: dict[str, Any]) -> Page:
    """The case's witnesses; with ``pseudonym``, the one witness of that pseudonym (or none).

    Pseudonyms are assigned upper-case (W-0001), so the one asked for is compared upper-cased, on
    the (case_id, pseudonym) unique index. The search is its custody event's detail: the pseudonym
    asked for, never an identity.
    """
    pseudonym = args.get("pseudonym")
    details: dict[str, Any] = {"search": {"pseudonym": pseudonym.upper()}} if pseudonym is not None else {}
    case = load_authorized(Case, case_id, "witness.list", **details).obj
    statement = select(Witness).where(Witness.case_id == case.id)
    if pseudonym is not None:
        statement = statement.where(Witness.pseudonym == pseudonym.upper())
    return keyset_page(statement, Witness.id, args)


def get_witness(witness_id: int, *, include_identity: bool = False) -> Extended:
    """The witness; with ``include_identity`` also who they are (its own, logged, action)."""
    witness = load_authorized(Witness, witness_id, "witness.read").obj
    identity = None
    if include_identity:
        authorize("witness.identity.read", witness.custody_target())
        if witness.sealed_identity.present:
            identity = json.loads(witness.sealed_identity.open())
            if identity.get("date_of_birth"):
                identity["date_of_birth"] = date.fromisoformat(identity["date_of_birth"])
    return Extended(witness, identity=identity, identity_included=include_identity)


def update_witness(witness_id: int, changes: dict[str, Any]) -> Witness:
    access = load_authorized(Witness, witness_id, "witness.update", changed=sorted(changes))
    lock_witness(access.obj.id)  # first, and re-read: see casework.witnesses.locks
    identity = changes.pop("identity", None)
    if identity is not None:
        _seal_identity(access.obj, identity)
    for name, value in changes.items():
        setattr(access.obj, name, value)
    return access.obj
