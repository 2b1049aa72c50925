from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.access.roles import Role
from casework.pagination import PageArgs

USERNAME = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{2,63}$", error="3-64 lower-case letters, digits, '.', '_' or '-'.")
PASSWORD = validate.Length(min=12, max=1024)
ROLE = validate.OneOf([r.value for r in Role])
# Examples: an admin creates a lawyer's account.
USERNAME_EXAMPLE = "s.haddad"
DISPLAY_NAME_EXAMPLE = "Samira Haddad (legal officer)"
ROLE_EXAMPLE = "legal"
FIRST_PASSWORD_EXAMPLE = "river copper lantern 2291"  # noqa: S105 (the contract's example)


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=USERNAME, metadata={"example": USERNAME_EXAMPLE})
    password = fields.String(
        required=True,
        load_only=True,
        validate=PASSWORD,
        metadata={
            "description": "A first password, given to its user out of band; they must change it at first login.",
            "example": FIRST_PASSWORD_EXAMPLE,
        },
    )
    role = fields.String(required=True, validate=ROLE, metadata={"example": ROLE_EXAMPLE})
    display_name = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"example": DISPLAY_NAME_EXAMPLE},
    )


class UserUpdateSchema(Schema):
    password = fields.String(load_only=True, validate=PASSWORD, metadata={"example": FIRST_PASSWORD_EXAMPLE})
    role = fields.String(validate=ROLE, metadata={"example": ROLE_EXAMPLE})
    display_name = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"example": DISPLAY_NAME_EXAMPLE}
    )
    active = fields.Boolean(metadata={"example": True})


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String(metadata={"example": USERNAME_EXAMPLE})
    display_name = fields.String(allow_none=True, metadata={"example": DISPLAY_NAME_EXAMPLE})
    role = fields.String(metadata={"example": ROLE_EXAMPLE})
    active = fields.Boolean(metadata={"example": True})
    must_change_password = fields.Boolean(
        metadata={
            "description": "An admin chose the password; its user must change it before anything else.",
            "example": True,
        }
    )
    mfa_enabled = fields.Boolean(metadata={"description": "A TOTP second factor is on.", "example": False})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class UserListArgs(PageArgs):
    role = fields.String(validate=ROLE)
    active = fields.Boolean()
