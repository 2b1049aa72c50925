"""The whole app on a PKCS#11 keyring (SoftHSM2): statements sealed and checkpoints signed in the token.

Runs in a subprocess of its own, because SoftHSM2 fixes its token list when a process first
initialises PKCS#11 (the unit tests in tests/unit/test_pkcs11_keyring.py use other tokens).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.test_pkcs11_keyring import PIN, SO_PIN, _install_softhsm

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
from flask_migrate import upgrade
from casework import create_app
from casework.crypto.pkcs11_keyring import Pkcs11Keyring
from casework_verify import note
from casework.db import db
from tests.conftest import make_caller

module, db_url, state = sys.argv[1:4]
Pkcs11Keyring.initialise(module, "casework-app", "1234", log_name="casework.test/hsm-log")
app = create_app("testing", {
    "SQLALCHEMY_DATABASE_URI": db_url,
    "CASEWORK_KEYRING": f"pkcs11:token=casework-app;module={module}",
    "CASEWORK_SIGNER_STATE": state,
    "LOG_LEVEL": "WARNING",
})
with app.app_context():
    upgrade()
admin, interviewer = make_caller(app, "admin", "admin"), make_caller(app, "ivan", "interviewer")
legal, auditor = make_caller(app, "lawyer", "legal"), make_caller(app, "audra", "auditor")
admin2 = make_caller(app, "admin2", "admin")
case = admin.post("/api/v1/cases", {"title": "HSM case"}).get_json()["id"]
# Two people: a second admin approves the first lawyer, who approves the interviewer.
assert admin.put(f"/api/v1/cases/{case}/members/{legal.id}").status_code == 202
assert admin2.post(f"/api/v1/cases/{case}/members/{legal.id}/approve").status_code == 200
assert admin.put(f"/api/v1/cases/{case}/members/{interviewer.id}").status_code == 202
assert legal.post(f"/api/v1/cases/{case}/members/{interviewer.id}/approve").status_code == 200
witness = interviewer.post(f"/api/v1/cases/{case}/witnesses",
                           {"witness_type": "victim", "risk_level": "high",
                            "identity": {"full_name": "Oksana Hrytsenko"}}).get_json()["id"]
interview = interviewer.post(f"/api/v1/cases/{case}/interviews", {
    "witness_id": witness, "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"}).get_json()["id"]
receipt = interviewer.post(f"/api/v1/interviews/{interview}/transcripts", {"text": "They took them to the quarry."})
assert receipt.status_code == 201, receipt.get_data(as_text=True)
read = legal.get(f"/api/v1/interviews/{interview}/transcripts/1").get_json()
identity = legal.get(f"/api/v1/witnesses/{witness}?include=identity").get_json()["identity"]
published = app.test_cli_runner().invoke(args=["custody", "publish"])
assert published.exit_code == 0, published.output
served = auditor.get("/api/v1/custody/checkpoint").get_data(as_text=True)
vkey = auditor.get("/api/v1/custody/public-key").get_data(as_text=True).strip()
checkpoint = note.parse_checkpoint(note.open_note(served, vkey))
# Withdrawal destroys the witness's key inside the token.
from casework.keys import keyring
with app.app_context():
    had_key = keyring().has_subject_key(f"witness:{witness}")
withdrawn = interviewer.post(f"/api/v1/witnesses/{witness}/consent", {
    "scopes": {"record": True, "share_with_prosecutors": False, "share_with_un_bodies": False,
               "disclose_identity": False},
    "given_at": "2026-03-10T09:00:00Z", "withdrawn_at": "2026-03-11T09:00:00Z"})
assert withdrawn.status_code == 201, withdrawn.get_data(as_text=True)
confirmed = legal.post(f"/api/v1/witnesses/{witness}/erasure/confirm", {})  # the second person
assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
gone = [legal.get(f"/api/v1/interviews/{interview}/transcripts/1").status_code,
        legal.get(f"/api/v1/witnesses/{witness}?include=identity").status_code]
with app.app_context():
    key_left = keyring().has_subject_key(f"witness:{witness}")
print(json.dumps({"text": read["text"], "name": identity["full_name"], "origin": checkpoint.origin,
                  "size": checkpoint.size, "receipt_log": receipt.get_json()["log_origin"],
                  "subject_key": [had_key, key_left], "after_withdrawal": gone}))
"""


def test_the_app_seals_and_signs_inside_the_token(tmp_path: Path):
    module = _install_softhsm()
    tokens = tmp_path / "tokens"
    tokens.mkdir(mode=0o700)
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update(SOFTHSM2_CONF=str(conf), CASEWORK_PKCS11_PIN=PIN, PYTHONPATH=str(REPO))
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "casework-app", "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )
    database = tmp_path / "casework.sqlite3"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, module, f"sqlite:///{database}", str(tmp_path / "signer.state")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # Twelve events: the case, two memberships proposed and two approved, witness, interview, upload, read,
    # witness and identity reads, and the publication itself, which the signed head includes.
    assert outcome == {
        "text": "They took them to the quarry.",
        "name": "Oksana Hrytsenko",
        "origin": "casework.test/hsm-log",
        "size": 12,
        "receipt_log": "casework.test/hsm-log",
        "subject_key": [True, False],
        "after_withdrawal": [410, 410],
    }
    # No keyring file was made: the keys live only in the token, and nothing readable leaks to disk.
    assert not list(tmp_path.glob("*keyring*"))
    for path in tmp_path.glob("casework.sqlite3*"):  # the database, its WAL and shared memory
        assert b"Oksana" not in path.read_bytes() and b"quarry" not in path.read_bytes(), path
