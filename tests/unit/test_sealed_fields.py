"""Sealed fields are declared once (issue #25): no model writes a sealed field's four columns out by hand."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from casework.db import Base
from casework.keys import SealedField, sealed_fields

ROOT = Path(__file__).resolve().parents[2] / "casework"
SEALED_COLUMN = re.compile(r".+_(ciphertext|nonce|wrapped_key|kek_id)")


def hand_made(base: type[DeclarativeBase]) -> list[str]:
    """Columns named like a sealed field's that no `SealedField` declaration made."""
    declared = {
        id(column)
        for mapper in base.registry.mappers
        for field in sealed_fields(mapper.class_)
        for column in field.columns
    }
    return sorted(
        f"{table.name}.{column.name}"
        for table in base.metadata.tables.values()
        for column in table.columns
        if SEALED_COLUMN.fullmatch(column.name) and id(column) not in declared
    )


def test_every_sealed_column_of_the_app_comes_from_its_declaration():
    for path in ROOT.rglob("*models.py"):  # every model module, so a new one cannot hide
        importlib.import_module(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
    fields = [field for mapper in Base.registry.mappers for field in sealed_fields(mapper.class_)]
    assert len(fields) >= 13  # the scan sees the app's models, so "none by hand" means something
    assert hand_made(Base) == []


class _Local(DeclarativeBase):
    pass


class _ByHand(_Local):
    __tablename__ = "by_hand"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    note_nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    note_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    note_kek_id: Mapped[str] = mapped_column(String(32), index=True)


class _Declared(_Local):
    __tablename__ = "declared"

    id: Mapped[int] = mapped_column(primary_key=True)
    sealed_note = SealedField("note", "notes", required=True)

    @sealed_note.context
    def note_context(self) -> bytes:
        return b"declared"


def test_the_scan_finds_a_group_written_by_hand_and_the_declaration_maps_the_same_columns():
    assert hand_made(_Local) == [
        "by_hand.note_ciphertext",
        "by_hand.note_kek_id",
        "by_hand.note_nonce",
        "by_hand.note_wrapped_key",
    ]

    def shape(table):
        return [(c.name, repr(c.type), c.nullable, c.index) for c in table.columns if c.name.startswith("note_")]

    assert shape(_Declared.__table__) == shape(_ByHand.__table__)
    assert _Declared.sealed_note.wrapped_key.key == "note_wrapped_key"
    row = _Declared(id=1)
    row.sealed_note.reserve()
    assert (row.note_ciphertext, row.note_nonce, row.note_kek_id, row.sealed_note.present) == (b"", b"", "", True)
    assert row.sealed_note.shredded and row.sealed_note.context() == b"declared"
