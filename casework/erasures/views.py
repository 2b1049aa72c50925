from __future__ import annotations

from typing import Any

from casework.erasures import schemas, service
from casework.http import Blueprint
from casework.pagination import page_of
from casework.witnesses import suspension

blp = Blueprint("erasures", __name__, url_prefix="/api/v1", description="Two-person erasure of a witness's records")

ErasurePage = page_of(schemas.ErasureSummarySchema, "ErasurePage")


def _suspend_pending_erasures(state: Any) -> None:
    """Every app serving these routes holds back the keys of witnesses whose erasure is pending."""
    suspension.install(state.app)


blp.record_once(_suspend_pending_erasures)


@blp.route("/witnesses/<int:witness_id>/erasure", methods=["GET"])
@blp.response(200, schemas.ErasureStateSchema)
def get_erasure(witness_id):
    """Read the state of a witness's erasure and the legal holds on their records.

    The latest erasure: pending, confirmed, rejected, or none.
    """
    return service.read(witness_id)


@blp.route("/witnesses/<int:witness_id>/erasure/confirm", methods=["POST"])
@blp.response(200, schemas.ErasureStateSchema)
def confirm_erasure(witness_id):
    """Confirm a pending erasure (a second lawyer of the case): the witness's key is destroyed.

    Refused (409) while a legal hold is active.
    """
    return service.confirm(witness_id)


@blp.route("/witnesses/<int:witness_id>/erasure/reject", methods=["POST"])
@blp.arguments(schemas.RejectSchema)
@blp.response(200, schemas.ErasureStateSchema)
def reject_erasure(data, witness_id):
    """Reject a pending erasure as recorded in error (a second lawyer of the case).

    Access to the witness's records is restored.
    """
    return service.reject(witness_id, data)


@blp.route("/witnesses/<int:witness_id>/legal-holds", methods=["POST"])
@blp.arguments(schemas.HoldCreateSchema)
@blp.response(201, schemas.HoldSchema)
def place_hold(data, witness_id):
    """Place a legal hold on a witness's records (a lawyer of the case).

    No erasure of the witness is confirmed while it is active.
    """
    return service.place_hold(witness_id, data)


@blp.route("/witnesses/<int:witness_id>/legal-holds/<int:hold_id>/lift", methods=["POST"])
@blp.response(200, schemas.HoldSchema, description="Lifted: a second lawyer approved the lift")
@blp.alt_response(
    202, schema=schemas.HoldSchema, description="Lift requested: a second, different lawyer of the case must approve it"
)
def lift_hold(witness_id, hold_id):
    """Ask for, or approve, the lift of a legal hold: two different lawyers of the case."""
    hold, lifted = service.lift_hold(witness_id, hold_id)
    return hold, 200 if lifted else 202


@blp.route("/erasures", methods=["GET"])
@blp.arguments(schemas.ErasureListArgs, location="query")
@blp.response(200, ErasurePage)
def list_erasures(args):
    """List the erasures of your cases (auditors: all).

    ``overdue=true``: only those pending past their deadline.
    """
    return service.list_erasures(args)
