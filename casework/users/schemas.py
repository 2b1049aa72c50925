from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.access.roles import Role
from casework.pagination import PageArgs

USERNAME = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{2,63}$", error="3-64 lower-case letters, digits, '.', '_' or '-'.")
PASSWORD = validate.Length(min=12, max=1024)
ROLE = validate.OneOf([r.value for r in Role])


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    role = fields.String(required=True, validate=ROLE)
    display_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class UserUpdateSchema(Schema):
    password = fields.String(load_only=True, validate=PASSWORD)
    role = fields.String(validate=ROLE)
    display_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    active = fields.Boolean()


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    active = fields.Boolean()
    must_change_password = fields.Boolean(
        metadata={"description": "An admin chose the password; its user must change it before anything else."})
    mfa_enabled = fields.Boolean(metadata={"description": "A TOTP second factor is on."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class UserListArgs(PageArgs):
    role = fields.String(validate=ROLE)
    active = fields.Boolean()
