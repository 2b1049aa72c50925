"""Real C2SP witness processes (gunicorn), for the tests that need partners to cosign."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from casework.custody.witness_client import request_cosignature

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "casework.tlog_witness", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class WitnessProcess:
    def __init__(self, state_dir: Path, name: str) -> None:
        self.state_dir = state_dir
        self.name = name
        self.vkey = run_cli("init", str(state_dir), "--name", name).stdout.strip()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = state_dir.parent / f"{state_dir.name}.gunicorn.log"

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "casework.tlog_witness.wsgi:app"],
                cwd=ROOT,
                env=_env(CASEWORK_WITNESS_DIR=str(self.state_dir)),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"witness exited: {self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"witness did not listen: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: master and workers only
                self.proc.wait(timeout=5)
        self.proc = None

    def add_log(self, origin: str, vkey: str) -> None:
        run_cli("add-log", str(self.state_dir), "--origin", origin, "--vkey", vkey)

    def cosign(self, old: int, proof: list[bytes], checkpoint: str) -> list[str]:
        return request_cosignature(self.url, old, proof, checkpoint, TIMEOUT)


@contextmanager
def running_witnesses(base: Path, names: list[str]) -> Iterator[list[WitnessProcess]]:
    """Start one witness per name (each its own state directory under ``base``); always stop them."""
    procs = [WitnessProcess(base / f"w{i}", name) for i, name in enumerate(names, 1)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


@contextmanager
def app_witnessed_by(
    witnesses: list[WitnessProcess], backend: dict[str, str], keyring_path: str, tmp_path: Path, quorum: int = 2
) -> Iterator[tuple[Any, str]]:
    """An app with a signer state of its own whose publications ask these witnesses (the quorum
    given) to cosign, each witness told the log's key; the database is reset before and after."""
    from flask_migrate import upgrade

    from casework.custody.signer import signer
    from casework.db import db
    from tests.conftest import make_app, reset_database

    config = tmp_path / "witnesses.json"
    config.write_text(json.dumps([{"name": w.name, "vkey": w.vkey, "url": w.url} for w in witnesses]))
    app = make_app(
        backend,
        keyring_path,
        CASEWORK_SIGNER_STATE=str(tmp_path / "signer.state"),
        CASEWORK_WITNESSES=str(config),
        CASEWORK_WITNESS_QUORUM=quorum,
    )
    with app.app_context():
        upgrade()
        reset_database()
        vkey = signer().vkey()
    for w in witnesses:
        w.add_log(app.config["CASEWORK_LOG_ORIGIN"], vkey)
    try:
        yield app, vkey
    finally:
        with app.app_context():
            reset_database()
            db.engine.dispose()
