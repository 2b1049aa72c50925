from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.pagination import PageArgs
from casework.witnesses.erasure_models import STATUSES

_FREE_TEXT = "Shown to the case's lawyers only (null for everyone else)."
COURT_ORDER_EXAMPLE = "ICC-01/22-45-Red, Pre-Trial Chamber II, preservation order of 3 May 2026"


class RejectSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "Why the withdrawal was recorded in error; sealed. " + _FREE_TEXT,
            "example": "Recorded against W-0003 by mistake; the withdrawal was W-0004's.",
        },
    )


class HoldCreateSchema(Schema):
    court_order_reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=300),
        metadata={
            "description": "The order that requires the records be kept; sealed. " + _FREE_TEXT,
            "example": COURT_ORDER_EXAMPLE,
        },
    )


class HoldSchema(Schema):
    id = fields.Integer()
    witness_id = fields.Integer()
    status = fields.String(metadata={"description": "active (confirmation is blocked) or lifted", "example": "active"})
    court_order_reference = fields.String(
        allow_none=True, metadata={"description": _FREE_TEXT, "example": COURT_ORDER_EXAMPLE}
    )
    placed_by_id = fields.Integer()
    placed_at = fields.DateTime()
    lift_requested_by_id = fields.Integer(
        allow_none=True,
        metadata={"description": "The first lawyer asking for the lift; a second, different lawyer lifts it"},
    )
    lift_requested_at = fields.DateTime(allow_none=True)
    lifted_by_id = fields.Integer(allow_none=True)
    lifted_at = fields.DateTime(allow_none=True)


class ErasureStateSchema(Schema):
    """The witness's latest erasure (if any) and every legal hold on their records."""

    witness_id = fields.Integer()
    case_id = fields.Integer()
    status = fields.String(
        validate=validate.OneOf(("none", *STATUSES)),
        metadata={
            "description": "none (never withdrawn), pending (records suspended, key kept), confirmed (key "
            "destroyed), rejected (recorded in error; access restored)"
        },
    )
    erasure_id = fields.Integer(allow_none=True)
    origin = fields.String(allow_none=True, metadata={"description": "withdrawal", "example": "withdrawal"})
    consent_version = fields.Integer(
        allow_none=True, metadata={"description": "The consent version that withdrew", "example": 2}
    )
    requested_by_id = fields.Integer(allow_none=True, metadata={"description": "Who recorded the withdrawal"})
    requested_at = fields.DateTime(allow_none=True)
    deadline = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "requested_at + CASEWORK_ERASURE_DELAY: listed as overdue after it, never destroyed by it"
        },
    )
    overdue = fields.Boolean()
    decided_by_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    restored_consent_version = fields.Integer(
        allow_none=True,
        metadata={
            "description": "A rejection's new consent version (the consent in force before the withdrawal)",
            "example": None,
        },
    )
    reason = fields.String(
        allow_none=True, metadata={"description": "A rejection's reason. " + _FREE_TEXT, "example": None}
    )
    active_holds = fields.Integer(metadata={"example": 1})
    holds = fields.List(fields.Nested(HoldSchema))


class ErasureSummarySchema(Schema):
    id = fields.Integer()
    witness_id = fields.Integer()
    case_id = fields.Integer()
    status = fields.String(metadata={"example": "pending"})
    requested_by_id = fields.Integer()
    requested_at = fields.DateTime()
    deadline = fields.DateTime()
    overdue = fields.Boolean()
    active_holds = fields.Integer(metadata={"example": 0})


class ErasureListArgs(PageArgs):
    overdue = fields.Boolean(
        load_default=False,
        metadata={"description": "true: only erasures still pending past their deadline (a second person must act)"},
    )
