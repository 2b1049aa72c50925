"""Witnesses: pseudonymous records; the identity behind a pseudonym is protected separately.

Reading the identity is its own action (``witness.identity.read``), asked for explicitly
with ``include=identity``, so every disclosure of who a witness is stands in the log.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select, update

from casework.access.door import authorize, load_authorized
from casework.cases.models import Case
from casework.db import db
from casework.errors import Conflict
from casework.fields import Extended
from casework.keys import open_from, seal_into
from casework.pagination import Page, keyset_page
from casework.witnesses.models import Witness


def _next_pseudonym(case_id: int) -> str:
    """W-0001, W-0002, ... per case; the counter row lock keeps concurrent creations apart."""
    number = db.session.execute(
        update(Case).where(Case.id == case_id).values(witness_counter=Case.witness_counter + 1)
        .returning(Case.witness_counter)
    ).scalar_one()
    return f"W-{number:04d}"


def _seal_identity(witness: Witness, identity: dict[str, Any]) -> None:
    if witness.shredded_at is not None:
        raise Conflict("The witness withdrew consent; their identity cannot be recorded again.",
                       problem="consent-withdrawn")
    dob = identity.get("date_of_birth")
    plain = {**identity, "date_of_birth": dob.isoformat() if dob else None}
    seal_into(witness, "identity_", json.dumps(plain, sort_keys=True).encode(), witness.identity_context())


def create_witness(case_id: int, data: dict[str, Any]) -> Witness:
    access = load_authorized(Case, case_id, "witness.create")
    identity = data.pop("identity", None)
    witness = Witness(case_id=access.obj.id, pseudonym=_next_pseudonym(access.obj.id),
                      recorded_by_id=access.user_id, **data)
    db.session.add(witness)
    db.session.flush()
    if identity:
        _seal_identity(witness, identity)
    access.note(created_witness_id=witness.id, identity_recorded=bool(identity))
    return witness


def list_witnesses(case_id: int, args: dict[str, Any]) -> Page:
    case = load_authorized(Case, case_id, "witness.list").obj
    return keyset_page(select(Witness).where(Witness.case_id == case.id), Witness.id, args)


def get_witness(witness_id: int, *, include_identity: bool = False) -> Extended:
    """The witness; with ``include_identity`` also who they are (its own, logged, action)."""
    witness = load_authorized(Witness, witness_id, "witness.read").obj
    identity = None
    if include_identity:
        authorize("witness.identity.read", witness.custody_target())
        if witness.identity_ciphertext is not None:
            identity = json.loads(open_from(witness, "identity_", witness.identity_context()))
            if identity.get("date_of_birth"):
                identity["date_of_birth"] = date.fromisoformat(identity["date_of_birth"])
    return Extended(witness, identity=identity, identity_included=include_identity)


def update_witness(witness_id: int, changes: dict[str, Any]) -> Witness:
    access = load_authorized(Witness, witness_id, "witness.update", changed=sorted(changes))
    identity = changes.pop("identity", None)
    if identity is not None:
        _seal_identity(access.obj, identity)
    for name, value in changes.items():
        setattr(access.obj, name, value)
    return access.obj
