from __future__ import annotations

from flask import Response

from casework.audit import schemas, service
from casework.http import MAX_SEQ, Blueprint
from casework.pagination import page_of

blp = Blueprint("custody", __name__, url_prefix="/api/v1/custody", description="Chain-of-custody log (auditors)")

EventPage = page_of(schemas.EventSchema, "EventPage")
_CHECKPOINT = (
    "casework.local/custody\n1024\ntWfAy7LoXCleat6TDluzSaS5vulInKp9a2ed1G6CpxE=\n\n"
    "\u2014 casework.local/custody "
    "glTDKQBz7CZtT7Stvz0QSqcU+fEQMv2KttiCn8QLUshvZIXXkozC69Rkbz/j83S+EdkFv0vidfqG84idgqn33F5B3TI=\n"
)
_VKEY = "casework.local/custody+8254c329+AQAX3qd3D37P96s8IFBlRhKelr3rovVEu45UFOt5eGEi"


def _text(example: str) -> dict[int, dict]:
    """A C2SP text answer, with an example of its shape."""
    return {
        200: {"description": "C2SP text", "content": {"text/plain": {"schema": {"type": "string"}, "example": example}}}
    }


@blp.route("/events", methods=["GET"])
@blp.arguments(schemas.EventFilterArgs, location="query")
@blp.response(200, EventPage)
def list_events(args):
    """List custody events, filtered: who did what to which record, when, and the outcome."""
    return service.list_events(args)


@blp.route(f"/events/<int(max={MAX_SEQ}):seq>", methods=["GET"])
@blp.response(200, schemas.EventSchema)
def get_event(seq):
    """Read one custody event with the salts of its identifying values and its leaf hash."""
    return service.get_event(seq)


@blp.route("/checkpoint", methods=["GET"], endpoint="checkpoint")
@blp.doc(responses=_text(_CHECKPOINT))
def get_checkpoint():
    """Get the custody log's latest signed checkpoint, with the witnesses' cosignatures.

    A C2SP tlog-checkpoint in a signed note.
    """
    return Response(service.checkpoint(), mimetype="text/plain")


@blp.route("/public-key", methods=["GET"], endpoint="public_key")
@blp.doc(responses=_text(_VKEY))
def get_public_key():
    """Get the custody log's verifier key (a C2SP signed-note vkey)."""
    return Response(service.public_key(), mimetype="text/plain")


@blp.route("/proofs/inclusion", methods=["GET"], endpoint="inclusion")
@blp.arguments(schemas.InclusionArgs, location="query")
@blp.response(200, schemas.InclusionSchema)
def prove_inclusion(args):
    """Prove that an event is in the log of a given size (RFC 9162 inclusion proof)."""
    return service.inclusion(args["seq"], args["tree_size"])


@blp.route("/proofs/consistency", methods=["GET"], endpoint="consistency")
@blp.arguments(schemas.ConsistencyArgs, location="query")
@blp.response(200, schemas.ConsistencySchema)
def prove_consistency(args):
    """Prove that the log at one size only extends the log at a smaller one (RFC 9162)."""
    return service.consistency(args["first"], args["second"])
