from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from casework.fields import UTCDateTime

WITNESS_TYPES = ("victim", "eyewitness", "survivor", "relative", "hearsay", "insider", "expert", "other")
RISK_LEVELS = ("low", "medium", "high", "critical")


class IdentitySchema(Schema):
    """The protected identity: encrypted at rest, shown only to those the SPEC names."""

    full_name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    contact = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    date_of_birth = fields.Date(load_default=None, allow_none=True)
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10000))


class WitnessCreateSchema(Schema):
    witness_type = fields.String(required=True, validate=validate.OneOf(WITNESS_TYPES))
    risk_level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))
    identity = fields.Nested(IdentitySchema, load_default=None, allow_none=True)


class WitnessUpdateSchema(Schema):
    witness_type = fields.String(validate=validate.OneOf(WITNESS_TYPES))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    identity = fields.Nested(IdentitySchema)


class WitnessReadArgs(Schema):
    include = fields.String(validate=validate.OneOf(["identity"]),
                            metadata={"description": "identity: also return the protected identity (logged)."})


class ConsentScopesSchema(Schema):
    record = fields.Boolean(required=True, metadata={"description": "Record and keep the statement."})
    share_with_prosecutors = fields.Boolean(required=True)
    share_with_un_bodies = fields.Boolean(required=True)
    disclose_identity = fields.Boolean(required=True)


class ConsentCreateSchema(Schema):
    scopes = fields.Nested(ConsentScopesSchema, required=True)
    given_at = UTCDateTime(required=True)
    withdrawn_at = UTCDateTime(load_default=None, allow_none=True, metadata={
        "description": "Set to withdraw consent: every read of the witness's records stops at once (410) and an "
                       "erasure opens, which a second person (a lawyer of the case) confirms, crypto-shredding "
                       "them, or rejects."})


class ConsentSchema(Schema):
    version = fields.Integer()
    scopes = fields.Nested(ConsentScopesSchema)
    given_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    recorded_by_id = fields.Integer()
    created_at = fields.DateTime()


class WitnessSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    pseudonym = fields.String(metadata={"description": "Server-assigned, e.g. W-0001; safe to share within the case."})
    witness_type = fields.String()
    risk_level = fields.String()
    recorded_by_id = fields.Integer()
    identity_status = fields.String(metadata={"description": "none, present or shredded"})
    consent = fields.Nested(ConsentSchema, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WitnessDetailSchema(WitnessSchema):
    identity = fields.Nested(IdentitySchema, allow_none=True,
                             metadata={"description": "Only with include=identity (each read is logged)."})

    @post_dump(pass_original=True)
    def _only_when_asked(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        if not getattr(original, "identity_included", False):
            data.pop("identity", None)
        return data
