"""Places: a shared schema and model mixin for 'where' (incidents and interviews)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema


class LocationSchema(Schema):
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    latitude = fields.Float(load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(-90, 90))
    longitude = fields.Float(load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(-180, 180))
    precision_m = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(0, 20_000_000),
        metadata={"description": "Radius of uncertainty in metres."},
    )

    @validates_schema
    def _both_coordinates(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("Give both latitude and longitude, or neither.", "latitude")


class LocatedMixin:
    """Maps the nested ``location`` object onto flat, indexable columns."""

    location_name: Any
    latitude: Any
    longitude: Any
    location_precision_m: Any

    @property
    def location(self) -> dict[str, Any] | None:
        if self.location_name is None and self.latitude is None:
            return None
        return {
            "name": self.location_name,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "precision_m": self.location_precision_m,
        }

    @location.setter
    def location(self, value: dict[str, Any] | None) -> None:
        value = value or {}
        self.location_name = value.get("name")
        self.latitude = value.get("latitude")
        self.longitude = value.get("longitude")
        self.location_precision_m = value.get("precision_m")
