"""Seed a realistic volume fast: N custody events and M encrypted transcript versions.

    python -m bench.seed --events 1000000 --transcripts 100000

Data goes in through PostgreSQL COPY, but is made by the app's own code: every transcript
is sealed by ``TranscriptVersion.sealed_content`` (fresh data key, AES-256-GCM, row-bound AAD) and
every event is a real leaf of leaf form v2 (its own 32-byte salt, and
``leaf.leaf_hash(leaf.make_entry(None, time, event, salt))``, as ``NewEvent.seal`` makes it)
whose perfect-subtree nodes come from ``merkle.CompactRange``; the offline verifier and the
signer's recomputation (``custody.publication.recompute``) must accept the result.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy import text

from bench.common import (
    BENCH_DB,
    GROWTH_KEYRING,
    GROWTH_PREFIX,
    PG_SERVER,
    admin_connection,
    bench_app,
    growth_app,
    growth_db,
    recreate_database,
)
from casework_verify.leaf import SALT_BYTES  # leaf form v2: every event has its own salt

OUT = Path(__file__).resolve().parent / "out"
EVENT_COLUMNS = (
    "seq",
    "recorded_at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "case_id",
    "witness_id",
    "request_id",
    "client_addr",
    "details",
    "salt",
    "leaf_hash",
)
SENTENCE = (
    "At dawn the soldiers took the prisoners from the school to the quarry. I counted seven. "
    "They were made to kneel by the wall. I heard shots and then nothing. "
)


@dataclass
class _Population:
    """What the seeders need of the objects made through the app (plain values: ORM attribute
    access would query on the connection doing COPY)."""

    tokens: dict[str, str]
    case_id: int
    interviewer_id: int
    actors: dict[str, list[Any]]  # role -> [id, username, role]
    interviews: list[tuple[int, int]]  # (interview id, witness id)
    hash_keys: dict[int, bytes]


def _population(title: str, witnesses: int, interviews: int, *, token_days: int, conducted_at: datetime) -> _Population:
    """Users with tokens, a case, witnesses with their own keys and hash keys (as
    witnesses.service.create_witness makes them) and interviews, committed; in an app context."""
    from casework.access.models import CaseMember
    from casework.auth.service import issue_token
    from casework.cases.models import Case
    from casework.db import db
    from casework.interviews.models import Interview
    from casework.keys import create_subject_key
    from casework.users.service import new_user
    from casework.witnesses.models import Witness

    people = {
        role: new_user(f"bench-{role}", "bench password long", role)
        for role in ("admin", "interviewer", "legal", "auditor")
    }
    tokens = {role: issue_token(user, "bench", token_days)[1] for role, user in people.items()}
    case = Case(title=title, created_by_id=people["admin"].id)
    db.session.add(case)
    db.session.flush()
    for role in ("interviewer", "legal"):
        db.session.add(CaseMember(case_id=case.id, user_id=people[role].id, added_by_id=people["admin"].id))
    witness_rows = [
        Witness(
            case_id=case.id,
            pseudonym=f"W-{n + 1:04d}",
            witness_type="eyewitness",
            risk_level="high",
            recorded_by_id=people["interviewer"].id,
        )
        for n in range(witnesses)
    ]
    db.session.add_all(witness_rows)
    db.session.flush()
    hash_keys: dict[int, bytes] = {}
    for witness in witness_rows:
        create_subject_key(witness.key_subject())
        hash_keys[witness.id] = os.urandom(32)
        witness.sealed_hashkey.seal(hash_keys[witness.id])
    interview_rows = [
        Interview(
            case_id=case.id,
            witness_id=witness_rows[n % witnesses].id,
            interviewer_id=people["interviewer"].id,
            language="uk",
            conducted_at=conducted_at,
        )
        for n in range(interviews)
    ]
    db.session.add_all(interview_rows)
    db.session.flush()
    made = _Population(
        tokens,
        case.id,
        people["interviewer"].id,
        {role: [people[role].id, people[role].username, role] for role in people},
        [(i.id, i.witness_id) for i in interview_rows],
        hash_keys,
    )
    db.session.commit()
    return made


def seed(events: int, transcripts: int, witnesses: int = 500, interviews: int = 2000) -> dict:
    from flask_migrate import upgrade

    from casework.custody.log import NewEvent
    from casework.db import db
    from casework.keys import keyed_sha256
    from casework.transcripts.models import TranscriptVersion
    from casework_verify import leaf, merkle

    assert events >= transcripts, "every transcript needs its transcript.create event"
    timings: dict[str, float] = {}
    start = time.perf_counter()
    recreate_database()
    app = bench_app()
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        made = _population(
            "Bench case", witnesses, interviews, token_days=30, conducted_at=datetime(2026, 3, 1, tzinfo=UTC)
        )
        tokens, hash_keys, interview_rows = made.tokens, made.hash_keys, made.interviews
        case_id, interviewer_id, actors = made.case_id, made.interviewer_id, made.actors
        timings["objects_s"] = time.perf_counter() - start

        # Transcript versions, sealed by the app's own envelope code.
        t0 = time.perf_counter()
        version_of: dict[int, int] = {}
        transcript_rows = []
        # COPY on a connection of its own: sealing reads through the session (whether the
        # witness's key is suspended by a pending erasure), which must not wait behind the COPY.
        conn = psycopg.connect(f"{PG_SERVER}/{BENCH_DB}")
        columns = (
            "id",
            "interview_id",
            "case_id",
            "witness_id",
            "version",
            "media_type",
            "size",
            "keyed_sha256",
            "content_ciphertext",
            "content_nonce",
            "content_wrapped_key",
            "content_kek_id",
            "freetext_ciphertext",
            "freetext_nonce",
            "freetext_wrapped_key",
            "freetext_kek_id",
            "created_by_id",
            "created_at",
            "receipt",
        )
        now = datetime(2026, 4, 1, tzinfo=UTC)
        with conn.cursor().copy(f"COPY transcript_versions ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(transcripts):
                interview_id, witness_id = interview_rows[n % interviews]
                number = version_of[interview_id] = version_of.get(interview_id, 0) + 1
                content = (f"Statement {n}. " + SENTENCE * 8).encode()
                row = TranscriptVersion(
                    id=n + 1, interview_id=interview_id, case_id=case_id, witness_id=witness_id, version=number
                )
                row.sealed_content.seal(content)
                if number > 1:
                    row.sealed_freetext.seal(json.dumps({"filename": None, "reason": "correction"}).encode())
                copy.write_row(
                    (
                        n + 1,
                        interview_id,
                        case_id,
                        witness_id,
                        number,
                        "text/plain; charset=utf-8",
                        len(content),
                        keyed_sha256(hash_keys[witness_id], content),
                        row.content_ciphertext,
                        row.content_nonce,
                        row.content_wrapped_key,
                        row.content_kek_id,
                        row.freetext_ciphertext,
                        row.freetext_nonce,
                        row.freetext_wrapped_key,
                        row.freetext_kek_id,
                        interviewer_id,
                        now,
                        "{}",
                    )
                )
                transcript_rows.append((n + 1, interview_id, witness_id, number))
        conn.execute("SELECT setval(pg_get_serial_sequence('transcript_versions', 'id'), %s)", (max(transcripts, 1),))
        timings["transcripts_s"] = time.perf_counter() - t0

        # Custody events: one transcript.create per transcript, interleaved with reads.
        t0 = time.perf_counter()
        frontier = merkle.CompactRange()
        base = datetime(2026, 4, 1, tzinfo=UTC)
        every = max(1, events // max(transcripts, 1))
        created = 0
        # One COPY per connection at a time: the tree nodes stream through a second connection.
        nodes_conn = psycopg.connect(f"{PG_SERVER}/{BENCH_DB}")
        with (
            conn.cursor().copy(f"COPY custody_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as events_copy,
            nodes_conn.cursor().copy("COPY custody_nodes (level, idx, hash) FROM STDIN") as nodes_copy,
        ):
            for seq in range(events):
                when = base + timedelta(milliseconds=seq)
                if created < transcripts and (seq % every == 0 or events - seq <= transcripts - created):
                    tid, interview_id, witness_id, number = transcript_rows[created]
                    created += 1
                    actor, action, details = actors["interviewer"], "transcript.create", {"version": number}
                elif seq % 7 == 0:
                    tid, interview_id, witness_id, number = (
                        transcript_rows[rng.randrange(max(created, 1))] if created else (None, None, None, None)
                    )
                    actor, action, details = actors["legal"], "interview.read", {}
                    tid = interview_id
                else:
                    tid, interview_id, witness_id, number = (
                        transcript_rows[rng.randrange(max(created, 1))] if created else (None, None, None, None)
                    )
                    actor, action, details = actors["legal"], "transcript.read", {"version": number}
                resource_type = "interview" if action == "interview.read" else "transcript"
                event = NewEvent(
                    action,
                    "allowed",
                    actor[0],
                    actor[1],
                    actor[2],
                    resource_type,
                    None if tid is None else str(tid),
                    case_id,
                    witness_id,
                    f"{seq:032x}",
                    "127.0.0.1",
                    details,
                )
                salt = rng.randbytes(SALT_BYTES)
                leaf_hash = leaf.leaf_hash(leaf.make_entry(None, when, event, salt))
                events_copy.write_row(
                    (
                        seq,
                        when,
                        actor[0],
                        actor[1],
                        actor[2],
                        action,
                        "allowed",
                        resource_type,
                        event.resource_id,
                        case_id,
                        witness_id,
                        event.request_id,
                        "127.0.0.1",
                        orjson.dumps(details).decode(),
                        salt,
                        leaf_hash,
                    )
                )
                for level, index, value in frontier.append(leaf_hash):
                    nodes_copy.write_row((level, index, value))
        nodes_conn.commit()
        nodes_conn.close()
        conn.execute(
            "UPDATE custody_head SET tree_size = %s, frontier = %s WHERE id = 1", (frontier.size, frontier.to_bytes())
        )
        conn.commit()
        conn.close()
        db.session.commit()
        timings["events_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # Through the session, committed: a transaction left open (as it once was on the session's
        # raw connection, which the pool took back) kept its statistics from the planner, its locks
        # on every table (so the app's own intake VACUUM was skipped) and its xid in everyone's
        # snapshot (so no dead row anywhere could be pruned) for the whole run.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        timings["analyze_s"] = time.perf_counter() - t0
        sample = transcript_rows[len(transcript_rows) // 2]
        info = {
            "events": events,
            "transcripts": transcripts,
            "interviews": interviews,
            "tokens": tokens,
            "case_id": case_id,
            "sample_transcript": {
                "id": sample[0],
                "interview_id": sample[1],
                "witness_id": sample[2],
                "version": sample[3],
            },
            "timings": timings,
            "total_s": time.perf_counter() - start,
        }
    OUT.mkdir(exist_ok=True)
    (OUT / "seed.json").write_text(json.dumps(info, indent=2))
    return info


# --- the growth log: one database per size, grown incrementally ---------------------------

# Bump when the generated events change: older growth databases are rebuilt. 2: leaf form v2
# (a salt per event, the leaf hash without seq, identifying values committed).
GROWTH_VERSION = 2
GROWTH_TRANSCRIPTS = 10_000
GROWTH_BASE = datetime(2025, 1, 1, tzinfo=UTC)  # one event a second: 10M events end in April 2025
WORK = "work"
CHUNK = 1_000_000  # events per committed COPY


def schema_fingerprint() -> str:
    """The models' schema (tables, columns, types, indexes): a growth database built under
    another schema is rebuilt rather than measured with tables the app now expects missing."""
    import hashlib

    from casework.db import db

    bench_app()  # imports every model
    parts = []
    for table in db.metadata.sorted_tables:
        parts.append(table.name)
        parts += [f"  {c.name} {c.type!r} {c.nullable}" for c in table.columns]
        parts += sorted(f"  index {i.name} {[c.name for c in i.columns]}" for i in table.indexes)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _databases() -> dict[str, dict]:
    """Growth databases that exist, with the seed info kept in their comment."""
    with admin_connection() as conn:
        rows = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
            (GROWTH_PREFIX + "_%",),
        ).fetchall()
    found = {}
    schema = schema_fingerprint()
    for name, comment in rows:
        try:
            info = json.loads(comment or "")
        except ValueError:
            continue
        if isinstance(info, dict) and info.get("version") == GROWTH_VERSION and info.get("schema") == schema:
            found[name] = info
    return found


def _set_info(dbname: str, info: dict) -> None:
    with admin_connection() as conn:
        conn.execute(f'COMMENT ON DATABASE "{dbname}" IS ' + "'" + json.dumps(info).replace("'", "''") + "'")


def _copy_database(source: str, target: str, info: dict) -> None:
    """A snapshot by file copy (PostgreSQL 15's default WAL_LOG strategy would log every block)."""
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY = FILE_COPY')
    _set_info(target, info)
    _forget_signed(target)


def _forget_signed(dbname: str) -> None:
    """A new database is a new log: its signer must not remember what an older one signed."""
    state = f"{GROWTH_KEYRING}.{dbname}.signer-state"
    if os.path.exists(state):
        os.unlink(state)


def _init_growth(dbname: str) -> dict:
    """Users, tokens, a case, 500 witnesses (their keys in the growth keyring), interviews and
    10,000 sealed transcript versions: the objects the events refer to. No events yet."""
    from flask_migrate import upgrade

    from casework.db import db
    from casework.keys import keyed_sha256
    from casework.transcripts.models import TranscriptVersion

    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    _forget_signed(dbname)
    app = growth_app(dbname)
    witnesses, interviews = 500, 2000
    with app.app_context():
        upgrade()
        made = _population(
            "Growth case", witnesses, interviews, token_days=365, conducted_at=datetime(2024, 12, 1, tzinfo=UTC)
        )
        tokens, hash_keys, pairs = made.tokens, made.hash_keys, made.interviews
        case_id, interviewer_id, actors = made.case_id, made.interviewer_id, made.actors
        conn = psycopg.connect(f"{PG_SERVER}/{dbname}")  # of its own: sealing reads through the session
        columns = (
            "id",
            "interview_id",
            "case_id",
            "witness_id",
            "version",
            "media_type",
            "size",
            "keyed_sha256",
            "content_ciphertext",
            "content_nonce",
            "content_wrapped_key",
            "content_kek_id",
            "created_by_id",
            "created_at",
            "receipt",
        )
        transcripts = []
        with conn.cursor().copy(f"COPY transcript_versions ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(GROWTH_TRANSCRIPTS):
                interview_id, witness_id = pairs[n % interviews]
                number = n // interviews + 1
                content = (f"Statement {n}. " + SENTENCE * 8).encode()
                row = TranscriptVersion(
                    id=n + 1, interview_id=interview_id, case_id=case_id, witness_id=witness_id, version=number
                )
                row.sealed_content.seal(content)
                copy.write_row(
                    (
                        n + 1,
                        interview_id,
                        case_id,
                        witness_id,
                        number,
                        "text/plain; charset=utf-8",
                        len(content),
                        keyed_sha256(hash_keys[witness_id], content),
                        row.content_ciphertext,
                        row.content_nonce,
                        row.content_wrapped_key,
                        row.content_kek_id,
                        interviewer_id,
                        GROWTH_BASE,
                        "{}",
                    )
                )
                transcripts.append([n + 1, interview_id, witness_id, number])
        conn.execute("SELECT setval(pg_get_serial_sequence('transcript_versions', 'id'), %s)", (GROWTH_TRANSCRIPTS,))
        conn.commit()
        conn.close()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # the database is copied as a template next: no session may stay open
    info = {
        "version": GROWTH_VERSION,
        "schema": schema_fingerprint(),
        "events": 0,
        "case_id": case_id,
        "tokens": tokens,
        "actors": actors,
        "witness_ids": [w for _, w in pairs[:witnesses]],
        "transcripts": len(transcripts),
        "sample_transcript": {
            "id": transcripts[0][0],
            "interview_id": transcripts[0][1],
            "witness_id": transcripts[0][2],
            "version": transcripts[0][3],
        },
        "interviewer_id": interviewer_id,
    }
    _set_info(dbname, info)
    return info


def _events(start: int, end: int, info: dict, transcripts: list[list[int]]):
    """The generated events [start, end): (seq, recorded_at, NewEvent), a steady mix of actions
    so every auditor filter keeps matching as the log grows. Deterministic in ``start``; each
    event is sealed (time, salt, leaf hash of leaf form v2) as ``NewEvent.seal`` would seal it."""
    salts = random.Random(f"salts from {start}")
    for seq, when, event in _unsealed_events(start, end, info, transcripts):
        event.recorded_at, event.salt = when, salts.randbytes(SALT_BYTES)
        yield seq, when, event


def _unsealed_events(start: int, end: int, info: dict, transcripts: list[list[int]]):
    from casework.custody.log import NewEvent

    rng = random.Random(start)
    actors, case_id = info["actors"], info["case_id"]
    admin, interviewer, legal, auditor = (tuple(actors[r]) for r in ("admin", "interviewer", "legal", "auditor"))
    count = len(transcripts)
    for seq in range(start, end):
        when = GROWTH_BASE + timedelta(seconds=seq)
        roll = rng.random()
        if roll < 0.05:
            yield (
                seq,
                when,
                NewEvent(
                    "custody.events.list",
                    "allowed",
                    *auditor,
                    "custody_log",
                    None,
                    None,
                    None,
                    f"{seq:032x}",
                    "127.0.0.1",
                    {"filters": ["witness_id"]},
                ),
            )
            continue
        if roll < 0.06:
            yield (
                seq,
                when,
                NewEvent(
                    "auth.login", "allowed", *admin, "user", str(admin[0]), None, None, f"{seq:032x}", "127.0.0.1", {}
                ),
            )
            continue
        tid, interview_id, witness_id, number = transcripts[rng.randrange(count)]
        if roll < 0.08:
            event = NewEvent(
                "witness.read",
                "denied",
                *interviewer,
                "witness",
                str(witness_id),
                case_id,
                witness_id,
                f"{seq:032x}",
                "127.0.0.1",
                {},
            )
        elif roll < 0.16:
            event = NewEvent(
                "transcript.create",
                "allowed",
                *interviewer,
                "transcript",
                str(tid),
                case_id,
                witness_id,
                f"{seq:032x}",
                "127.0.0.1",
                {"version": number},
            )
        elif roll < 0.30:
            event = NewEvent(
                "interview.read",
                "allowed",
                *legal,
                "interview",
                str(interview_id),
                case_id,
                witness_id,
                f"{seq:032x}",
                "127.0.0.1",
                {},
            )
        else:
            event = NewEvent(
                "transcript.read",
                "allowed",
                *legal,
                "transcript",
                str(tid),
                case_id,
                witness_id,
                f"{seq:032x}",
                "127.0.0.1",
                {"version": number},
            )
        yield seq, when, event


def _text(value: object) -> str:
    return "\\N" if value is None else str(value)


def _extend(dbname: str, target: int, info: dict, progress: bool = True) -> dict[str, float]:
    """Append generated events up to ``target`` by COPY: leaves of leaf form v2 by the app's own
    ``leaf.make_entry`` and ``leaf.leaf_hash``, tree nodes by its CompactRange, then the head moves."""
    from casework_verify import leaf, merkle

    url = f"{PG_SERVER}/{dbname}"
    with psycopg.connect(url) as conn:
        transcripts = [
            list(row)
            for row in conn.execute("SELECT id, interview_id, witness_id, version FROM transcript_versions ORDER BY id")
        ]
    timings = {"python_s": 0.0, "copy_s": 0.0}
    with psycopg.connect(url) as events_conn, psycopg.connect(url) as nodes_conn:
        size, blob = events_conn.execute("SELECT tree_size, frontier FROM custody_head WHERE id = 1").fetchone()
        last = events_conn.execute("SELECT coalesce(max(seq) + 1, 0) FROM custody_events").fetchone()[0]
        if last != size:
            raise RuntimeError(f"{dbname}: head says {size} events, table has {last}: rebuild it")
        frontier = merkle.CompactRange.from_bytes(size, blob)
        leaf_hash, make_entry, dumps = leaf.leaf_hash, leaf.make_entry, orjson.dumps
        while frontier.size < target:
            t0 = time.perf_counter()
            end = min(target, frontier.size + CHUNK)
            with (
                events_conn.cursor().copy(f"COPY custody_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as ecopy,
                nodes_conn.cursor().copy("COPY custody_nodes (level, idx, hash) FROM STDIN") as ncopy,
            ):
                ebuf: list[str] = []
                nbuf: list[str] = []
                for seq, when, event in _events(frontier.size, end, info, transcripts):
                    entry = make_entry(None, when, event, event.salt)
                    hashed = leaf_hash(entry)
                    ebuf.append(
                        f"{seq}\t{entry['time']}\t{_text(event.actor_id)}\t{_text(event.actor_username)}\t"
                        f"{_text(event.actor_role)}\t{event.action}\t{event.outcome}\t{_text(event.resource_type)}\t"
                        f"{_text(event.resource_id)}\t{_text(event.case_id)}\t{_text(event.witness_id)}\t"
                        f"{event.request_id}\t{event.client_addr}\t{dumps(event.details).decode()}\t"
                        f"\\\\x{event.salt.hex()}\t\\\\x{hashed.hex()}\n"
                    )
                    for level, index, value in frontier.append(hashed):
                        nbuf.append(f"{level}\t{index}\t\\\\x{value.hex()}\n")
                    if len(ebuf) >= 20_000:
                        ecopy.write("".join(ebuf))
                        ncopy.write("".join(nbuf))
                        ebuf.clear()
                        nbuf.clear()
                ecopy.write("".join(ebuf))
                ncopy.write("".join(nbuf))
            nodes_conn.commit()
            events_conn.execute(
                "UPDATE custody_head SET tree_size = %s, frontier = %s WHERE id = 1",
                (frontier.size, frontier.to_bytes()),
            )
            events_conn.commit()
            timings["copy_s"] += time.perf_counter() - t0
            if progress:
                print(f"{dbname}: {frontier.size:,} events ({time.perf_counter() - t0:.1f} s this chunk)", flush=True)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) custody_events")
        conn.execute("VACUUM (ANALYZE) custody_nodes")
    timings["vacuum_analyze_s"] = time.perf_counter() - t0
    del timings["python_s"]
    return timings


def grow(sizes: list[int], progress: bool = True) -> dict[int, dict]:
    """Make sure a growth database exists for each size; grow the missing ones from the largest
    smaller one (or from nothing), snapshotting at every size on the way. Returns their info."""
    sizes = sorted(set(sizes))
    existing = _databases()
    work = f"{GROWTH_PREFIX}_{WORK}"
    existing.pop(work, None)
    results: dict[int, dict] = {}
    missing = [size for size in sizes if existing.get(growth_db(size), {}).get("events") != size]
    info: dict | None = None  # the working database's info while it holds the previous size
    for size in sizes:
        name = growth_db(size)
        if size not in missing:
            results[size] = existing[name] | {"reused": True}
            continue
        t0 = time.perf_counter()
        if info is None:
            smaller = [i for i in existing.values() if 0 < i["events"] < size]
            if smaller:
                base = max(smaller, key=lambda i: i["events"])
                _copy_database(growth_db(base["events"]), work, base)
                info = dict(base)
            else:
                info = _init_growth(work)
        seeded_from = info["events"]
        timings = _extend(work, size, info, progress)
        info = info | {"events": size, "seed_s": time.perf_counter() - t0, "seeded_from": seeded_from, **timings}
        info.pop("reused", None)
        _set_info(work, info)
        if size == missing[-1]:  # the last one keeps the working copy itself
            with admin_connection() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'ALTER DATABASE "{work}" RENAME TO "{name}"')
            _set_info(name, info)
            _forget_signed(name)
        else:
            _copy_database(work, name, info)
        existing[name] = results[size] = info
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--transcripts", type=int, default=100_000)
    parser.add_argument(
        "--growth",
        type=int,
        nargs="*",
        metavar="SIZE",
        help="grow the growth databases to these sizes instead (e.g. 10000 1000000 10000000)",
    )
    args = parser.parse_args()
    if args.growth:
        grown = grow(args.growth)
        print(
            json.dumps(
                {
                    size: {k: v for k, v in info.items() if k not in ("tokens", "actors", "witness_ids")}
                    for size, info in grown.items()
                },
                indent=2,
            )
        )
        return
    info = seed(args.events, args.transcripts)
    print(json.dumps({k: v for k, v in info.items() if k != "tokens"}, indent=2))


if __name__ == "__main__":
    main()
