"""Serialization helpers shared by every domain's schemas: custom fields for odd types, and
``Extended`` for dumping an object together with a few values computed for this answer."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import fields


class HexBytes(fields.Field):
    """Bytes (hashes, leaf hashes) as lower-case hex in JSON."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else bytes(value).hex()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        try:
            return bytes.fromhex(value)
        except (TypeError, ValueError):
            raise self.make_error("invalid") from None

    default_error_messages = {"invalid": "Not a hex string."}


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 date-time with an offset, loaded as UTC.

    Every stored time is UTC; one whose UTC instant falls outside years 1-9999 (e.g.
    ``9999-12-31T23:00:00-14:00``) cannot be stored or compared, so it is invalid input here.
    """

    default_error_messages = {"out_of_range": "The time in UTC is outside years 1 to 9999."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None


class Extended:
    """An object seen with a few more attributes (a secret shown once, decrypted text), so a
    schema can dump both without a hand-built dict."""

    __slots__ = ("_base", "_extra")

    def __init__(self, base: Any, **extra: Any) -> None:
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_extra", extra)

    def __getattr__(self, name: str) -> Any:
        extra = object.__getattribute__(self, "_extra")
        if name in extra:
            return extra[name]
        return getattr(object.__getattribute__(self, "_base"), name)
