from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.fields import FreeText, FreeTextList, FreeTextSchema, UTCDateTime
from casework.geo import LocationSchema
from casework.http import ID_RANGE
from casework.incidents.schemas import LOCATION_EXAMPLE
from casework.pagination import PageArgs

LANGUAGE = validate.And(
    validate.Length(max=35),  # the column's size; RFC 5646 advises 35 characters suffice
    validate.Regexp(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", error="A BCP 47 language tag, e.g. 'uk' or 'ar-SY'."),
)

# Examples: an interview of witness W-0001 about one incident, through an interpreter.
CONDUCTED_AT_EXAMPLE = "2022-05-18T10:00:00Z"
INTERVIEW_LOCATION_EXAMPLE = {
    **LOCATION_EXAMPLE,
    "name": "OHCHR field office, Kharkiv",
    "latitude": 49.9935,
    "longitude": 36.2304,
    "precision_m": 50,
}
INTERPRETER_EXAMPLE = "Iryna Bondarenko (OHCHR interpreter)"
OTHERS_PRESENT_EXAMPLE = ["psychosocial support officer"]


class _InterviewFields(Schema):
    incident_ids = fields.List(
        fields.Integer(strict=True, validate=ID_RANGE),
        validate=validate.Length(max=500),
        metadata={"description": "Incidents of the same case this interview speaks to.", "example": [1]},
    )
    conducted_at = UTCDateTime(metadata={"example": CONDUCTED_AT_EXAMPLE})
    location = fields.Nested(LocationSchema, allow_none=True, metadata={"example": INTERVIEW_LOCATION_EXAMPLE})
    language = fields.String(validate=LANGUAGE, metadata={"example": "uk"})
    interpreter = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"example": INTERPRETER_EXAMPLE}
    )
    others_present = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=50),
        metadata={"example": OTHERS_PRESENT_EXAMPLE},
    )


class InterviewCreateSchema(_InterviewFields):
    witness_id = fields.Integer(strict=True, required=True, validate=ID_RANGE)
    conducted_at = UTCDateTime(required=True, metadata={"example": CONDUCTED_AT_EXAMPLE})
    language = fields.String(required=True, validate=LANGUAGE, metadata={"example": "uk"})


class InterviewFilterArgs(PageArgs):
    """Search filters of an interview listing; several narrow it together. Only plain columns are
    searched: who was present and the interpreter are sealed under the witness's key."""

    language = fields.String(
        validate=LANGUAGE,
        metadata={"description": "Interviews in this language: a BCP 47 tag (e.g. uk, ar-SY), letters' case ignored."},
    )
    conducted_after = UTCDateTime(metadata={"description": "Interviews conducted at or after this time."})
    conducted_before = UTCDateTime(metadata={"description": "Interviews conducted before this time."})
    witness_id = fields.Integer(validate=ID_RANGE, metadata={"description": "Interviews of this witness."})


class InterviewUpdateSchema(_InterviewFields):
    pass


class InterviewSchema(FreeTextSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    witness_id = fields.Integer()
    interviewer_id = fields.Integer()
    incident_ids = fields.List(fields.Integer(), metadata={"example": [1]})
    conducted_at = fields.DateTime(metadata={"example": CONDUCTED_AT_EXAMPLE})
    location = fields.Nested(LocationSchema, allow_none=True, metadata={"example": INTERVIEW_LOCATION_EXAMPLE})
    language = fields.String(metadata={"example": "uk"})
    interpreter = FreeText(
        allow_none=True,
        metadata={
            "description": "null once shredded, and for those who may not read the witness's statements",
            "example": INTERPRETER_EXAMPLE,
        },
    )
    others_present = FreeTextList(
        fields.String(),
        allow_none=True,
        metadata={
            "description": "null once shredded, and for those who may not read the witness's statements",
            "example": OTHERS_PRESENT_EXAMPLE,
        },
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
