"""KEK rotation: rewrap every live data key under the current KEK, never touching ciphertext.

Rewrap works in small batches, each its own transaction, selecting only rows still under an
older KEK: interrupted, it resumes where it stopped; run beside live traffic, readers see
either the old wrap (old KEK still in the keyring) or the new one, both valid.

Records wrapped under a witness's subject key (``kek_id`` = ``"subject"``) are not under any
KEK: rotation leaves them alone, ``records_under`` never counts them, and a KEK can be retired
whatever they hold. ``status`` reports them on their own line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from casework.crypto.envelope import SUBJECT_KEK_ID, rewrap
from casework.db import Base, db
from casework.keys import SealedField, destroy_subject_key, has_subject_key, keyring, sealed_fields


def protected_fields() -> list[SealedField]:
    """Every encrypted field of every model, as the models declare them (`SealedField`).

    Read from the model registry, so this package needs no import of the domains above it.
    """
    mappers = sorted(Base.registry.mappers, key=lambda m: m.class_.__name__)
    return [field for mapper in mappers for field in sealed_fields(mapper.class_)]


def status() -> list[dict[str, Any]]:
    """How many records each KEK (or the subjects' keys, ``kek_id`` "subject") protects, and how many
    are shredded, per kind of record."""
    rows = []
    for field in protected_fields():
        counts: Counter[tuple[str, bool]] = Counter()
        statement = (
            select(field.kek_id, field.wrapped_key.is_(None), func.count())
            .where(field.ciphertext.is_not(None))
            .group_by(field.kek_id, field.wrapped_key.is_(None))
        )
        for kek_id, shredded, count in db.session.execute(statement):
            counts[(kek_id, bool(shredded))] += count
        for (kek_id, shredded), count in sorted(counts.items()):
            rows.append({"records": field.label, "kek_id": kek_id, "shredded": shredded, "count": count})
    return rows


def rewrap_all(batch_size: int = 500) -> dict[str, int]:
    """Rewrap every live record not under the current KEK; returns how many per kind."""
    target = keyring().current_kek_id()
    done: dict[str, int] = {}
    for field in protected_fields():
        done[field.label] = 0
        while True:
            statement = (
                select(field.model)
                .where(field.kek_id != target, field.kek_id != SUBJECT_KEK_ID, field.wrapped_key.is_not(None))
                .order_by(field.model.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
            rows = db.session.scalars(statement).all()
            if not rows:
                break
            for row in rows:
                sealed = field.on(row)
                sealed.store(rewrap(keyring(), sealed.envelope(), sealed.context(), to_kek_id=target))
            db.session.commit()
            done[field.label] += len(rows)
    return done


def records_under(kek_id: str) -> int:
    total = 0
    for field in protected_fields():
        total += (
            db.session.scalar(
                select(func.count())
                .select_from(field.model)
                .where(field.kek_id == kek_id, field.wrapped_key.is_not(None))
            )
            or 0
        )
    return total


@dataclass(frozen=True)
class ErasureReport:
    destroyed: list[Any]  # shredded subjects whose key was still in the keyring, now destroyed
    already_gone: int  # shredded subjects whose key was already destroyed
    missing: list[Any]  # live subjects (not shredded in the database) whose key the keyring lacks


def subject_owners() -> list[Any]:
    """Models whose rows own a subject key (``__subject_owner__``): today, witnesses."""
    return [
        m.class_
        for m in sorted(Base.registry.mappers, key=lambda m: m.class_.__name__)
        if getattr(m.class_, "__subject_owner__", False)
    ]


def reapply_erasures(batch_size: int = 500) -> ErasureReport:
    """Destroy again the subject key of every row the database records as shredded.

    For after a keyring restore: a keyring backup holds the keys of witnesses erased since it
    was taken. Also lists live rows whose key is missing (a database restored from before an
    erasure, or a keyring restored from before the witness existed): their sealed fields are
    unreadable either way.
    """
    destroyed: list[Any] = []
    missing: list[Any] = []
    already_gone = 0
    for model in subject_owners():
        last = None
        while True:
            statement = select(model).order_by(model.id).limit(batch_size)
            if last is not None:
                statement = statement.where(model.id > last)
            rows = db.session.scalars(statement).all()
            if not rows:
                break
            for row in rows:
                if row.shredded_at is not None:
                    if destroy_subject_key(row.key_subject()):
                        destroyed.append(row)
                    else:
                        already_gone += 1
                elif not has_subject_key(row.key_subject()):
                    missing.append(row)
            last = rows[-1].id
    return ErasureReport(destroyed, already_gone, missing)
