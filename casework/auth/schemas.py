from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.http import ID_RANGE

# A password someone chooses: long enough here, hard enough to guess in the service (zxcvbn).
NEW_PASSWORD = validate.Length(min=12, max=1024)
GIVEN_PASSWORD = validate.Length(min=1, max=1024)
TOTP_CODE = validate.Regexp(r"^[0-9]{6}$", error="Six digits.")
RECOVERY_CODE = validate.Regexp(r"^[A-Za-z0-9 -]{1,64}$", error="Letters, digits, spaces and dashes.")

# Examples: one account, as an interviewer of the commission would have it.
USERNAME_EXAMPLE = "m.okafor"
DISPLAY_NAME_EXAMPLE = "Miriam Okafor (field interviewer)"
PASSWORD_EXAMPLE = "lantern quarry mosaic 1947"  # noqa: S105 (the contract's example)
NEW_PASSWORD_EXAMPLE = "tulip orbit canyon vellum"  # noqa: S105 (the contract's example)
CODE_EXAMPLE = "492039"
TOKEN_NAME_EXAMPLE = "casework CLI on field laptop FL-07"  # noqa: S105 (the contract's example)
# Bodies whose fields exclude each other: shown whole, as one would send them.
LOGIN_EXAMPLE = {"username": USERNAME_EXAMPLE, "password": PASSWORD_EXAMPLE}
TOTP_DISABLE_EXAMPLE = {"code": CODE_EXAMPLE}


class LoginSchema(Schema):
    username = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": USERNAME_EXAMPLE}
    )
    password = fields.String(
        required=True, load_only=True, validate=GIVEN_PASSWORD, metadata={"example": PASSWORD_EXAMPLE}
    )
    otp = fields.String(
        load_only=True,
        validate=TOTP_CODE,
        metadata={
            "description": "The current code of your authenticator, if you enrolled one.",
            "example": CODE_EXAMPLE,
        },
    )
    recovery_code = fields.String(
        load_only=True,
        validate=RECOVERY_CODE,
        metadata={"description": "Instead of otp: one of your unused recovery codes.", "example": "7kq2-9xrm-4bwd"},
    )


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String(metadata={"example": USERNAME_EXAMPLE})
    display_name = fields.String(allow_none=True, metadata={"example": DISPLAY_NAME_EXAMPLE})
    role = fields.String(metadata={"example": "interviewer"})
    auth_method = fields.String(metadata={"description": "session or token", "example": "session"})
    csrf_token = fields.String(
        allow_none=True,
        metadata={
            "description": "Send as X-CSRF-Token on cookie-authenticated changes.",
            "example": "Jd1kQ0m7yGxT4vR2bWc9sLp3nZ8hF6aE",
        },
    )
    must_change_password = fields.Boolean(
        metadata={
            "description": "An admin set your password: change it (POST /auth/password) before anything else.",
            "example": True,
        }
    )
    mfa_enabled = fields.Boolean(metadata={"description": "Your account has a TOTP second factor.", "example": False})
    mfa_verified = fields.Boolean(
        metadata={"description": "These credentials passed the second factor.", "example": False}
    )
    mfa_enrolment_required = fields.Boolean(
        metadata={"description": "Your role needs a second factor: enrol one before anything else.", "example": False}
    )


class PasswordChangeSchema(Schema):
    current_password = fields.String(
        required=True, load_only=True, validate=GIVEN_PASSWORD, metadata={"example": PASSWORD_EXAMPLE}
    )
    new_password = fields.String(
        required=True, load_only=True, validate=NEW_PASSWORD, metadata={"example": NEW_PASSWORD_EXAMPLE}
    )


class TotpEnrolSchema(Schema):
    password = fields.String(
        required=True,
        load_only=True,
        validate=GIVEN_PASSWORD,
        metadata={"description": "Your password, again.", "example": NEW_PASSWORD_EXAMPLE},
    )


class TotpEnrolmentSchema(Schema):
    secret = fields.String(
        metadata={
            "description": "Base32 secret, shown once; enter it or the URI's QR code.",
            "example": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        }
    )
    provisioning_uri = fields.String(
        metadata={
            "description": "otpauth:// URI for authenticator apps.",
            "example": "otpauth://totp/Casework:m.okafor?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Casework",
        }
    )
    digits = fields.Integer(metadata={"example": 6})
    period = fields.Integer(metadata={"example": 30})
    algorithm = fields.String(metadata={"example": "SHA1"})


class TotpCodeSchema(Schema):
    code = fields.String(required=True, load_only=True, validate=TOTP_CODE, metadata={"example": CODE_EXAMPLE})


class TotpDisableSchema(Schema):
    code = fields.String(load_only=True, validate=TOTP_CODE, metadata={"example": CODE_EXAMPLE})
    password = fields.String(load_only=True, validate=GIVEN_PASSWORD, metadata={"example": NEW_PASSWORD_EXAMPLE})

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_: Any) -> None:
        if ("code" in data) == ("password" in data):
            raise ValidationError("Send either a current code or your password.", "_schema")


class RecoveryCodesSchema(Schema):
    recovery_codes = fields.List(
        fields.String(),
        metadata={
            "description": "Ten one-time codes for when the authenticator is lost; shown once, store them safely.",
            "example": ["7kq2-9xrm-4bwd", "c3vn-h8tp-2jse", "qw5z-mb7r-k1xa"],
        },
    )


class TokenCreateSchema(Schema):
    name = fields.String(
        required=True, validate=validate.Length(min=1, max=100), metadata={"example": TOKEN_NAME_EXAMPLE}
    )
    expires_in_days = fields.Integer(
        strict=True, load_default=30, validate=validate.Range(min=1, max=365), metadata={"example": 30}
    )


class TokenSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String(metadata={"example": TOKEN_NAME_EXAMPLE})
    prefix = fields.String(
        metadata={"description": "The token's first characters, to tell tokens apart.", "example": "cw_5Hq2"}
    )
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    parent_token_id = fields.Integer(
        allow_none=True, metadata={"description": "The token this one was made with; revoked with it."}
    )


class NewTokenSchema(TokenSchema):
    token = fields.String(
        metadata={
            "description": "Shown once; only its hash is stored.",
            "example": "cw_5Hq2vX0pLr8sT3mWk9bYd1eFgA7nJ4cQ",
        }
    )


class TokenListArgs(Schema):
    user_id = fields.Integer(validate=ID_RANGE, metadata={"description": "Admins: list another user's tokens."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
