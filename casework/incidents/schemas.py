from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casework.fields import UTCDateTime
from casework.geo import LocationSchema
from casework.pagination import PageArgs

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

# Examples: one incident of the case, as an investigator records it.
REFERENCE_EXAMPLE = "KHA-2022-0417"
TITLE_EXAMPLE = "Shelling of the Heroiv Pratsi Street market, Saltivka"
DESCRIPTION_EXAMPLE = (
    "Three shells struck the covered market and the bread queue outside it at about 07:40; "
    "several witnesses describe the same three impacts within a minute."
)
OCCURRED_FROM_EXAMPLE = "2022-03-03T07:30:00Z"
OCCURRED_TO_EXAMPLE = "2022-03-03T08:00:00Z"
# A place, for incidents and interviews alike (casework.geo.LocationSchema).
LOCATION_EXAMPLE = {
    "name": "Heroiv Pratsi Street market, Saltivka, Kharkiv",
    "latitude": 50.0271,
    "longitude": 36.3365,
    "precision_m": 150,
}
VIOLATION_TYPES_EXAMPLE = ["attack-on-civilians", "indiscriminate-attack"]


class _IncidentFields(Schema):
    reference = fields.String(validate=REFERENCE, metadata={"example": REFERENCE_EXAMPLE})
    title = fields.String(validate=validate.Length(min=1, max=300), metadata={"example": TITLE_EXAMPLE})
    description = fields.String(
        allow_none=True, validate=validate.Length(max=50000), metadata={"example": DESCRIPTION_EXAMPLE}
    )
    occurred_from = UTCDateTime(allow_none=True, metadata={"example": OCCURRED_FROM_EXAMPLE})
    occurred_to = UTCDateTime(allow_none=True, metadata={"example": OCCURRED_TO_EXAMPLE})
    time_precision = fields.String(
        validate=validate.OneOf(TIME_PRECISIONS),
        metadata={"description": "How precisely occurred_from/occurred_to are known.", "example": "minute"},
    )
    location = fields.Nested(LocationSchema, allow_none=True, metadata={"example": LOCATION_EXAMPLE})
    victim_count = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, 10_000_000), metadata={"example": 7}
    )
    violation_types = fields.List(
        fields.String(validate=validate.OneOf(VIOLATION_TYPES)),
        validate=validate.Length(max=len(VIOLATION_TYPES)),
        metadata={"example": VIOLATION_TYPES_EXAMPLE},
    )

    @validates_schema
    def _ordered_times(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("occurred_from"), data.get("occurred_to")
        if start and end and end < start:
            raise ValidationError("occurred_to is before occurred_from.", "occurred_to")


class IncidentCreateSchema(_IncidentFields):
    reference = fields.String(required=True, validate=REFERENCE, metadata={"example": REFERENCE_EXAMPLE})
    title = fields.String(required=True, validate=validate.Length(min=1, max=300), metadata={"example": TITLE_EXAMPLE})


class IncidentUpdateSchema(_IncidentFields):
    pass


class IncidentFilterArgs(PageArgs):
    """Search filters of an incident listing; several narrow it together. Reference and title are
    plain columns (nothing of an incident is sealed), so the search runs in SQL."""

    q = fields.String(
        validate=validate.Length(min=1, max=300),
        metadata={
            "description": "Incidents whose reference or title contains this text, letters' case ignored (e.g. market)."
        },
    )
    violation_type = fields.String(
        validate=validate.OneOf(VIOLATION_TYPES),
        metadata={
            "description": "Incidents with this violation code among their violation_types (e.g. attack-on-civilians)."
        },
    )
    occurred_after = UTCDateTime(
        metadata={
            "description": "Incidents that began (occurred_from) at or after this time (e.g. 2022-03-01T00:00:00Z); "
            "those of unknown time are left out."
        }
    )
    occurred_before = UTCDateTime(
        metadata={"description": "Incidents that began (occurred_from) before this time (e.g. 2022-04-01T00:00:00Z)."}
    )


class IncidentSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    reference = fields.String(metadata={"example": REFERENCE_EXAMPLE})
    title = fields.String(metadata={"example": TITLE_EXAMPLE})
    description = fields.String(allow_none=True, metadata={"example": DESCRIPTION_EXAMPLE})
    occurred_from = fields.DateTime(allow_none=True, metadata={"example": OCCURRED_FROM_EXAMPLE})
    occurred_to = fields.DateTime(allow_none=True, metadata={"example": OCCURRED_TO_EXAMPLE})
    time_precision = fields.String(metadata={"example": "minute"})
    location = fields.Nested(LocationSchema, allow_none=True, metadata={"example": LOCATION_EXAMPLE})
    victim_count = fields.Integer(allow_none=True, metadata={"example": 7})
    violation_types = fields.List(fields.String(), metadata={"example": VIOLATION_TYPES_EXAMPLE})
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
