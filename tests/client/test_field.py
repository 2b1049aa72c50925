"""A field interviewer with ``casework``: first login (the password an admin set must be changed),
statements with receipts verified under the log's key pinned on first use, and what a changed
key does."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from casework.db import db
from casework.transcripts.models import TranscriptVersion
from casework_verify.note import parse_vkey, vkey_string
from tests.client.conftest import STRONG, log_vkey, reset_password, serve, url
from tests.conftest import World
from tests.helpers import publish

STATEMENT = "Я бачив, як їх вели до кар'єру. They were taken to the quarry at dawn.\n"


def test_first_login_statement_receipts_and_pinning(app, backend, pg_only, world: World, cli, tmp_path: Path):
    reset_password(world, "interviewer", "admin chose this 4 you")
    field = cli("interviewer")
    statement = tmp_path / "W-0001 statement.txt"
    statement.write_text(STATEMENT, encoding="utf-8")
    with serve(app, backend) as server:
        # An admin set the password: without a new one (and no terminal) login says what to do.
        refused = field(
            "login",
            "--server",
            url(server),
            "--username",
            "interviewer",
            env={"CASEWORK_PASSWORD": "admin chose this 4 you"},
        )
        assert refused.returncode == 1 and "--new-password" in refused.stderr, refused.stderr
        done = field.ok(
            "login",
            "--server",
            url(server),
            "--username",
            "interviewer",
            env={"CASEWORK_PASSWORD": "admin chose this 4 you", "CASEWORK_NEW_PASSWORD": STRONG},
        )
        assert "Password changed" in done.stderr
        # The log's key is public: pinned on first use at login, as SSH pins a host key.
        assert "Pinned the log's key on first use" in done.stderr
        config = field.config / "config.json"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600 and stat.S_IMODE(field.config.stat().st_mode) == 0o700
        settings = field.settings()
        assert settings["token"].startswith("cwk_")
        assert settings["known_logs"][url(server)]["vkey"] == log_vkey(world)
        # The admin's password is gone, the new one works (through the same API).
        assert world.people["admin"].get(f"/api/v1/users/{world.people['interviewer'].id}").status_code == 200

        first = field.json("statement", "upload", str(world.interview_id), str(statement))
        assert first["verified"] is True, first
        assert first["receipt"]["sha256"] == hashlib.sha256(statement.read_bytes()).hexdigest()
        assert first["receipt"]["version"] == 1

        # Another key offered later (same name, another key) is refused, as SSH does...
        impostor = vkey_string(parse_vkey(log_vkey(world)).name, Ed25519PrivateKey.generate().public_key())
        changed = field("key", "pin", impostor)
        assert changed.returncode == 3 and "THE CUSTODY LOG'S KEY HAS CHANGED" in changed.stderr
        assert field.settings()["known_logs"][url(server)]["vkey"] == log_vkey(world)
        # ...and one forced in (--replace) makes every upload fail loudly: the server's key is not it.
        field.ok("key", "pin", impostor, "--replace")
        statement.write_text(STATEMENT + "Correction: it was the northern quarry.\n", encoding="utf-8")
        wrong = field("statement", "upload", str(world.interview_id), str(statement), "--reason", "place corrected")
        assert wrong.returncode == 3 and "THE CUSTODY LOG'S KEY HAS CHANGED" in wrong.stderr, wrong.stderr
        # The real key, checked out of band, put back.
        real = tmp_path / "log.vkey"
        real.write_text(log_vkey(world) + "\n")
        field.ok("key", "pin", str(real), "--replace")
        assert field.ok("key", "show").stdout.splitlines()[0] == real.read_text().strip()

        statement.write_text(STATEMENT + "Second correction: seven men.\n", encoding="utf-8")
        third = field.json("statement", "upload", str(world.interview_id), str(statement), "--reason", "count")
        assert third["verified"] is True and third["receipt"]["version"] == 3, third
        assert any("signature: valid" in fact for fact in third["facts"])
        table = field.ok("statement", "upload", str(world.interview_id), str(statement), "--reason", "again")
        assert "Receipt: interview" in table.stdout and "OK signature: valid" in table.stdout

        # Later: the stored receipt, checked against the very file, and its inclusion once published.
        publish(app)
        later = field.json("statement", "receipt", str(world.interview_id), "3", str(statement))
        assert later["verified"] is True
        assert any(fact.startswith("log: included at seq") for fact in later["facts"]), later["facts"]
        other = tmp_path / "other.txt"
        other.write_text("not what was sent\n", encoding="utf-8")
        mismatch = field("statement", "receipt", str(world.interview_id), "3", str(other))
        assert mismatch.returncode == 3 and "not the file that was receipted" in mismatch.stderr, mismatch.stderr
        other.write_bytes(statement.read_bytes()[:-2] + b"!\n")  # the same size, one byte changed
        mismatch = field("statement", "receipt", str(world.interview_id), "3", str(other))
        assert mismatch.returncode == 3 and "not the file that was receipted" in mismatch.stderr, mismatch.stderr
    with app.app_context():
        versions = db.session.scalars(
            select(TranscriptVersion.version).where(TranscriptVersion.interview_id == world.interview_id)
        ).all()
        assert sorted(versions) == [1, 2, 3, 4]


def test_login_with_a_second_factor(app, backend, pg_only, world: World, cli):
    """An auditor with TOTP logs in with --totp; the log key is pinned on first use at login."""
    import pyotp

    auditor = world.people["auditor"]
    secret = auditor.post("/api/v1/auth/mfa/totp", {"password": auditor.password}).get_json()["secret"]
    totp = pyotp.TOTP(secret)
    assert auditor.post("/api/v1/auth/mfa/totp/confirm", {"code": totp.now()}).status_code == 200
    person = cli("auditor")
    with serve(app, backend) as server:
        env = {"CASEWORK_PASSWORD": auditor.password}
        missing = person("login", "--server", url(server), "--username", "auditor", env=env)
        assert missing.returncode == 1 and "--totp" in missing.stderr, missing.stderr
        # The next step's code (the confirmation used this one; a code is accepted one step early).
        import time

        code = totp.at(time.time() + 30)
        done = person.ok("login", "--server", url(server), "--username", "auditor", "--totp", code, env=env)
        assert "Pinned the log's key on first use" in done.stderr
        assert person.settings()["known_logs"][url(server)]["vkey"] == log_vkey_from(app)
        person.ok("logout")
        assert person.settings()["token"] is None


def log_vkey_from(app) -> str:
    from casework.custody.signer import signer

    with app.app_context():
        return signer().vkey()
