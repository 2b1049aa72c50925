"""Witnesses: pseudonymous records; the identity behind a pseudonym is protected separately."""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import select, update

from casework.auth.policy import load_authorized, load_with_event
from casework.cases.models import Case
from casework.db import db
from casework.pagination import keyset_page
from casework.witnesses.models import Witness


def _next_pseudonym(case_id: int) -> str:
    """W-0001, W-0002, ... per case; the counter row lock keeps concurrent creations apart."""
    number = db.session.execute(
        update(Case).where(Case.id == case_id).values(witness_counter=Case.witness_counter + 1)
        .returning(Case.witness_counter)
    ).scalar_one()
    return f"W-{number:04d}"


def create_witness(case_id: int, data: dict[str, Any]) -> Witness:
    case, event = load_with_event(Case, case_id, "witness.create")
    witness = Witness(case_id=case.id, pseudonym=_next_pseudonym(case.id), recorded_by_id=current_user.id, **data)
    db.session.add(witness)
    db.session.flush()
    event.resource_type, event.resource_id, event.witness_id = "witness", str(witness.id), witness.id
    return witness


def list_witnesses(case_id: int, args: dict[str, Any]) -> tuple[list[Witness], str | None]:
    case = load_authorized(Case, case_id, "witness.list")
    return keyset_page(select(Witness).where(Witness.case_id == case.id), Witness.id, args)


def get_witness(witness_id: int) -> Witness:
    return load_authorized(Witness, witness_id, "witness.read")


def update_witness(witness_id: int, changes: dict[str, Any]) -> Witness:
    witness, event = load_with_event(Witness, witness_id, "witness.update")
    for name, value in changes.items():
        setattr(witness, name, value)
    event.details["changed"] = sorted(changes)
    return witness
