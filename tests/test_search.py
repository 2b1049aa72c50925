"""Finding things: search filters on the case listings, each search a custody event.

``GET /cases/{id}/witnesses?pseudonym=``, ``/incidents?q=&violation_type=&occurred_after=&
occurred_before=`` and ``/interviews?language=&conducted_after=&conducted_before=&witness_id=``:
every filter given must hold, pages follow the usual keyset (id order, opaque cursor), and the
list's custody event carries the filters asked for (allowed or refused), never what was found.
On PostgreSQL each filter is served by an index, whatever the size of the tables.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import text

from casework.db import db
from tests.conftest import Caller, World, ok
from tests.helpers import assert_problem, events_of, explain_nodes, statements_sent


def _incident(caller: Caller, case_id: int, reference: str, title: str, **fields: Any) -> int:
    return ok(
        caller.post(f"/api/v1/cases/{case_id}/incidents", {"reference": reference, "title": title, **fields}), 201
    )["id"]


def _witness(caller: Caller, case_id: int) -> dict[str, Any]:
    return ok(caller.post(f"/api/v1/cases/{case_id}/witnesses", {"witness_type": "victim", "risk_level": "low"}), 201)


def _witness_of_case_b(app: Flask, world: World) -> int:
    """W-0001 of case B (recorded straight into the database: case B has no interviewer)."""
    from casework.witnesses.models import Witness

    with app.app_context():
        witness = Witness(
            case_id=world.other_case_id,
            pseudonym="W-0001",
            witness_type="victim",
            risk_level="low",
            recorded_by_id=world.people["outsider"].id,
        )
        db.session.add(witness)
        db.session.commit()
        return witness.id


def _interview(caller: Caller, case_id: int, witness_id: int, conducted_at: str, language: str) -> int:
    return ok(
        caller.post(
            f"/api/v1/cases/{case_id}/interviews",
            {"witness_id": witness_id, "conducted_at": conducted_at, "language": language},
        ),
        201,
    )["id"]


def _ids(caller: Caller, path: str, **args: Any) -> list[int]:
    """Every id the listing answers, page after page (small pages, to cross page boundaries)."""
    ids: list[int] = []
    cursor = None
    while True:
        query = {**args, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(caller.get(f"{path}?{urlencode(query)}"))
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def _list_event(app: Flask, response: Any, action: str) -> dict[str, Any]:
    [event] = [e for e in events_of(app, response) if e["action"] == action]
    return event


# -- incidents ------------------------------------------------------------------------------------


@pytest.fixture
def incidents(world: World) -> dict[str, int]:
    """Incidents of case A besides the world's INC-1 ("Execution at the quarry", 2026-03-01)."""
    legal, case = world.people["legal"], world.case_id
    made = {
        "market": _incident(
            legal,
            case,
            "KHA-0417",
            "Shelling of the Heroiv Pratsi Street MARKET",
            occurred_from="2022-03-03T07:30:00Z",
            violation_types=["attack-on-civilians"],
        ),
        "school": _incident(
            legal,
            case,
            "KHA-0418",
            "Strike on school no. 134",
            occurred_from="2022-03-10T00:00:00Z",
            time_precision="day",
            violation_types=["attack-on-protected-objects", "attack-on-civilians"],
        ),
        "detention": _incident(
            legal,
            case,
            "MARKET-DET-1",
            "Detention of market traders",
            occurred_from="2022-04-01T00:00:00Z",
            violation_types=["arbitrary-detention"],
        ),
        "undated": _incident(legal, case, "KHA-0500", "Looting at the market hall", violation_types=["pillage"]),
        "percent": _incident(legal, case, "KHA-0501", "Fuel depot 100% destroyed"),
        "underscore": _incident(legal, case, "KHA_0502", "Bridge"),
        "cyrillic": _incident(legal, case, "KHA-0503", "Обстріл ринку на Салтівці"),
    }
    # The other case's incident never shows in case A's search.
    _incident(world.people["outsider"], world.other_case_id, "KHA-0417", "Shelling of a market")
    return made


def test_q_matches_reference_or_title_in_any_letter_case(
    world: World, incidents: dict[str, int], is_postgres: bool
) -> None:
    legal, path = world.people["legal"], f"/api/v1/cases/{world.case_id}/incidents"
    market = [incidents["market"], incidents["detention"], incidents["undated"]]
    assert _ids(legal, path, q="market") == market  # title, reference and title, title; any case
    assert _ids(legal, path, q="MaRkEt") == market
    assert _ids(legal, path, q="kha-041") == [incidents["market"], incidents["school"]]  # a reference's part
    assert _ids(legal, path, q="quarry") == [world.incident_id]
    assert _ids(legal, path, q="ринку") == [incidents["cyrillic"]]
    if is_postgres:  # ILIKE folds every alphabet's case; SQLite's LIKE folds ASCII letters only
        assert _ids(legal, path, q="РИНКУ") == [incidents["cyrillic"]]
    assert _ids(legal, path, q="nothing like this") == []


def test_q_takes_like_wildcards_literally(world: World, incidents: dict[str, int]) -> None:
    legal, path = world.people["legal"], f"/api/v1/cases/{world.case_id}/incidents"
    assert _ids(legal, path, q="%") == [incidents["percent"]]
    assert _ids(legal, path, q="_") == [incidents["underscore"]]
    assert _ids(legal, path, q="\\") == []


def test_violation_type_and_occurrence_window(world: World, incidents: dict[str, int]) -> None:
    legal, path = world.people["legal"], f"/api/v1/cases/{world.case_id}/incidents"
    assert _ids(legal, path, violation_type="attack-on-civilians") == [incidents["market"], incidents["school"]]
    assert _ids(legal, path, violation_type="execution-of-prisoners-of-war") == [world.incident_id]
    assert _ids(legal, path, violation_type="torture") == []
    # occurred_after is inclusive, occurred_before exclusive; incidents of unknown time are left out.
    assert _ids(legal, path, occurred_after="2022-03-10T00:00:00Z") == [
        world.incident_id,
        incidents["school"],
        incidents["detention"],
    ]
    assert _ids(legal, path, occurred_before="2022-04-01T00:00:00Z") == [incidents["market"], incidents["school"]]
    assert _ids(
        legal, path, occurred_after="2022-03-01T00:00:00+02:00", occurred_before="2022-03-10T02:00:00+02:00"
    ) == [incidents["market"]]  # offsets are read as the UTC instants they name


def test_filters_combine_and_page(world: World, incidents: dict[str, int]) -> None:
    legal, path = world.people["legal"], f"/api/v1/cases/{world.case_id}/incidents"
    both = {"q": "market", "violation_type": "attack-on-civilians"}
    assert _ids(legal, path, **both) == [incidents["market"]]
    assert _ids(legal, path, q="market", occurred_after="2022-03-05T00:00:00Z") == [incidents["detention"]]
    # Pages of a filtered list: in id order, each item once, whatever the page size.
    everything = _ids(legal, path, q="a")
    assert everything == sorted(everything) and len(everything) == len(set(everything)) >= 5
    first = ok(legal.get(f"{path}?{urlencode({'q': 'a', 'limit': 3})}"))
    second = ok(legal.get(f"{path}?{urlencode({'q': 'a', 'limit': 3, 'cursor': first['next_cursor']})}"))
    assert [i["id"] for i in first["items"] + second["items"]] == everything[:6]


def test_bad_filters_are_422(world: World) -> None:
    legal, path = world.people["legal"], f"/api/v1/cases/{world.case_id}/incidents"
    for query in (
        {"violation_type": "genocide-ish"},
        {"occurred_after": "yesterday"},
        {"occurred_before": "2022-03-01T00:00:00"},
        {"q": ""},
        {"q": "x" * 301},
        {"title": "market"},
        {"search": "market"},
    ):
        body = assert_problem(legal.get(f"{path}?{urlencode(query)}"), 422)
        assert set(body["errors"]["query"]) == set(query), (query, body)


# -- witnesses ------------------------------------------------------------------------------------


def test_pseudonym_finds_the_one_witness_in_any_letter_case(app: Flask, world: World) -> None:
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    path = f"/api/v1/cases/{world.case_id}/witnesses"
    second = _witness(interviewer, world.case_id)
    assert second["pseudonym"] == "W-0002"
    _witness_of_case_b(app, world)
    assert _ids(legal, path, pseudonym="W-0002") == [second["id"]]
    assert _ids(legal, path, pseudonym="w-0001") == [world.witness_id]
    assert _ids(legal, path, pseudonym="W-0099") == []
    assert _ids(legal, path) == [world.witness_id, second["id"]]
    for bad in ("W-1", "0001", "W-0001 ", "X-0001", "W-00000000000000001"):
        assert_problem(legal.get(f"{path}?{urlencode({'pseudonym': bad})}"), 422)


# -- interviews -----------------------------------------------------------------------------------


@pytest.fixture
def interviews(world: World) -> dict[str, int]:
    """Interviews of case A besides the world's (witness W-0001, "uk", 2026-03-10T10:00Z)."""
    interviewer, case = world.people["interviewer"], world.case_id
    other_witness = _witness(interviewer, case)["id"]
    return {
        "other_witness": other_witness,
        "ar": _interview(interviewer, case, world.witness_id, "2026-03-12T09:00:00Z", "ar-SY"),
        "uk_other": _interview(interviewer, case, other_witness, "2026-03-11T09:00:00Z", "UK"),
        "en": _interview(interviewer, case, other_witness, "2026-04-01T00:00:00Z", "en"),
    }


def test_interview_filters_alone_and_together(app: Flask, world: World, interviews: dict[str, int]) -> None:
    legal, path = world.people["legal"], f"/api/v1/cases/{world.case_id}/interviews"
    assert _ids(legal, path, language="uk") == [world.interview_id, interviews["uk_other"]]  # tags' case ignored
    assert _ids(legal, path, language="AR-sy") == [interviews["ar"]]
    assert _ids(legal, path, language="ar") == []  # a tag, not a prefix
    assert _ids(legal, path, witness_id=world.witness_id) == [world.interview_id, interviews["ar"]]
    assert _ids(legal, path, conducted_after="2026-03-11T09:00:00Z") == [
        interviews["ar"],
        interviews["uk_other"],
        interviews["en"],
    ]
    assert _ids(legal, path, conducted_before="2026-03-11T09:00:00Z") == [world.interview_id]
    assert _ids(
        legal,
        path,
        language="uk",
        witness_id=interviews["other_witness"],
        conducted_after="2026-03-01T00:00:00Z",
        conducted_before="2026-04-01T00:00:00Z",
    ) == [interviews["uk_other"]]
    # A witness of another case matches nothing here: no answer says it exists.
    witness_b = _witness_of_case_b(app, world)
    assert _ids(legal, path, witness_id=witness_b) == []
    for query in (
        {"language": "not a tag"},
        {"witness_id": 0},
        {"conducted_after": "2026-13-01T00:00:00Z"},
        {"interviewer_id": 1},
    ):
        assert_problem(legal.get(f"{path}?{urlencode(query)}"), 422)


# -- custody ----------------------------------------------------------------------------------------


SEARCHES = [
    (
        "incidents",
        "incident.list",
        {
            "q": "Market",
            "violation_type": "pillage",
            "occurred_after": "2022-03-01T00:00:00Z",
            "occurred_before": "2022-04-01T02:00:00+02:00",
        },
        {
            "q_sha256": hashlib.sha256(b"market").hexdigest(),  # free text may be a name: its hash, never the words
            "violation_type": "pillage",
            "occurred_after": "2022-03-01T00:00:00+00:00",
            "occurred_before": "2022-04-01T00:00:00+00:00",
        },
    ),
    ("witnesses", "witness.list", {"pseudonym": "w-0001"}, {"pseudonym": "W-0001"}),
    (
        "interviews",
        "interview.list",
        {"language": "ar-SY", "witness_id": 7, "conducted_before": "2026-04-01T00:00:00Z"},
        {"language": "ar-SY", "witness_id": 7, "conducted_before": "2026-04-01T00:00:00+00:00"},
    ),
]


@pytest.mark.parametrize("listing,action,query,recorded", SEARCHES, ids=[s[0] for s in SEARCHES])
def test_each_search_is_a_custody_event_with_its_filters(
    app: Flask, world: World, listing: str, action: str, query: dict[str, Any], recorded: dict[str, Any]
) -> None:
    path = f"/api/v1/cases/{world.case_id}/{listing}"
    response = world.people["legal"].get(f"{path}?{urlencode({**query, 'limit': 5})}")
    ok(response)
    event = _list_event(app, response, action)
    assert event["outcome"] == "allowed" and event["resource_type"] == "case"
    assert event["resource_id"] == str(world.case_id) and event["actor_username"] == "legal"
    assert event["details"] == {"search": recorded}  # the filters, in UTC; never anything found, nor paging

    plain = world.people["legal"].get(f"{path}?limit=5")
    assert "search" not in _list_event(app, plain, action)["details"]

    # An outsider's search of a case they are not a member of: refused as if absent, recorded as
    # denied with what they looked for.
    refused = world.people["outsider"].get(f"{path}?{urlencode(query)}")
    assert_problem(refused, 404)
    event = _list_event(app, refused, action)
    assert event["outcome"] == "denied" and event["actor_username"] == "outsider"
    assert event["case_id"] == world.case_id and event["details"]["search"] == recorded


def test_an_auditor_searches_metadata_too(app: Flask, world: World) -> None:
    response = world.people["auditor"].get(f"/api/v1/cases/{world.case_id}/witnesses?pseudonym=W-0001")
    assert [w["id"] for w in ok(response)["items"]] == [world.witness_id]
    assert _list_event(app, response, "witness.list")["outcome"] == "allowed"


# -- cost ---------------------------------------------------------------------------------------------


FILTERED = [
    "/api/v1/cases/{case}/incidents?q=quarry&violation_type=execution-of-prisoners-of-war",
    "/api/v1/cases/{case}/witnesses?pseudonym=W-0001",
    "/api/v1/cases/{case}/interviews?language=uk&conducted_after=2026-01-01T00:00:00Z",
]


@pytest.mark.parametrize("path", FILTERED)
def test_a_filtered_list_costs_the_same_statements_for_one_item_or_many(app: Flask, world: World, path: str) -> None:
    interviewer, legal = world.people["interviewer"], world.people["legal"]
    url = path.format(case=world.case_id)
    ok(legal.get(url))  # warm: the token's last-use stamp
    with statements_sent(app) as few:
        small = ok(legal.get(url))
    for n in range(4):
        _incident(
            interviewer,
            world.case_id,
            f"Q-{n}",
            f"Second quarry {n}",
            violation_types=["execution-of-prisoners-of-war"],
        )
        _interview(interviewer, world.case_id, world.witness_id, f"2026-03-1{n}T09:00:00Z", "uk")
    with statements_sent(app) as many:
        large = ok(legal.get(url))
    assert len(large["items"]) >= len(small["items"])
    assert len(many) == len(few), "\n".join(many)


# -- plans (PostgreSQL) ---------------------------------------------------------------------------

ROWS = 20_000
RARE = 500  # one row in RARE has the value searched for

FILL = (
    f"""
INSERT INTO incidents (case_id, reference, title, time_precision, violation_types, created_by_id, created_at,
                       updated_at, occurred_from)
SELECT c.case_id, 'R-' || g,
       CASE WHEN g % {RARE} = 0 THEN 'Shelling of the grain elevator ' || g ELSE 'Detention at checkpoint ' || g END,
       'day', CASE WHEN g % {RARE} = 0 THEN '["hostage-taking"]' ELSE '["arbitrary-detention"]' END::json,
       :user_id, now(), now(), timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, {ROWS}) AS g, (VALUES (:case_id), (:other_case_id)) AS c(case_id)
""",
    f"""
INSERT INTO witnesses (case_id, pseudonym, witness_type, risk_level, recorded_by_id, created_at, updated_at)
SELECT :case_id, 'W-' || lpad((1000 + g)::text, 4, '0'), 'victim', 'low', :user_id, now(), now()
FROM generate_series(1, {ROWS // 20}) AS g
""",
    f"""
INSERT INTO interviews (case_id, witness_id, interviewer_id, conducted_at, language, created_at, updated_at)
SELECT :case_id, CASE WHEN g % {RARE} = 0 THEN :witness_id ELSE w.id END, :user_id,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 hour',
       CASE WHEN g % {RARE} = 0 THEN 'ar-SY' ELSE 'uk' END, now(), now()
FROM generate_series(1, {ROWS}) AS g
JOIN witnesses w ON w.case_id = :case_id AND w.pseudonym = 'W-' || lpad((1000 + 1 + g % {ROWS // 20})::text, 4, '0')
""",
)

# shape -> (listing, filters, table, the index the filtered page must be read through)
PLANS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "q": ("incidents", {"q": "grain elevator"}, "incidents", "ix_incidents_title_trgm"),
    "violation_type": ("incidents", {"violation_type": "hostage-taking"}, "incidents", "ix_incidents_violation_types"),
    "occurred window": (
        "incidents",
        {"occurred_after": "2021-01-01T00:00:00Z", "occurred_before": "2021-01-02T00:00:00Z"},
        "incidents",
        "ix_incidents_case_occurred",
    ),
    "pseudonym": ("witnesses", {"pseudonym": "w-1007"}, "witnesses", "uq_witnesses_case_pseudonym"),
    "language": ("interviews", {"language": "AR-SY"}, "interviews", "ix_interviews_case_language"),
    "conducted window": (
        "interviews",
        {"conducted_after": "2021-01-01T00:00:00Z", "conducted_before": "2021-01-02T00:00:00Z"},
        "interviews",
        "ix_interviews_case_conducted",
    ),
    "witness": ("interviews", {"witness_id": "{witness}"}, "interviews", "ix_interviews_witness_id"),
}


# A substring search reads the case's incidents through an index on case_id where the planner
# prices that lower, as it does at this size (trigram scans of a long pattern are priced high); a
# search in a large case reads the trigram indexes. To show that they serve the search alone, the
# paths through the case's indexes and the primary key are priced out for that EXPLAIN (the DDL is
# in the EXPLAIN's own transaction, rolled back).
PRICED_OUT = {
    "q": (
        "SET LOCAL enable_indexscan = off",
        "DROP INDEX ix_incidents_case_id",
        "DROP INDEX ix_incidents_case_occurred",
        "ALTER TABLE incidents DROP CONSTRAINT uq_incidents_case_reference",
    )
}


def _plan(app: Flask, statement: Any, priced_out: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The plan's nodes, with full scans priced out: the plan shows whether a suitable index exists."""
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        for setting in priced_out:
            conn.execute(text(setting))
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, statement.parameters).scalar()
    return explain_nodes(raw)


@pytest.fixture
def filled(app: Flask, world: World, pg_only: None) -> World:
    with app.app_context():
        values = {
            "case_id": world.case_id,
            "other_case_id": world.other_case_id,
            "user_id": world.people["interviewer"].id,
            "witness_id": world.witness_id,
        }
        for statement in FILL:
            db.session.execute(text(statement), {k: v for k, v in values.items() if f":{k}" in statement})
        db.session.commit()
        for table in ("incidents", "witnesses", "interviews"):
            db.session.execute(text(f"ANALYZE {table}"))
        db.session.commit()
    return world


@pytest.mark.parametrize("shape", sorted(PLANS))
def test_each_filter_reads_its_index(app: Flask, filled: World, shape: str) -> None:
    listing, filters, table, index = PLANS[shape]
    query = {name: str(value).format(witness=filled.witness_id) for name, value in filters.items()}
    with statements_sent(app) as sent:
        response = filled.people["legal"].get(
            f"/api/v1/cases/{filled.case_id}/{listing}?{urlencode({**query, 'limit': 50})}"
        )
    assert ok(response)["items"], "the filter should match seeded rows"
    [statement] = [s for s in sent if f"FROM {table}" in s and "ORDER BY" in s and "LIMIT" in s]
    nodes = _plan(app, statement, PRICED_OUT.get(shape, ()))
    on_table = [node for node in nodes if node.get("Relation Name") == table]
    assert not [node for node in on_table if node["Node Type"] == "Seq Scan"], (shape, on_table)
    used = {node.get("Index Name") for node in nodes}
    assert index in used, (shape, [(node["Node Type"], node.get("Index Name")) for node in nodes])
    if shape == "q":  # the reference's too: either may hold the text
        assert "ix_incidents_reference_trgm" in used, nodes
