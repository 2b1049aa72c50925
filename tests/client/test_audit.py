"""Auditors and lawyers with ``casework``: who read a witness, the log monitor (cosignatures,
consistency, a fork, a changed key, its own state tampered with), and disclosure bundles
downloaded (resumed) and verified offline."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests import pg_server
from tests.client.conftest import log_vkey, serve, url
from tests.conftest import PASSWORD, PG_SERVER, World, make_app, ok
from tests.helpers import publish
from tests.tlog_witnesses import running_witnesses

CONSENT = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
STATEMENT = "They lined up the prisoners by the quarry wall at dawn."


def _statement(world: World) -> None:
    ok(
        world.people["interviewer"].post(f"/api/v1/interviews/{world.interview_id}/transcripts", {"text": STATEMENT}),
        201,
    )


def test_who_read_a_witness(app, backend, pg_only, world: World, cli):
    _statement(world)
    transcript = f"/api/v1/interviews/{world.interview_id}/transcripts/1"
    ok(world.people["legal"].get(transcript))
    ok(world.people["legal"].get(f"/api/v1/witnesses/{world.witness_id}?include=identity"))
    assert world.people["interviewer2"].get(transcript).status_code == 403  # not their interview: refused, logged
    auditor = cli("auditor")
    with serve(app, backend) as server:
        auditor.ok("login", "--server", url(server), "--username", "auditor", env={"CASEWORK_PASSWORD": PASSWORD})
        found = auditor.json("custody", "who-read", "--witness", "W-0001")
        assert found["witness"] == {"pseudonym": "W-0001", "id": world.witness_id, "case_id": world.case_id}
        reads = {(e["who"], e["action"], e["outcome"]) for e in found["events"]}
        assert ("legal", "transcript.read", "allowed") in reads
        assert ("legal", "witness.identity.read", "allowed") in reads
        assert ("interviewer2", "transcript.read", "denied") in reads
        assert all(e["action"].endswith((".read", ".list", ".item", ".bundle")) for e in found["events"])
        every = auditor.json("custody", "who-read", "--witness", "W-0001", "--all")
        assert "transcript.create" in {e["action"] for e in every["events"]} - {e["action"] for e in found["events"]}

        table = auditor.ok("custody", "who-read", "--witness", "W-0001", "--case", str(world.case_id)).stdout
        assert "Who read W-0001" in table and "legal (legal)" in table and "interviewer2 (interviewer)" in table
        assert "denied" in table and f"transcript {world.interview_id}/1" in table
        missing = auditor("custody", "who-read", "--witness", "W-0099")
        assert missing.returncode == 1 and "No witness W-0099" in missing.stderr


@contextmanager
def copy_of_database(backend: dict[str, str]) -> Iterator[dict[str, str]]:
    """A second database holding what the first holds now (pg_dump into it): a replica, or a
    backup restored elsewhere, that goes on from here on its own."""
    source = backend["url"].rsplit("/", 1)[1]
    name = f"{source}_fork_{uuid.uuid4().hex[:6]}"
    admin = f"{PG_SERVER}/postgres"
    subprocess.run(["psql", admin, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    try:
        dump = subprocess.run(["pg_dump", f"{PG_SERVER}/{source}"], check=True, capture_output=True)
        subprocess.run(
            ["psql", f"{PG_SERVER}/{name}", "-q", "-v", "ON_ERROR_STOP=1"],
            input=dump.stdout,
            check=True,
            capture_output=True,
        )
        yield {"name": "postgresql", "url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
    finally:
        subprocess.run(
            ["psql", admin, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False,
            capture_output=True,
        )


def _activity(client, token: str, n: int) -> None:
    """n custody events: reads by an auditor."""
    for _ in range(n):
        assert (
            client.get("/api/v1/custody/events?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )


@pytest.mark.slow
def test_monitor_checks_cosignatures_and_consistency_and_names_a_fork(
    app, backend, pg_only, world: World, cli, keyring_path, tmp_path: Path
):
    auditor = cli("auditor")
    token = world.people["auditor"].token
    state = Path(app.config["CASEWORK_SIGNER_STATE"])
    port = pg_server.free_port()
    with (
        running_witnesses(tmp_path / "witnesses", ["witness.example/w1", "witness.example/w2"]) as witnesses,
        ExitStack() as cleanup,
    ):
        config = tmp_path / "witnesses.json"
        config.write_text(json.dumps([{"name": w.name, "vkey": w.vkey, "url": w.url} for w in witnesses]))
        # The operator's publisher: asks both witnesses to cosign each checkpoint.
        publisher = make_app(backend, keyring_path, CASEWORK_WITNESSES=str(config), CASEWORK_WITNESS_QUORUM=2)
        cleanup.callback(_dispose, publisher)
        for w in witnesses:
            w.add_log(publisher.config["CASEWORK_LOG_ORIGIN"], log_vkey(world))
        keys = tmp_path / "witness-keys.txt"
        keys.write_text("".join(w.vkey + "\n" for w in witnesses))
        publish(publisher)
        with serve(app, backend, port=port) as server:
            auditor.ok("login", "--server", url(server), "--username", "auditor", env={"CASEWORK_PASSWORD": PASSWORD})
            first = auditor.ok("custody", "monitor", "--witness-key", str(keys))
            assert "(none: first run)" in first.stdout and "Kept checkpoint" in first.stdout, first
            assert "cosigned by witness.example/w1 at" in first.stdout and "quorum 2 of 2" in first.stdout
            assert auditor.settings()["witness_keys"] == [w.vkey for w in witnesses]

            _activity(publisher.test_client(), token, 5)
            publish(publisher)
            second = auditor.ok("custody", "monitor")  # the witness keys were kept in the config
            assert "consistency proof of" in second.stdout and "verified" in second.stdout, second.stdout

            # The monitor's own kept checkpoint altered: reported as that, never taken for the log's fault.
            kept_file = next((auditor.config / "monitor").glob("*.json"))
            kept = kept_file.read_text()
            forged = json.loads(kept)
            lines = forged["note"].split("\n")
            lines[1] = str(int(lines[1]) + 1)
            forged["note"] = "\n".join(lines)
            kept_file.write_text(json.dumps(forged))
            tampered = auditor("custody", "monitor")
            assert tampered.returncode == 3 and "monitor's own state was altered" in tampered.stderr, tampered
            kept_file.write_text(kept)

            # A copy of the database and of the signer's state (a replica, a restored backup) goes on
            # by itself from here, signing with the same key: no witness would cosign what it signs.
            copy = cleanup.enter_context(copy_of_database(backend))
            fork_state = tmp_path / "fork.signer-state"
            fork_state.write_bytes(state.read_bytes())
            replica = make_app(copy, keyring_path, CASEWORK_SIGNER_STATE=str(fork_state))
            cleanup.callback(_dispose, replica)
            _activity(publisher.test_client(), token, 3)
            publish(publisher)
            third = auditor.ok("custody", "monitor")
            assert "Kept checkpoint" in third.stdout
            kept_now = kept_file.read_text()
        _activity(replica.test_client(), token, 10)
        publish(replica)
        # The same address now serves the replica's log: signed by the same key, another history.
        with serve(app, copy, port=port, extra_env={"CASEWORK_SIGNER_STATE": str(fork_state)}):
            fork = auditor("custody", "monitor")
    assert fork.returncode == 4, (fork.stdout, fork.stderr)
    assert "FORK: the log signed two histories." in fork.stderr
    named = {
        line.split(":", 1)[0].strip(): line
        for line in fork.stderr.splitlines()
        if line.strip().startswith(("kept:", "served:"))
    }
    assert set(named) == {"kept", "served"}, fork.stderr
    assert json.loads(kept_now)["note"].split("\n")[1] in named["kept"]  # the kept size
    assert "fork: the server's tree of size" in fork.stderr
    assert "quorum is 2" in fork.stderr  # and no witness cosigned it
    evidence = next((auditor.config / "monitor").glob("fork-*.txt")).read_text()
    assert json.loads(kept_now)["note"] in evidence and "== served now" in evidence
    assert kept_file.read_text() == kept_now  # nothing new was kept

    # The same address answers with another log key (another keyring): refused, loudly.
    with serve(
        app,
        backend,
        port=port,
        keyring=str(tmp_path / "another-keyring.json"),
        extra_env={"CASEWORK_SIGNER_STATE": str(tmp_path / "another.signer-state")},
    ):
        changed = auditor("custody", "monitor")
    assert changed.returncode == 3 and "THE CUSTODY LOG'S KEY HAS CHANGED" in changed.stderr, changed.stderr
    assert auditor.settings()["known_logs"][url_of(port)]["vkey"] == log_vkey(world)


def _dispose(flask_app) -> None:
    from casework.db import db

    with flask_app.app_context():
        db.engine.dispose()


def url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def test_bundle_download_resume_and_verify(app, backend, pg_only, world: World, cli, tmp_path: Path):
    _statement(world)
    ok(
        world.people["interviewer"].post(
            f"/api/v1/witnesses/{world.witness_id}/consent", {"scopes": CONSENT, "given_at": "2026-03-01T00:00:00Z"}
        ),
        201,
    )
    disclosure = ok(
        world.people["legal"].post(
            f"/api/v1/cases/{world.case_id}/disclosures",
            {
                "recipient": {"name": "Prosecutor", "organisation": "Office of the Prosecutor", "kind": "prosecutor"},
                "purpose": "trial",
                "items": [{"kind": "transcript_version", "interview_id": world.interview_id, "version": 1}],
            },
        ),
        201,
    )
    lawyer = cli("legal")
    with serve(app, backend) as server:
        lawyer.ok("login", "--server", url(server), "--username", "legal", env={"CASEWORK_PASSWORD": PASSWORD})
        bundle = tmp_path / "bundle.zip"
        got = lawyer.ok("bundle", "download", str(disclosure["id"]), "-o", str(bundle))
        assert "matches Repr-Digest" in got.stdout
        whole = bundle.read_bytes()
        etag = f'"{hashlib.sha256(whole).hexdigest()}"'

        # Cut half-way: the same command asks for the rest (Range, If-Range) and checks the whole.
        again = tmp_path / "again.zip"
        Path(f"{again}.part").write_bytes(whole[: len(whole) // 2])
        Path(f"{again}.part.etag").write_text(etag + "\n")
        resumed = lawyer.ok("bundle", "download", str(disclosure["id"]), "-o", str(again))
        assert f"Resumed at byte {len(whole) // 2}" in resumed.stderr, resumed.stderr
        assert again.read_bytes() == whole and not Path(f"{again}.part").exists()
        # A part of some other representation (its ETag differs): the server sends the whole again.
        Path(f"{again}.part").write_bytes(b"x" * 100)
        Path(f"{again}.part.etag").write_text('"not-this-bundle"\n')
        again.unlink()
        fresh = lawyer.ok("bundle", "download", str(disclosure["id"]), "-o", str(again))
        assert "Resumed" not in fresh.stderr and again.read_bytes() == whole

    # Offline: checked under the log key pinned at login, not the bundle's own.
    verified = lawyer.ok("bundle", "verify", str(bundle))
    assert verified.stdout.startswith("OK:") and "log key: trusted" in verified.stdout, verified.stdout
    assert "Using the log key pinned" in verified.stderr
    broken = tmp_path / "broken.zip"
    data = bytearray(whole)
    at = data.find(STATEMENT.encode()[:20])
    assert at > 0, "the statement is stored in the bundle uncompressed"
    data[at] ^= 0x20
    broken.write_bytes(bytes(data))
    failed = lawyer("bundle", "verify", str(broken))
    assert failed.returncode == 3 and failed.stdout.startswith("FAILED"), failed.stdout
