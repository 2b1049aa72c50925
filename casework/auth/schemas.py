from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.http import ID_RANGE


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    auth_method = fields.String()
    csrf_token = fields.String(allow_none=True,
                               metadata={"description": "Send as X-CSRF-Token on cookie-authenticated changes."})


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))


class TokenSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class TokenListArgs(Schema):
    user_id = fields.Integer(validate=ID_RANGE,
                             metadata={"description": "Admins: list another user's tokens."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
