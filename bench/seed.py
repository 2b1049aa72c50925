"""Seed a realistic volume fast: N custody events and M encrypted transcript versions.

    python -m bench.seed --events 1000000 --transcripts 100000

Data goes in through PostgreSQL COPY, but is made by the app's own code: every transcript
is sealed with ``casework.keys.seal_into`` (fresh data key, AES-256-GCM, row-bound AAD) and
every event is a real leaf (``canonical_json`` + ``merkle.leaf_hash``) whose perfect-subtree
nodes come from ``merkle.CompactRange``; the offline verifier must accept the result.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

from bench.common import BENCH_DB, PG_SERVER, bench_app, recreate_database

OUT = Path(__file__).resolve().parent / "out"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
EVENT_COLUMNS = ("seq", "recorded_at", "actor_id", "actor_username", "actor_role", "action", "outcome",
                 "resource_type", "resource_id", "case_id", "witness_id", "request_id", "client_addr",
                 "details", "leaf_hash")
SENTENCE = ("At dawn the soldiers took the prisoners from the school to the quarry. I counted seven. "
            "They were made to kneel by the wall. I heard shots and then nothing. ")


def seed(events: int, transcripts: int, witnesses: int = 500, interviews: int = 2000) -> dict:
    from flask_migrate import upgrade

    from casework.access.models import CaseMember
    from casework.auth.service import issue_token
    from casework.cases.models import Case
    from casework.custody import merkle
    from casework.custody.canonical import canonical_json
    from casework.db import db
    from casework.interviews.models import Interview
    from casework.keys import create_subject_key, keyed_sha256, seal_into
    from casework.transcripts.models import TranscriptVersion
    from casework.users.service import new_user
    from casework.witnesses.models import Witness

    assert events >= transcripts, "every transcript needs its transcript.create event"
    timings: dict[str, float] = {}
    start = time.perf_counter()
    recreate_database()
    app = bench_app()
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        people = {role: new_user(f"bench-{role}", "bench password long", role)
                  for role in ("admin", "interviewer", "legal", "auditor")}
        tokens = {role: issue_token(user, "bench", 30)[1] for role, user in people.items()}
        case = Case(title="Bench case", created_by_id=people["admin"].id)
        db.session.add(case)
        db.session.flush()
        for role in ("interviewer", "legal"):
            db.session.add(CaseMember(case_id=case.id, user_id=people[role].id, added_by_id=people["admin"].id))
        witness_rows = [Witness(case_id=case.id, pseudonym=f"W-{n + 1:04d}", witness_type="eyewitness",
                                risk_level="high", recorded_by_id=people["interviewer"].id) for n in range(witnesses)]
        db.session.add_all(witness_rows)
        db.session.flush()
        # Each witness's own key in the keyring and hash key, as witnesses.service.create_witness makes them.
        hash_keys: dict[int, bytes] = {}
        for witness in witness_rows:
            create_subject_key(witness.key_subject())
            hash_keys[witness.id] = os.urandom(32)
            seal_into(witness, "hashkey_", hash_keys[witness.id], witness.hashkey_context())
        interview_rows = [Interview(case_id=case.id, witness_id=witness_rows[n % witnesses].id,
                                    interviewer_id=people["interviewer"].id, language="uk",
                                    conducted_at=datetime(2026, 3, 1, tzinfo=UTC)) for n in range(interviews)]
        db.session.add_all(interview_rows)
        db.session.flush()
        # Plain values from here on: ORM attribute access would query on the connection doing COPY.
        interview_rows = [(i.id, i.witness_id) for i in interview_rows]
        case_id, interviewer_id = case.id, people["interviewer"].id
        actors = {role: (people[role].id, people[role].username, role) for role in people}
        db.session.commit()
        timings["objects_s"] = time.perf_counter() - start

        # Transcript versions, sealed by the app's own envelope code.
        t0 = time.perf_counter()
        version_of: dict[int, int] = {}
        transcript_rows = []
        conn = db.session.connection().connection.driver_connection
        columns = ("id", "interview_id", "case_id", "witness_id", "version", "media_type", "size", "keyed_sha256",
                   "content_ciphertext", "content_nonce", "content_wrapped_key", "content_kek_id",
                   "freetext_ciphertext", "freetext_nonce", "freetext_wrapped_key", "freetext_kek_id",
                   "created_by_id", "created_at", "receipt")
        now = datetime(2026, 4, 1, tzinfo=UTC)
        with conn.cursor().copy(f"COPY transcript_versions ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(transcripts):
                interview_id, witness_id = interview_rows[n % interviews]
                number = version_of[interview_id] = version_of.get(interview_id, 0) + 1
                content = (f"Statement {n}. " + SENTENCE * 8).encode()
                row = TranscriptVersion(id=n + 1, interview_id=interview_id, case_id=case_id,
                                        witness_id=witness_id, version=number)
                seal_into(row, "content_", content, row.content_context())
                if number > 1:
                    seal_into(row, "freetext_", json.dumps({"filename": None, "reason": "correction"}).encode(),
                              row.freetext_context())
                copy.write_row((n + 1, interview_id, case_id, witness_id, number, "text/plain; charset=utf-8",
                                len(content), keyed_sha256(hash_keys[witness_id], content), row.content_ciphertext,
                                row.content_nonce, row.content_wrapped_key, row.content_kek_id,
                                row.freetext_ciphertext, row.freetext_nonce, row.freetext_wrapped_key,
                                row.freetext_kek_id, interviewer_id, now, "{}"))
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
        with conn.cursor().copy(f"COPY custody_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as events_copy, \
                nodes_conn.cursor().copy("COPY custody_nodes (level, idx, hash) FROM STDIN") as nodes_copy:
            for seq in range(events):
                when = base + timedelta(milliseconds=seq)
                if created < transcripts and (seq % every == 0 or events - seq <= transcripts - created):
                    tid, interview_id, witness_id, number = transcript_rows[created]
                    created += 1
                    actor, action, details = actors["interviewer"], "transcript.create", {"version": number}
                elif seq % 7 == 0:
                    tid, interview_id, witness_id, number = (
                        transcript_rows[rng.randrange(max(created, 1))] if created else (None, None, None, None))
                    actor, action, details = actors["legal"], "interview.read", {}
                    tid = interview_id
                else:
                    tid, interview_id, witness_id, number = (
                        transcript_rows[rng.randrange(max(created, 1))] if created else (None, None, None, None))
                    actor, action, details = actors["legal"], "transcript.read", {"version": number}
                resource_type = "interview" if action == "interview.read" else "transcript"
                entry = {
                    "seq": seq, "time": when.strftime(TIME_FORMAT), "actor_id": actor[0], "actor_username": actor[1],
                    "actor_role": actor[2], "action": action, "outcome": "allowed", "resource_type": resource_type,
                    "resource_id": None if tid is None else str(tid), "case_id": case_id, "witness_id": witness_id,
                    "request_id": f"{seq:032x}", "client_addr": "127.0.0.1", "details": details,
                }
                leaf = merkle.leaf_hash(canonical_json(entry))
                events_copy.write_row((seq, when, actor[0], actor[1], actor[2], action, "allowed", resource_type,
                                       entry["resource_id"], case_id, witness_id, entry["request_id"], "127.0.0.1",
                                       orjson.dumps(details).decode(), leaf))
                for level, index, value in frontier.append(leaf):
                    nodes_copy.write_row((level, index, value))
        nodes_conn.commit()
        nodes_conn.close()
        conn.execute("UPDATE custody_head SET tree_size = %s, frontier = %s WHERE id = 1",
                     (frontier.size, frontier.to_bytes()))
        db.session.commit()
        timings["events_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("ANALYZE")
        timings["analyze_s"] = time.perf_counter() - t0
        sample = transcript_rows[len(transcript_rows) // 2]
        info = {
            "events": events, "transcripts": transcripts, "interviews": interviews, "tokens": tokens,
            "case_id": case_id,
            "sample_transcript": {"id": sample[0], "interview_id": sample[1], "witness_id": sample[2],
                                  "version": sample[3]},
            "timings": timings, "total_s": time.perf_counter() - start,
        }
    OUT.mkdir(exist_ok=True)
    (OUT / "seed.json").write_text(json.dumps(info, indent=2))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--transcripts", type=int, default=100_000)
    args = parser.parse_args()
    info = seed(args.events, args.transcripts)
    print(json.dumps({k: v for k, v in info.items() if k != "tokens"}, indent=2))


if __name__ == "__main__":
    main()
