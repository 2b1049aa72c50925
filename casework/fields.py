"""Serialization helpers shared by every domain's schemas: custom fields for odd types,
``Extended`` for dumping an object together with a few values computed for this answer, and
``FreeTextSchema`` for identifying free text that only some callers may read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields
from marshmallow.schema import SchemaMeta


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


# -- identifying free text ------------------------------------------------------------------------


class _Withheld:
    """The value of identifying free text the caller may not read (see ``FreeTextSchema``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "WITHHELD"


WITHHELD: Any = _Withheld()


class _FreeText:
    """Identifying free text: dumped as it is, or as null where its value is ``WITHHELD``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is WITHHELD:
            return None
        return super()._serialize(value, attr, obj, **kwargs)  # type: ignore[misc]


class FreeText(_FreeText, fields.String):
    """A string that could identify a witness (a file name, a reason, an interpreter)."""


class FreeTextList(_FreeText, fields.List):
    """A list of strings that could identify a witness (the people present)."""


class WithheldFlag(fields.Boolean):
    """``<name>_withheld``: true when ``<name>`` has a value this caller may not read."""

    def __init__(self, of: str, *, attribute: str | None = None) -> None:
        super().__init__(
            attribute=attribute or of,
            dump_only=True,
            metadata={
                "description": f"true when {of} has a value that is not shown to you: only those who may read the "
                "witness's content see it"
            },
        )

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> bool:
        return value is WITHHELD


class _FreeTextSchemaMeta(SchemaMeta):
    @classmethod
    def get_declared_fields(
        cls,
        klass: SchemaMeta,
        cls_fields: list[tuple[str, fields.Field]],
        inherited_fields: list[tuple[str, fields.Field]],
        dict_cls: type[dict] = dict,
    ) -> dict[str, fields.Field]:
        declared = super().get_declared_fields(klass, cls_fields, inherited_fields, dict_cls)
        shaped = dict_cls()
        for name, field in declared.items():
            if name.endswith("_withheld") and isinstance(field, WithheldFlag):
                continue  # placed again beside its field below
            shaped[name] = field
            if isinstance(field, _FreeText):
                shaped[f"{name}_withheld"] = WithheldFlag(name, attribute=field.attribute or name)
        return shaped


class FreeTextSchema(Schema, metaclass=_FreeTextSchemaMeta):
    """A schema with identifying free text: each ``FreeText``/``FreeTextList`` field ``name`` is
    followed by ``name_withheld``. Services pass ``WITHHELD`` for a value the caller may not read;
    it is dumped as ``"name": null, "name_withheld": true``. A value the caller may read, or one
    that is absent or destroyed with the witness's key, has ``name_withheld`` false."""
