from __future__ import annotations

from marshmallow import Schema, fields, validate

REFERENCE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", error="1-64 letters, digits, '.', '_', '/' or '-'.")

# Examples: one investigation, as a commission of inquiry would open it.
TITLE_EXAMPLE = "Attacks on civilians and civilian objects, Kharkiv oblast, February-May 2022"
REFERENCE_EXAMPLE = "COI-UKR/2022/003"
DESCRIPTION_EXAMPLE = (
    "Shelling of residential districts and markets in Kharkiv city and oblast; "
    "witnesses interviewed in Kharkiv, Poltava and Warsaw."
)
STATUS_EXAMPLE = "open"
MEMBER_EXAMPLE = {"username": "m.okafor", "role": "interviewer"}


class CaseCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300), metadata={"example": TITLE_EXAMPLE})
    reference = fields.String(
        load_default=None, allow_none=True, validate=REFERENCE, metadata={"example": REFERENCE_EXAMPLE}
    )
    description = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=20000),
        metadata={"example": DESCRIPTION_EXAMPLE},
    )


class CaseUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=300), metadata={"example": TITLE_EXAMPLE})
    reference = fields.String(allow_none=True, validate=REFERENCE, metadata={"example": REFERENCE_EXAMPLE})
    description = fields.String(
        allow_none=True, validate=validate.Length(max=20000), metadata={"example": DESCRIPTION_EXAMPLE}
    )
    status = fields.String(validate=validate.OneOf(["open", "closed"]))


class MemberSchema(Schema):
    user_id = fields.Integer()
    username = fields.String(attribute="user.username", metadata={"example": MEMBER_EXAMPLE["username"]})
    role = fields.String(attribute="user.role", metadata={"example": MEMBER_EXAMPLE["role"]})
    added_at = fields.DateTime()


KIND = (
    "add: a new member; restore: a membership suspended by an admin's password or second-factor reset, "
    "a role change, deactivation or reactivation (see reason); remove: a lawyer's removal"
)


class ProposalSchema(Schema):
    """A membership change an admin proposed (or a suspension), waiting for a second person."""

    user_id = fields.Integer()
    username = fields.String(attribute="user.username", metadata={"example": "s.haddad"})
    role = fields.String(attribute="user.role", metadata={"example": "legal"})
    kind = fields.String(metadata={"description": KIND, "example": "add"})
    reason = fields.String(
        allow_none=True, metadata={"description": "Why a membership was suspended (restore).", "example": None}
    )
    proposed_by_id = fields.Integer()
    proposed_at = fields.DateTime()


class MembershipSchema(Schema):
    """The answer to adding, removing or approving a member: a membership, or a proposal still pending."""

    status = fields.String(
        metadata={
            "description": "member: a member now; pending: a second person must approve "
            "(POST .../members/{user_id}/approve); removed: a lawyer's "
            "removal took effect",
            "example": "pending",
        }
    )
    kind = fields.String(metadata={"description": "Proposals only. " + KIND, "example": "add"})
    reason = fields.String(allow_none=True, metadata={"description": "Suspended memberships only.", "example": None})
    case_id = fields.Integer()
    user_id = fields.Integer()
    username = fields.String(attribute="user.username", metadata={"example": MEMBER_EXAMPLE["username"]})
    role = fields.String(attribute="user.role", metadata={"example": MEMBER_EXAMPLE["role"]})
    added_at = fields.DateTime(metadata={"description": "Members only."})
    proposed_by_id = fields.Integer(metadata={"description": "Pending proposals only."})
    proposed_at = fields.DateTime(metadata={"description": "Pending proposals only."})


class CaseSchema(Schema):
    id = fields.Integer()
    reference = fields.String(allow_none=True, metadata={"example": REFERENCE_EXAMPLE})
    title = fields.String(metadata={"example": TITLE_EXAMPLE})
    description = fields.String(allow_none=True, metadata={"example": DESCRIPTION_EXAMPLE})
    status = fields.String(metadata={"description": "open or closed", "example": STATUS_EXAMPLE})
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CaseDetailSchema(CaseSchema):
    members = fields.List(fields.Nested(MemberSchema))
    proposals = fields.List(
        fields.Nested(ProposalSchema),
        metadata={"description": "Membership changes waiting for a second person (two-person rule)."},
    )
