from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.fields import UTCDateTime
from casework.geo import LocationSchema

# Violation codes, after the categories used by UN commissions of inquiry and the Rome Statute.
VIOLATION_TYPES = (
    "unlawful-killing",
    "summary-execution",
    "execution-of-prisoners-of-war",
    "torture",
    "cruel-treatment",
    "sexual-violence",
    "enforced-disappearance",
    "arbitrary-detention",
    "hostage-taking",
    "attack-on-civilians",
    "attack-on-protected-objects",
    "indiscriminate-attack",
    "use-of-prohibited-weapons",
    "forced-displacement",
    "deportation",
    "pillage",
    "denial-of-fair-trial",
    "recruitment-of-children",
    "persecution",
    "other",
)
TIME_PRECISIONS = ("exact", "minute", "hour", "day", "month", "year")
REFERENCE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", error="1-64 letters, digits, '.', '_', '/' or '-'.")


class _IncidentFields(Schema):
    reference = fields.String(validate=REFERENCE)
    title = fields.String(validate=validate.Length(min=1, max=300))
    description = fields.String(allow_none=True, validate=validate.Length(max=50000))
    occurred_from = UTCDateTime(allow_none=True)
    occurred_to = UTCDateTime(allow_none=True)
    time_precision = fields.String(validate=validate.OneOf(TIME_PRECISIONS),
                                   metadata={"description": "How precisely occurred_from/occurred_to are known."})
    location = fields.Nested(LocationSchema, allow_none=True)
    victim_count = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 10_000_000))
    violation_types = fields.List(fields.String(validate=validate.OneOf(VIOLATION_TYPES)),
                                  validate=validate.Length(max=len(VIOLATION_TYPES)))

    @validates_schema
    def _ordered_times(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("occurred_from"), data.get("occurred_to")
        if start and end and end < start:
            raise ValidationError("occurred_to is before occurred_from.", "occurred_to")


class IncidentCreateSchema(_IncidentFields):
    reference = fields.String(required=True, validate=REFERENCE)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))


class IncidentUpdateSchema(_IncidentFields):
    pass


class IncidentSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    reference = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    occurred_from = fields.DateTime(allow_none=True)
    occurred_to = fields.DateTime(allow_none=True)
    time_precision = fields.String()
    location = fields.Nested(LocationSchema, allow_none=True)
    victim_count = fields.Integer(allow_none=True)
    violation_types = fields.List(fields.String())
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
