"""PostgreSQL: the custody log's writes go through functions owned by the custody owner role.

The app's role holds SELECT on the custody tables and EXECUTE on four functions, nothing else:
no INSERT, UPDATE, DELETE or TRUNCATE anywhere in custody, the queue included. The functions
run as their owner (SECURITY DEFINER, with a fixed search_path) and each does one thing that
cannot rewrite history:

* ``custody_record(json)`` appends events to the intake queue (time within five minutes of
  the database's clock); their leaf hashes are the app's claim, which the signer recomputes.
* ``custody_integrate(limit, wait)`` takes the oldest intake rows under the head lock, gives
  each the next seq, computes the tree nodes itself from the stored leaf hashes, moves the
  rows into ``custody_events`` and the head forward. Nothing the caller passes is placed.
* ``custody_store_checkpoint`` / ``custody_store_cosignature`` store a checkpoint (never older
  than the latest stored, never beyond the head, never another root for a stored size) and a
  witness's cosignature (once per witness and size; a second publisher's copy is a no-op).

The statements carry no '%' and no ':' so that they go through any driver or text() as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Connection

from casework_verify.leaf import ENTRY_FIELDS

HEAD_ID = 1
RECORD, INTEGRATE = "custody_record", "custody_integrate"
STORE_CHECKPOINT, STORE_COSIGNATURE = "custody_store_checkpoint", "custody_store_cosignature"
FUNCTIONS: dict[str, str] = {
    RECORD: "json",
    INTEGRATE: "integer, boolean",
    STORE_CHECKPOINT: "bigint, bytea, text",
    STORE_COSIGNATURE: "bigint, text, text",
}
# Recorded times further than this from the database's clock are refused: no back-dating.
CLOCK_SKEW_SECONDS = 300
MAX_INTEGRATE = 10_000

_TYPES = {"actor_id": "integer", "case_id": "integer", "witness_id": "integer"}
_SCALARS = [name for name in ENTRY_FIELDS if name != "details"]
_COLUMNS = ", ".join(("recorded_at", *ENTRY_FIELDS, "salt", "leaf_hash"))
_FROM_JSON = ", ".join(
    (
        "CAST(e->>'recorded_at' AS timestamptz)",
        *[
            f"CAST(e->>'{name}' AS {_TYPES[name]})"
            if name in _TYPES
            else f"e->>'{name}'"
            if name != "details"
            else "e->'details'"
            for name in ENTRY_FIELDS
        ],
        "decode(e->>'salt', 'hex')",
        "decode(e->>'leaf_hash', 'hex')",
    )
)

FUNCTION_SQL: list[str] = [
    f"""CREATE OR REPLACE FUNCTION {RECORD}(p_events json) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    IF json_typeof(p_events) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'custody_record takes a JSON array of events';
    END IF;
    IF EXISTS (SELECT 1 FROM json_array_elements(p_events) AS t(e)
               WHERE abs(extract(epoch FROM CAST(e->>'recorded_at' AS timestamptz) - clock_timestamp()))
                     > {CLOCK_SKEW_SECONDS}) THEN
        RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'custody events are recorded when they happen';
    END IF;
    IF EXISTS (SELECT 1 FROM json_array_elements(p_events) AS t(e)
               WHERE octet_length(decode(e->>'leaf_hash', 'hex')) IS DISTINCT FROM 32
                  OR octet_length(decode(e->>'salt', 'hex')) IS DISTINCT FROM 32) THEN
        -- a row the integrator could not place would stall the queue for everyone after it
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a custody event needs a 32-byte salt and leaf hash';
    END IF;
    RETURN QUERY INSERT INTO custody_intake ({_COLUMNS})
        SELECT {_FROM_JSON} FROM json_array_elements(p_events) WITH ORDINALITY AS t(e, n) ORDER BY n
        RETURNING id;
END
$fn$""",
    f"""CREATE OR REPLACE FUNCTION {INTEGRATE}(p_limit integer, p_wait boolean)
RETURNS TABLE(intake_id bigint, seq bigint)
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
#variable_conflict use_column
DECLARE
    v_size bigint;
    v_frontier bytea;
    v_range bytea[] = '{{}}';
    v_ids bigint[] = '{{}}';
    v_seqs bigint[] = '{{}}';
    v_levels smallint[] = '{{}}';
    v_idxs bigint[] = '{{}}';
    v_hashes bytea[] = '{{}}';
    v_moved integer;
    r record;
    h bytea;
    i bigint;
    lvl smallint;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > {MAX_INTEGRATE} THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'custody_integrate: limit out of range';
    END IF;
    -- Nothing queued: return before the head lock, which would give this read-only call a
    -- transaction id and its COMMIT a WAL flush (an idle integrator polls several times a second).
    PERFORM 1 FROM custody_intake LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_wait THEN
        SELECT tree_size, frontier INTO v_size, v_frontier FROM custody_head WHERE id = {HEAD_ID} FOR UPDATE;
    ELSE
        SELECT tree_size, frontier INTO v_size, v_frontier FROM custody_head WHERE id = {HEAD_ID}
            FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        IF p_wait THEN
            RAISE EXCEPTION USING ERRCODE = 'XX001', MESSAGE = 'the custody log has no head row';
        END IF;
        RETURN QUERY SELECT CAST(NULL AS bigint), CAST(NULL AS bigint);  -- busy: another integrator holds it
        RETURN;
    END IF;
    IF octet_length(v_frontier) <> 32 * length(replace(CAST(CAST(v_size AS bit(64)) AS text), '0', '')) THEN
        RAISE EXCEPTION USING ERRCODE = 'XX001', MESSAGE = 'the custody head frontier does not fit its size';
    END IF;
    FOR i IN 0 .. octet_length(v_frontier) / 32 - 1 LOOP
        v_range = v_range || substring(v_frontier FROM CAST(i * 32 + 1 AS integer) FOR 32);
    END LOOP;
    FOR r IN SELECT ci.id, ci.leaf_hash FROM custody_intake ci ORDER BY ci.id LIMIT p_limit LOOP
        IF octet_length(r.leaf_hash) IS DISTINCT FROM 32 THEN
            RAISE EXCEPTION USING ERRCODE = 'XX001', MESSAGE = 'a custody intake row has no leaf hash';
        END IF;
        v_ids = v_ids || r.id;
        v_seqs = v_seqs || v_size;
        h = r.leaf_hash;
        i = v_size;
        lvl = 0;
        v_levels = v_levels || lvl;
        v_idxs = v_idxs || i;
        v_hashes = v_hashes || h;
        WHILE mod(i, 2) = 1 LOOP
            h = sha256(decode('01', 'hex') || v_range[cardinality(v_range)] || h);
            v_range = trim_array(v_range, 1);
            i = i / 2;
            lvl = lvl + 1;
            v_levels = v_levels || lvl;
            v_idxs = v_idxs || i;
            v_hashes = v_hashes || h;
        END LOOP;
        v_range = v_range || h;
        v_size = v_size + 1;
    END LOOP;
    IF cardinality(v_ids) = 0 THEN
        RETURN;
    END IF;
    WITH gone AS (
        DELETE FROM custody_intake ci USING unnest(v_ids, v_seqs) AS b(id, seq) WHERE ci.id = b.id
        RETURNING b.seq, ci.*
    )
    INSERT INTO custody_events (seq, {_COLUMNS}) SELECT seq, {_COLUMNS} FROM gone;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    IF v_moved <> cardinality(v_ids) THEN
        RAISE EXCEPTION USING ERRCODE = 'XX001', MESSAGE = 'custody intake rows changed under the integrator';
    END IF;
    INSERT INTO custody_nodes (level, idx, hash) SELECT * FROM unnest(v_levels, v_idxs, v_hashes);
    UPDATE custody_head SET tree_size = v_size,
        frontier = coalesce((SELECT string_agg(x, decode('', 'hex') ORDER BY o)
                             FROM unnest(v_range) WITH ORDINALITY AS f(x, o)), decode('', 'hex'))
        WHERE id = {HEAD_ID};
    RETURN QUERY SELECT * FROM unnest(v_ids, v_seqs);
END
$fn$""",
    f"""CREATE OR REPLACE FUNCTION {STORE_CHECKPOINT}(p_size bigint, p_root bytea, p_note text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    v_head bigint;
    v_root bytea;
    v_max bigint;
BEGIN
    IF p_size IS NULL OR p_size < 0 OR octet_length(p_root) IS DISTINCT FROM 32 OR p_note IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a checkpoint needs a size, a 32-byte root and a note';
    END IF;
    SELECT tree_size INTO v_head FROM custody_head WHERE id = {HEAD_ID};
    IF v_head IS NULL OR p_size > v_head THEN
        RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'a checkpoint beyond the custody log head';
    END IF;
    SELECT root_hash INTO v_root FROM custody_checkpoints WHERE tree_size = p_size;
    IF FOUND THEN
        IF v_root <> p_root THEN
            RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'another root for a stored checkpoint size';
        END IF;
        RETURN false;
    END IF;
    SELECT max(tree_size) INTO v_max FROM custody_checkpoints;
    IF v_max IS NOT NULL AND p_size < v_max THEN
        RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'a checkpoint older than the latest stored one';
    END IF;
    INSERT INTO custody_checkpoints (tree_size, root_hash, note, created_at) VALUES (p_size, p_root, p_note, now());
    RETURN true;
END
$fn$""",
    f"""CREATE OR REPLACE FUNCTION {STORE_COSIGNATURE}(p_size bigint, p_witness text, p_line text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM custody_checkpoints WHERE tree_size = p_size) THEN
        RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'a cosignature of a checkpoint never stored';
    END IF;
    INSERT INTO custody_cosignatures (tree_size, witness, line, received_at) VALUES (p_size, p_witness, p_line, now())
        ON CONFLICT (tree_size, witness) DO NOTHING;
    RETURN FOUND;
END
$fn$""",
]


def secure_functions_sql(owner: str, app: str) -> list[str]:
    """Fixed search_path, owned by the owner role, executable by the app role only."""
    statements = []
    for name, args in FUNCTIONS.items():
        signature = f"{name}({args})"
        statements.append(f"""DO $$
BEGIN
    EXECUTE 'ALTER FUNCTION {signature} SET search_path = ' || quote_ident(current_schema()) || ', pg_temp';
    BEGIN
        EXECUTE 'ALTER FUNCTION {signature} OWNER TO {owner}';
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING USING MESSAGE = 'casework: {name} not handed to role {owner} (' || SQLERRM || ')';
    END;
    EXECUTE 'REVOKE ALL ON FUNCTION {signature} FROM PUBLIC';
    EXECUTE 'GRANT EXECUTE ON FUNCTION {signature} TO {app}';
END
$$""")
    return statements


def _driver(connection: Connection) -> psycopg.Connection[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def record(connection: Connection, rows: list[dict[str, Any]], *, commit: bool) -> list[int]:
    """Append intake rows through ``custody_record``; with ``commit``, the COMMIT goes in the same
    round trip (every audited request ends so, and most write nothing else)."""
    payload = Json(
        [
            {
                **row,
                "recorded_at": row["recorded_at"].isoformat(),
                "salt": row["salt"].hex(),
                "leaf_hash": row["leaf_hash"].hex(),
            }
            for row in rows
        ]
    )
    statement = f"SELECT * FROM {RECORD}(%(events)s)".encode()
    driver = _driver(connection)
    if not commit:
        return sorted(row_id for (row_id,) in driver.execute(statement, {"events": payload}))
    with psycopg.ClientCursor(driver) as cursor:
        cursor.execute(statement + b"; COMMIT", {"events": payload})
        return sorted(row_id for (row_id,) in cursor.fetchall())


def integrate(connection: Connection, *, wait: bool, limit: int) -> dict[int, int] | None:
    """One batch under the head lock: intake id -> seq; None when ``wait`` is false and the head is busy."""
    rows = (
        _driver(connection)
        .execute(
            f"SELECT intake_id, seq FROM {INTEGRATE}(%(limit)s, %(wait)s)".encode(),
            {"limit": min(limit, MAX_INTEGRATE), "wait": wait},
        )
        .fetchall()
    )
    if rows == [(None, None)]:
        return None
    return dict(rows)


def store_checkpoint(connection: Connection, size: int, root: bytes, note: str) -> bool:
    (stored,) = _driver(connection).execute(
        f"SELECT {STORE_CHECKPOINT}(%(size)s, %(root)s, %(note)s)".encode(), {"size": size, "root": root, "note": note}
    ).fetchone() or (False,)
    return bool(stored)


def store_cosignatures(connection: Connection, size: int, lines: Sequence[tuple[str, str]]) -> None:
    driver = _driver(connection)
    for witness, line in lines:
        driver.execute(
            f"SELECT {STORE_COSIGNATURE}(%(size)s, %(witness)s, %(line)s)".encode(),
            {"size": size, "witness": witness, "line": line},
        )
