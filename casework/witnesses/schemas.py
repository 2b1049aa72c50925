from __future__ import annotations

from marshmallow import Schema, fields, validate

WITNESS_TYPES = ("victim", "eyewitness", "survivor", "relative", "hearsay", "insider", "expert", "other")
RISK_LEVELS = ("low", "medium", "high", "critical")


class WitnessCreateSchema(Schema):
    witness_type = fields.String(required=True, validate=validate.OneOf(WITNESS_TYPES))
    risk_level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))


class WitnessUpdateSchema(Schema):
    witness_type = fields.String(validate=validate.OneOf(WITNESS_TYPES))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))


class WitnessSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    pseudonym = fields.String(metadata={"description": "Server-assigned, e.g. W-0001; safe to share within the case."})
    witness_type = fields.String()
    risk_level = fields.String()
    recorded_by_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
