from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from casework.fields import UTCDateTime
from casework.pagination import PageArgs

WITNESS_TYPES = ("victim", "eyewitness", "survivor", "relative", "hearsay", "insider", "expert", "other")
RISK_LEVELS = ("low", "medium", "high", "critical")
PSEUDONYM = validate.Regexp(r"^[Ww]-[0-9]{4,14}$", error="A pseudonym such as W-0001.")

# Examples: a witness of the case, their identity, and the consent they gave.
PSEUDONYM_EXAMPLE = "W-0001"
IDENTITY_EXAMPLE = {
    "full_name": "Olena Petrenko",
    "contact": "+380 50 123 4567 (Signal)",
    "date_of_birth": "1979-06-14",
    "notes": "Prefers interviews in Ukrainian; works night shifts.",
}
GIVEN_AT_EXAMPLE = "2022-05-18T10:05:00Z"
SCOPES_EXAMPLE = {
    "record": True,
    "share_with_prosecutors": True,
    "share_with_un_bodies": True,
    "disclose_identity": False,
}


class IdentitySchema(Schema):
    """The protected identity: encrypted at rest, shown only to those the SPEC names."""

    full_name = fields.String(
        required=True, validate=validate.Length(min=1, max=300), metadata={"example": IDENTITY_EXAMPLE["full_name"]}
    )
    contact = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=1000),
        metadata={"example": IDENTITY_EXAMPLE["contact"]},
    )
    date_of_birth = fields.Date(
        load_default=None, allow_none=True, metadata={"example": IDENTITY_EXAMPLE["date_of_birth"]}
    )
    notes = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=10000),
        metadata={"example": IDENTITY_EXAMPLE["notes"]},
    )


class WitnessCreateSchema(Schema):
    witness_type = fields.String(
        required=True, validate=validate.OneOf(WITNESS_TYPES), metadata={"example": "eyewitness"}
    )
    risk_level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS), metadata={"example": "high"})
    identity = fields.Nested(IdentitySchema, load_default=None, allow_none=True, metadata={"example": IDENTITY_EXAMPLE})


class WitnessUpdateSchema(Schema):
    witness_type = fields.String(validate=validate.OneOf(WITNESS_TYPES), metadata={"example": "eyewitness"})
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS), metadata={"example": "critical"})
    identity = fields.Nested(IdentitySchema)


class WitnessFilterArgs(PageArgs):
    pseudonym = fields.String(
        validate=PSEUDONYM,
        metadata={
            "description": "The witness with this pseudonym, if any "
            "(exact; letters' case ignored: w-0001 finds W-0001)."
        },
    )


class WitnessReadArgs(Schema):
    include = fields.String(
        validate=validate.OneOf(["identity"]),
        metadata={"description": "identity: also return the protected identity (logged)."},
    )


class ConsentScopesSchema(Schema):
    record = fields.Boolean(
        required=True, metadata={"description": "Record and keep the statement.", "example": SCOPES_EXAMPLE["record"]}
    )
    share_with_prosecutors = fields.Boolean(
        required=True, metadata={"example": SCOPES_EXAMPLE["share_with_prosecutors"]}
    )
    share_with_un_bodies = fields.Boolean(required=True, metadata={"example": SCOPES_EXAMPLE["share_with_un_bodies"]})
    disclose_identity = fields.Boolean(required=True, metadata={"example": SCOPES_EXAMPLE["disclose_identity"]})


class ConsentCreateSchema(Schema):
    scopes = fields.Nested(ConsentScopesSchema, required=True)
    given_at = UTCDateTime(required=True, metadata={"example": GIVEN_AT_EXAMPLE})
    withdrawn_at = UTCDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Set to withdraw consent: every read of the witness's records stops at once (410) and an "
            "erasure opens, which a second person (a lawyer of the case) confirms, crypto-shredding "
            "them, or rejects.",
            "example": None,
        },
    )


class ConsentSchema(Schema):
    version = fields.Integer(metadata={"example": 1})
    scopes = fields.Nested(ConsentScopesSchema)
    given_at = fields.DateTime(allow_none=True, metadata={"example": GIVEN_AT_EXAMPLE})
    withdrawn_at = fields.DateTime(allow_none=True, metadata={"example": None})
    recorded_by_id = fields.Integer()
    created_at = fields.DateTime()


class WitnessSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    pseudonym = fields.String(
        metadata={
            "description": "Server-assigned, e.g. W-0001; safe to share within the case.",
            "example": PSEUDONYM_EXAMPLE,
        }
    )
    witness_type = fields.String(metadata={"example": "eyewitness"})
    risk_level = fields.String(metadata={"example": "high"})
    recorded_by_id = fields.Integer()
    identity_status = fields.String(metadata={"description": "none, present or shredded", "example": "present"})
    consent = fields.Nested(ConsentSchema, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WitnessDetailSchema(WitnessSchema):
    identity = fields.Nested(
        IdentitySchema,
        allow_none=True,
        metadata={"description": "Only with include=identity (each read is logged).", "example": IDENTITY_EXAMPLE},
    )

    @post_dump(pass_original=True)
    def _only_when_asked(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        if not getattr(original, "identity_included", False):
            data.pop("identity", None)
        return data
