from __future__ import annotations

from marshmallow import Schema, fields, validate

from casework.fields import FreeText, FreeTextList, FreeTextSchema, UTCDateTime
from casework.geo import LocationSchema
from casework.http import ID_RANGE

LANGUAGE = validate.And(
    validate.Length(max=35),  # the column's size; RFC 5646 advises 35 characters suffice
    validate.Regexp(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", error="A BCP 47 language tag, e.g. 'uk' or 'ar-SY'."),
)


class _InterviewFields(Schema):
    incident_ids = fields.List(fields.Integer(strict=True, validate=ID_RANGE), validate=validate.Length(max=500),
                               metadata={"description": "Incidents of the same case this interview speaks to."})
    conducted_at = UTCDateTime()
    location = fields.Nested(LocationSchema, allow_none=True)
    language = fields.String(validate=LANGUAGE)
    interpreter = fields.String(allow_none=True, validate=validate.Length(max=200))
    others_present = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                                 validate=validate.Length(max=50))


class InterviewCreateSchema(_InterviewFields):
    witness_id = fields.Integer(strict=True, required=True, validate=ID_RANGE)
    conducted_at = UTCDateTime(required=True)
    language = fields.String(required=True, validate=LANGUAGE)


class InterviewUpdateSchema(_InterviewFields):
    pass


class InterviewSchema(FreeTextSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    witness_id = fields.Integer()
    interviewer_id = fields.Integer()
    incident_ids = fields.List(fields.Integer())
    conducted_at = fields.DateTime()
    location = fields.Nested(LocationSchema, allow_none=True)
    language = fields.String()
    interpreter = FreeText(allow_none=True, metadata={
        "description": "null once shredded, and for those who may not read the witness's statements"})
    others_present = FreeTextList(fields.String(), allow_none=True, metadata={
        "description": "null once shredded, and for those who may not read the witness's statements"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
