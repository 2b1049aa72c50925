from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.http import ID_RANGE

# A password someone chooses: long enough here, hard enough to guess in the service (zxcvbn).
NEW_PASSWORD = validate.Length(min=12, max=1024)
GIVEN_PASSWORD = validate.Length(min=1, max=1024)
TOTP_CODE = validate.Regexp(r"^[0-9]{6}$", error="Six digits.")
RECOVERY_CODE = validate.Regexp(r"^[A-Za-z0-9 -]{1,64}$", error="Letters, digits, spaces and dashes.")


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=GIVEN_PASSWORD)
    otp = fields.String(load_only=True, validate=TOTP_CODE,
                        metadata={"description": "The current code of your authenticator, if you enrolled one."})
    recovery_code = fields.String(load_only=True, validate=RECOVERY_CODE,
                                  metadata={"description": "Instead of otp: one of your unused recovery codes."})


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    auth_method = fields.String()
    csrf_token = fields.String(allow_none=True,
                               metadata={"description": "Send as X-CSRF-Token on cookie-authenticated changes."})
    must_change_password = fields.Boolean(
        metadata={"description": "An admin set your password: change it (POST /auth/password) before anything else."})
    mfa_enabled = fields.Boolean(metadata={"description": "Your account has a TOTP second factor."})
    mfa_verified = fields.Boolean(metadata={"description": "These credentials passed the second factor."})
    mfa_enrolment_required = fields.Boolean(
        metadata={"description": "Your role needs a second factor: enrol one before anything else."})


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=GIVEN_PASSWORD)
    new_password = fields.String(required=True, load_only=True, validate=NEW_PASSWORD)


class TotpEnrolSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=GIVEN_PASSWORD,
                             metadata={"description": "Your password, again."})


class TotpEnrolmentSchema(Schema):
    secret = fields.String(metadata={"description": "Base32 secret, shown once; enter it or the URI's QR code."})
    provisioning_uri = fields.String(metadata={"description": "otpauth:// URI for authenticator apps."})
    digits = fields.Integer()
    period = fields.Integer()
    algorithm = fields.String()


class TotpCodeSchema(Schema):
    code = fields.String(required=True, load_only=True, validate=TOTP_CODE)


class TotpDisableSchema(Schema):
    code = fields.String(load_only=True, validate=TOTP_CODE)
    password = fields.String(load_only=True, validate=GIVEN_PASSWORD)

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_: Any) -> None:
        if ("code" in data) == ("password" in data):
            raise ValidationError("Send either a current code or your password.", "_schema")


class RecoveryCodesSchema(Schema):
    recovery_codes = fields.List(fields.String(), metadata={
        "description": "Ten one-time codes for when the authenticator is lost; shown once, store them safely."})


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(strict=True, load_default=30, validate=validate.Range(min=1, max=365))


class TokenSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    parent_token_id = fields.Integer(allow_none=True,
                                     metadata={"description": "The token this one was made with; revoked with it."})


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class TokenListArgs(Schema):
    user_id = fields.Integer(validate=ID_RANGE,
                             metadata={"description": "Admins: list another user's tokens."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
