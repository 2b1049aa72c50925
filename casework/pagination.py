"""The one pagination scheme: keyset on an increasing integer key, with an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypedDict

from marshmallow import Schema, fields, validate
from sqlalchemy import Select

from casework.db import db
from casework.errors import Invalid
from casework.http import MAX_SEQ

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))


def page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    """A response schema ``{items: [item], next_cursor}`` for OpenAPI and serialisation."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        },
        name=name,
    )


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k1:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "k1":
            raise ValueError
        key = int(value)
        if key < 0 or key > MAX_SEQ:
            raise ValueError
        return key
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid("The cursor is not valid.", errors={"query": {"cursor": ["Invalid cursor."]}}) from None


class Page(TypedDict):
    items: list[Any]
    next_cursor: str | None


def keyset_page(statement: Select, key_column: Any, args: dict[str, Any]) -> Page:
    """Run ``statement`` ordered by ``key_column`` after the cursor: one page and the next cursor."""
    limit = args.get("limit", DEFAULT_LIMIT)
    if args.get("cursor"):
        statement = statement.where(key_column > decode_cursor(args["cursor"]))
    rows = list(db.session.scalars(statement.order_by(key_column).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(_key_of(rows[-1], key_column))
    return {"items": rows, "next_cursor": next_cursor}


def _key_of(row: Any, key_column: Any) -> int:
    return int(getattr(row, key_column.key))
