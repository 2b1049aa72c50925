"""per-witness keys in the keyring provider; witness-linked free text sealed; keyed content hashes

Revision ID: 0006_witness_keys
Revises: 0005_auth_hardening

Schema:
  * witnesses: hashkey_{ciphertext,nonce,wrapped_key,kek_id} (the witness's random HMAC key,
    sealed under the witness's subject key);
  * transcript_versions: keyed_sha256 (HMAC-SHA256 of the content under that key) and
    freetext_{...} (file name and correction reason, sealed); the plaintext columns filename,
    reason and sha256 are dropped;
  * interviews: freetext_{...} (interpreter and others present, sealed); the plaintext columns
    interpreter and others_present are dropped.

Data (needs the app's keyring, so run it with ``flask db upgrade``; an empty database needs none):
  * every witness not shredded gets its subject key ``witness:<id>`` in the keyring provider and
    a hash key; the data keys of their identity and transcript versions are moved from the KEK
    to the subject key (ciphertext untouched), their file names, reasons, interpreters and
    others present are sealed under it, keyed_sha256 and the idempotency fingerprint are
    computed (keyed) from the decrypted content, and the stored receipts lose their plain sha256;
  * for a witness already shredded, the plaintext free text is dropped with its columns (it is
    erased as the withdrawal now requires), and no keyed hash can be computed (NULL).
Dropped columns leave their old bytes in free pages until the database reuses them: run
``VACUUM`` (SQLite) or ``VACUUM FULL`` on these tables (PostgreSQL) afterwards.

The downgrade moves data keys back under the current KEK, decrypts the free text back into
plaintext columns and recomputes sha256 where the witness's key still exists (32 zero bytes for
shredded versions, whose hash is gone), and leaves the subject keys in the keyring.
"""
import hashlib
import hmac
import json
import logging
import os

import sqlalchemy as sa
from alembic import op

from migrations.frozen.envelope_0006 import (
    DecryptionError,
    KeyDestroyedError,
    Sealed,
    UnknownKeyError,
    bind,
    open_sealed,
    seal,
    to_kek,
    to_subject,
)

revision = "0006_witness_keys"
down_revision = "0005_auth_hardening"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

SEALED = ("ciphertext", "nonce", "wrapped_key", "kek_id")
BATCH = 500
FINGERPRINT_LABEL = b"casework/upload-fingerprint/v1\n"  # as casework.transcripts.service._fingerprint


def _sealed_columns(prefix):
    return [
        sa.Column(f"{prefix}ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column(f"{prefix}nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column(f"{prefix}wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column(f"{prefix}kek_id", sa.String(length=32), nullable=True),
    ]


def _sealed_table_columns(prefix):
    return [sa.column(f"{prefix}{name}") for name in SEALED]


def _witnesses():
    return sa.table("witnesses", sa.column("id"), sa.column("case_id"), sa.column("shredded_at"),
                    *_sealed_table_columns("identity_"), *_sealed_table_columns("hashkey_"))


def _transcripts(*plain):
    return sa.table("transcript_versions", sa.column("id"), sa.column("interview_id"), sa.column("case_id"),
                    sa.column("witness_id"), sa.column("version"), sa.column("media_type"),
                    sa.column("keyed_sha256"), sa.column("request_fingerprint"), sa.column("receipt", sa.JSON),
                    *_sealed_table_columns("content_"), *_sealed_table_columns("freetext_"), *plain)


def _interviews(*plain):
    return sa.table("interviews", sa.column("id"), sa.column("case_id"), sa.column("witness_id"),
                    *_sealed_table_columns("freetext_"), *plain)


# The contexts and subject names the models bind (casework.*.models); frozen here as of 0006.
def _subject(witness_id):
    return f"witness:{witness_id}"


def _identity_context(row):
    return bind("witness_identity", row.id, parents={"case": row.case_id})


def _hashkey_context(row):
    return bind("witness_hash_key", row.id, parents={"case": row.case_id})


def _content_context(row):
    return bind("transcript_version", f"{row.interview_id}/{row.version}",
                parents={"case": row.case_id, "interview": row.interview_id, "witness": row.witness_id},
                version=row.version)


def _transcript_freetext_context(row):
    return bind("transcript_free_text", f"{row.interview_id}/{row.version}",
                parents={"case": row.case_id, "interview": row.interview_id, "witness": row.witness_id},
                version=row.version)


def _interview_freetext_context(row):
    return bind("interview_free_text", row.id, parents={"case": row.case_id, "witness": row.witness_id})


def _sealed(row, prefix):
    return Sealed(*(getattr(row, f"{prefix}{name}") for name in SEALED))


def _values(prefix, sealed):
    return {f"{prefix}{name}": getattr(sealed, name) for name in SEALED}


def _batches(conn, table):
    last = None
    while True:
        statement = sa.select(table).order_by(table.c.id).limit(BATCH)
        if last is not None:
            statement = statement.where(table.c.id > last)
        rows = conn.execute(statement).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _has_rows(conn, *tables):
    return any(conn.execute(sa.select(sa.literal(1)).select_from(sa.table(t)).limit(1)).first() for t in tables)


def _provider():
    from flask import current_app

    try:
        return current_app.extensions["casework.keyring"]
    except (RuntimeError, KeyError):
        raise RuntimeError(
            "0006_witness_keys seals existing witness data under per-witness keys in the keyring: "
            "run it with the application's keyring configured (flask --app wsgi db upgrade)"
        ) from None


def _fingerprint(key, content, media_type, reason, filename):
    parts = (content, media_type.encode(), (reason or "").encode(), (filename or "").encode())
    return hmac.new(key, FINGERPRINT_LABEL + b"".join(hashlib.sha256(p).digest() for p in parts),
                    hashlib.sha256).digest()


def _without_sha256(receipt):
    if isinstance(receipt, dict) and "sha256" in receipt:
        return {k: v for k, v in receipt.items() if k != "sha256"}
    return receipt


def upgrade():
    with op.batch_alter_table("witnesses", schema=None) as batch_op:
        for column in _sealed_columns("hashkey_"):
            batch_op.add_column(column)
        batch_op.create_index(batch_op.f("ix_witnesses_hashkey_kek_id"), ["hashkey_kek_id"], unique=False)
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keyed_sha256", sa.LargeBinary(length=32), nullable=True))
        for column in _sealed_columns("freetext_"):
            batch_op.add_column(column)
        batch_op.create_index(batch_op.f("ix_transcript_versions_freetext_kek_id"), ["freetext_kek_id"],
                              unique=False)
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        for column in _sealed_columns("freetext_"):
            batch_op.add_column(column)
        batch_op.create_index(batch_op.f("ix_interviews_freetext_kek_id"), ["freetext_kek_id"], unique=False)

    conn = op.get_bind()
    if _has_rows(conn, "witnesses", "transcript_versions", "interviews"):
        _seal_existing(conn, _provider())

    # Native ALTER TABLE ... DROP COLUMN (SQLite 3.35+ as well): recreating these tables on SQLite
    # would drop a table other rows reference while foreign keys are enforced.
    with op.batch_alter_table("transcript_versions", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("filename")
        batch_op.drop_column("reason")
        batch_op.drop_column("sha256")
    with op.batch_alter_table("interviews", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("interpreter")
        batch_op.drop_column("others_present")


def _seal_existing(conn, provider):
    witnesses = _witnesses()
    hash_keys = {}
    shredded = 0
    for rows in _batches(conn, witnesses):
        for row in rows:
            if row.shredded_at is not None:
                shredded += 1
                continue
            subject = _subject(row.id)
            provider.create_subject_key(subject)
            key = os.urandom(32)
            values = _values("hashkey_", seal(provider, key, _hashkey_context(row), subject=subject))
            if row.identity_ciphertext is not None and row.identity_wrapped_key is not None:
                try:
                    moved = to_subject(provider, _sealed(row, "identity_"), _identity_context(row), subject)
                    values.update(_values("identity_", moved))
                except (DecryptionError, KeyDestroyedError, UnknownKeyError) as exc:
                    log.critical("witness %s: identity left as it was, it does not open: %s", row.id, exc)
            conn.execute(sa.update(witnesses).where(witnesses.c.id == row.id).values(**values))
            hash_keys[row.id] = key

    transcripts = _transcripts(sa.column("filename"), sa.column("reason"), sa.column("sha256"))
    erased = 0
    for rows in _batches(conn, transcripts):
        for row in rows:
            values = {"receipt": _without_sha256(row.receipt), "request_fingerprint": None}
            key = hash_keys.get(row.witness_id)
            if key is None:
                erased += row.filename is not None or row.reason is not None
            else:
                subject = _subject(row.witness_id)
                if row.content_wrapped_key is not None:
                    context = _content_context(row)
                    try:
                        content = open_sealed(provider, _sealed(row, "content_"), context, subject=subject)
                        if not hmac.compare_digest(hashlib.sha256(content).digest(), row.sha256):
                            raise DecryptionError("content does not match its sha256")
                        moved = to_subject(provider, _sealed(row, "content_"), context, subject)
                    except (DecryptionError, KeyDestroyedError, UnknownKeyError) as exc:
                        log.critical("transcript version %s: content left as it was, it does not open: %s",
                                     row.id, exc)
                    else:
                        values.update(_values("content_", moved))
                        values["keyed_sha256"] = hmac.new(key, content, hashlib.sha256).digest()
                        if row.request_fingerprint is not None:
                            values["request_fingerprint"] = _fingerprint(key, content, row.media_type, row.reason,
                                                                         row.filename)
                if row.filename is not None or row.reason is not None:
                    text = json.dumps({"filename": row.filename, "reason": row.reason}).encode()
                    values.update(_values("freetext_", seal(provider, text, _transcript_freetext_context(row),
                                                            subject=subject)))
            conn.execute(sa.update(transcripts).where(transcripts.c.id == row.id).values(**values))

    interviews = _interviews(sa.column("interpreter"), sa.column("others_present", sa.JSON))
    for rows in _batches(conn, interviews):
        for row in rows:
            if not row.interpreter and not row.others_present:
                continue
            if row.witness_id not in hash_keys:
                erased += 1
                continue
            text = json.dumps({"interpreter": row.interpreter, "others_present": row.others_present or []},
                              sort_keys=True).encode()
            sealed = seal(provider, text, _interview_freetext_context(row), subject=_subject(row.witness_id))
            conn.execute(sa.update(interviews).where(interviews.c.id == row.id)
                         .values(**_values("freetext_", sealed)))
    log.info("0006_witness_keys: %d witnesses now have their own key; %d already shredded, whose free text "
             "in %d rows was erased with its plaintext columns", len(hash_keys), shredded, erased)


def downgrade():
    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("filename", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=2000), nullable=True))
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interpreter", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("others_present", sa.JSON(), nullable=True))

    conn = op.get_bind()
    if _has_rows(conn, "witnesses", "transcript_versions", "interviews"):
        _unseal_existing(conn, _provider())
    else:
        conn.execute(sa.update(sa.table("interviews", sa.column("others_present", sa.JSON)))
                     .values(others_present=[]))

    with op.batch_alter_table("transcript_versions", schema=None) as batch_op:
        batch_op.alter_column("sha256", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.drop_index(batch_op.f("ix_transcript_versions_freetext_kek_id"))
        for name in ("keyed_sha256", *(f"freetext_{n}" for n in SEALED)):
            batch_op.drop_column(name)
    # SQLite: interviews is referenced by other tables, so it is altered in place (no recreate):
    # others_present stays nullable there, filled on every row.
    recreate = "never" if conn.dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("interviews", schema=None, recreate=recreate) as batch_op:
        if conn.dialect.name != "sqlite":
            batch_op.alter_column("others_present", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_index(batch_op.f("ix_interviews_freetext_kek_id"))
        for name in SEALED:
            batch_op.drop_column(f"freetext_{name}")
    with op.batch_alter_table("witnesses", schema=None, recreate=recreate) as batch_op:
        batch_op.drop_index(batch_op.f("ix_witnesses_hashkey_kek_id"))
        for name in SEALED:
            batch_op.drop_column(f"hashkey_{name}")


def _open_or_none(provider, sealed, context, subject):
    if sealed.ciphertext is None or sealed.wrapped_key is None:
        return None
    try:
        return open_sealed(provider, sealed, context, subject=subject)
    except (DecryptionError, KeyDestroyedError, UnknownKeyError):
        return None


def _back_to_kek(provider, row, prefix, context, subject):
    """The field's columns under the current KEK, or without its wrapped key if it cannot be opened."""
    sealed = _sealed(row, prefix)
    if sealed.ciphertext is None or sealed.wrapped_key is None or sealed.kek_id != "subject":
        return {}
    try:
        return _values(prefix, to_kek(provider, sealed, context, subject))
    except (DecryptionError, KeyDestroyedError, UnknownKeyError):
        return {f"{prefix}wrapped_key": None}  # shredded: what the old code shows as shredded


def _unseal_existing(conn, provider):
    witnesses = _witnesses()
    for rows in _batches(conn, witnesses):
        for row in rows:
            subject = _subject(row.id)
            values = _back_to_kek(provider, row, "identity_", _identity_context(row), subject)
            if values:
                conn.execute(sa.update(witnesses).where(witnesses.c.id == row.id).values(**values))

    transcripts = _transcripts(sa.column("filename"), sa.column("reason"), sa.column("sha256"))
    for rows in _batches(conn, transcripts):
        for row in rows:
            subject = _subject(row.witness_id)
            context = _content_context(row)
            content = _open_or_none(provider, _sealed(row, "content_"), context, subject)
            values = _back_to_kek(provider, row, "content_", context, subject)
            text = _open_or_none(provider, _sealed(row, "freetext_"), _transcript_freetext_context(row), subject)
            found = json.loads(text) if text is not None else {}
            values.update(filename=found.get("filename"), reason=found.get("reason"), request_fingerprint=None)
            if content is not None:
                digest = hashlib.sha256(content).digest()
                values["sha256"] = digest
                receipt = row.receipt
                if isinstance(receipt, dict) and "signature" in receipt:
                    values["receipt"] = {**receipt, "sha256": digest.hex()}
                parts = (content, row.media_type.encode(), (found.get("reason") or "").encode(),
                         (found.get("filename") or "").encode())
                h = hashlib.sha256()
                for part in parts:
                    h.update(hashlib.sha256(part).digest())
                values["request_fingerprint"] = h.digest()  # the plain fingerprint of 0002-0005
            else:
                values["sha256"] = bytes(32)  # unknown: shredded before it could be recomputed
            conn.execute(sa.update(transcripts).where(transcripts.c.id == row.id).values(**values))

    interviews = _interviews(sa.column("interpreter"), sa.column("others_present", sa.JSON))
    for rows in _batches(conn, interviews):
        for row in rows:
            text = _open_or_none(provider, _sealed(row, "freetext_"), _interview_freetext_context(row),
                                 _subject(row.witness_id))
            found = json.loads(text) if text is not None else {}
            conn.execute(sa.update(interviews).where(interviews.c.id == row.id).values(
                interpreter=found.get("interpreter"), others_present=found.get("others_present") or []))
