from __future__ import annotations

from flask import Response

from casework.audit import schemas, service
from casework.http import MAX_SEQ, Blueprint
from casework.pagination import page_of

blp = Blueprint("custody", __name__, url_prefix="/api/v1/custody", description="Chain-of-custody log (auditors)")

EventPage = page_of(schemas.EventSchema, "EventPage")
_TEXT = {"200": {"description": "C2SP text", "content": {"text/plain": {"schema": {"type": "string"}}}}}


@blp.route("/events", methods=["GET"])
@blp.arguments(schemas.EventFilterArgs, location="query")
@blp.response(200, EventPage)
def list_events(args):
    return service.list_events(args)


@blp.route(f"/events/<int(max={MAX_SEQ}):seq>", methods=["GET"])
@blp.response(200, schemas.EventSchema)
def get_event(seq):
    return service.get_event(seq)


@blp.route("/checkpoint", methods=["GET"])
@blp.doc(responses=_TEXT)
def checkpoint():
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    return Response(service.checkpoint(), mimetype="text/plain")


@blp.route("/public-key", methods=["GET"])
@blp.doc(responses=_TEXT)
def public_key():
    """The log's verifier key (C2SP signed-note vkey)."""
    return Response(service.public_key(), mimetype="text/plain")


@blp.route("/proofs/inclusion", methods=["GET"])
@blp.arguments(schemas.InclusionArgs, location="query")
@blp.response(200, schemas.InclusionSchema)
def inclusion(args):
    return service.inclusion(args["seq"], args["tree_size"])


@blp.route("/proofs/consistency", methods=["GET"])
@blp.arguments(schemas.ConsistencyArgs, location="query")
@blp.response(200, schemas.ConsistencySchema)
def consistency(args):
    return service.consistency(args["first"], args["second"])
