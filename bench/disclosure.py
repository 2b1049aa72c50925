"""A disclosure bundle of 1,000 items streamed from gunicorn + PostgreSQL, with the worker's RSS.

    python -m bench.disclosure                 # 1,000 items (990 statements, 10 exhibits of 4 MiB)
    python -m bench.disclosure --items 200     # smaller

Seeds a fresh database in process: witnesses who consent to sharing with prosecutors, each
with statement versions of ~8 KB; ``--exhibits`` recordings uploaded by tus; one witness who
did not consent (their statements are requested and excluded). A lawyer discloses all of it to
a prosecutor; then one gunicorn worker (sync, so every byte passes through the process
measured) streams the bundle while its resident memory is sampled every 20 ms. The bundle is
then checked offline (``casework-verify bundle``) and by the Library of Congress ``bagit``.
Prints a markdown table; the numbers also go to bench/out/disclosure.json.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bench.common import PG_SERVER, SERVER_ENV, ScratchCase, child_pids, rss_kib
from tests.pg_server import gunicorn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DB_NAME = os.environ.get("CASEWORK_BENCH_DISCLOSURE_DB", "casework_bench_disclosure")
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
SCRATCH = Path(os.environ.get("CASEWORK_BENCH_DISCLOSURE_DIR", Path(tempfile.gettempdir()) / "casework-bench-disc"))
KEYRING = str(SCRATCH / "keyring.json")
MiB = 1024 * 1024
SHARE = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
KEEP_ONLY = {**SHARE, "share_with_prosecutors": False}
STATEMENT = ("On the morning of 1 March the prisoners were lined up by the quarry wall; I counted seven. " * 90)[:8000]


def recreate() -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def seed(items: int, exhibits: int, per_witness: int = 100) -> dict[str, Any]:
    """The case, its consenting witnesses' statements and exhibits, and the disclosure of them all."""
    scratch = ScratchCase(DATABASE_URL, KEYRING, CASEWORK_BLOB_DIR=str(SCRATCH / "blobs"))
    call, client, tokens, case = scratch.call, scratch.client, scratch.tokens, scratch.case_id
    requested: list[dict[str, Any]] = []

    def witness_with_interview(scopes: dict[str, bool]) -> int:
        witness = call(
            "interviewer",
            "POST",
            f"/api/v1/cases/{case}/witnesses",
            {"witness_type": "eyewitness", "risk_level": "low"},
            201,
        )["id"]
        call(
            "interviewer",
            "POST",
            f"/api/v1/witnesses/{witness}/consent",
            {"scopes": scopes, "given_at": "2026-03-10T09:00:00Z"},
            201,
        )
        return call(
            "interviewer",
            "POST",
            f"/api/v1/cases/{case}/interviews",
            {"witness_id": witness, "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"},
            201,
        )["id"]

    statements = items - exhibits
    interview = 0
    for n in range(statements):
        if n % per_witness == 0:
            interview = witness_with_interview(SHARE)
        version = n % per_witness + 1
        call(
            "interviewer",
            "POST",
            f"/api/v1/interviews/{interview}/transcripts",
            {"text": f"{n:06d} {STATEMENT}", **({"reason": "clarified"} if version > 1 else {})},
            201,
        )
        requested.append({"kind": "transcript_version", "interview_id": interview, "version": version})
    rng = random.Random(3)
    for _ in range(exhibits):
        content = b"ID3\x03\x00\x00\x00\x00\x00\x00" + rng.randbytes(4 * MiB - 10)
        tus = {"Tus-Resumable": "1.0.0"}
        created = client.post(
            f"/api/v1/interviews/{interview}/exhibits/uploads",
            headers={
                "Authorization": f"Bearer {tokens['interviewer']}",
                **tus,
                "Upload-Length": str(len(content)),
                "Upload-Metadata": f"kind {base64.b64encode(b'audio').decode()}",
            },
        )
        assert created.status_code == 201, created.get_data(as_text=True)
        offset = 0
        while offset < len(content):
            piece = content[offset : offset + MiB]
            done = client.patch(
                created.headers["Location"],
                data=piece,
                content_type="application/offset+octet-stream",
                headers={"Authorization": f"Bearer {tokens['interviewer']}", **tus, "Upload-Offset": str(offset)},
            )
            assert done.status_code in (200, 204), done.get_data(as_text=True)[:500]
            offset = int(done.headers["Upload-Offset"])
        exhibit = int(created.headers["Location"].split("/")[-2])  # /api/v1/exhibits/<id>/upload
        requested.append({"kind": "exhibit", "exhibit_id": exhibit})
    refusing = witness_with_interview(KEEP_ONLY)
    for version in range(1, 11):
        call(
            "interviewer",
            "POST",
            f"/api/v1/interviews/{refusing}/transcripts",
            {"text": f"not to be shared {version}", **({"reason": "again"} if version > 1 else {})},
            201,
        )
        requested.append({"kind": "transcript_version", "interview_id": refusing, "version": version})
    started = time.perf_counter()
    disclosure = call(
        "legal",
        "POST",
        f"/api/v1/cases/{case}/disclosures",
        {
            "recipient": {"name": "Bench Prosecutor", "organisation": "Office of the Prosecutor", "kind": "prosecutor"},
            "purpose": "benchmark",
            "items": requested,
        },
        201,
    )
    create_s = time.perf_counter() - started
    with scratch.app.app_context():
        from casework.custody.signer import signer

        vkey = signer().vkey()
    scratch.close()
    return {
        "token": tokens["legal"],
        "disclosure": disclosure["id"],
        "vkey": vkey,
        "create_s": create_s,
        "included": disclosure["included_count"],
        "excluded": disclosure["excluded_count"],
    }


class RssSampler:
    """Peak RSS of the gunicorn worker, and separately of the PDF-index child it starts."""

    def __init__(self, master: int) -> None:
        self.master, self.peak_kib, self.child_peak_kib = master, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = child_pids(self.master)
            self.peak_kib = max(self.peak_kib, max((rss_kib(p) for p in workers), default=0))
            children = [c for w in workers for c in child_pids(w)]
            self.child_peak_kib = max(self.child_peak_kib, max((rss_kib(c) for c in children), default=0))
            time.sleep(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


@contextmanager
def server():
    """One gunicorn worker (every byte passes through the process measured), as the tests start it."""
    env = {**SERVER_ENV, "CASEWORK_BLOB_DIR": str(SCRATCH / "blobs")}
    with gunicorn(DATABASE_URL, KEYRING, workers=1, extra_env=env) as running:
        yield running.port, running.process.pid


def run(items: int, exhibits: int) -> dict[str, Any]:
    recreate()
    started = time.perf_counter()
    world = seed(items, exhibits)
    seed_s = time.perf_counter() - started
    target = SCRATCH / "bundle.zip"
    with server() as (port, master):
        time.sleep(0.5)
        idle = max((rss_kib(p) for p in child_pids(master)), default=0) / 1024
        sampler = RssSampler(master)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        started = time.perf_counter()
        connection.request(
            "GET",
            f"/api/v1/disclosures/{world['disclosure']}/bundle",
            headers={"Authorization": f"Bearer {world['token']}"},
        )
        response = connection.getresponse()
        first_byte_s = time.perf_counter() - started
        assert response.status == 200, response.read()[:500]
        size = 0
        with target.open("wb") as out:
            while chunk := response.read(256 * 1024):
                out.write(chunk)
                size += len(chunk)
        stream_s = time.perf_counter() - started
        peak = sampler.stop()
        child_peak = sampler.child_peak_kib / 1024
        hwm = max((rss_kib(p, "VmHWM") for p in child_pids(master)), default=0) / 1024
    with zipfile.ZipFile(target) as zf:
        files = len(zf.infolist())
        index_size = next(i.file_size for i in zf.infolist() if i.filename.endswith("data/index.pdf"))
    started = time.perf_counter()
    verify = subprocess.run(
        [sys.executable, "-m", "casework_verify", "bundle", str(target), "--vkey", world["vkey"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    verify_s = time.perf_counter() - started
    bag_dir = SCRATCH / "unzipped"
    started = time.perf_counter()
    with zipfile.ZipFile(target) as zf:
        zf.extractall(bag_dir)
    import bagit

    (root,) = list(bag_dir.iterdir())
    bagit_ok = bagit.Bag(str(root)).is_valid()
    bagit_s = time.perf_counter() - started
    return {
        "items_requested": items + 10,
        "included": world["included"],
        "excluded": world["excluded"],
        "exhibits": exhibits,
        "seed_s": seed_s,
        "create_s": world["create_s"],
        "first_byte_s": first_byte_s,
        "stream_s": stream_s,
        "bundle_mb": size / 1e6,
        "zip_files": files,
        "index_pdf_kb": index_size / 1024,
        "idle_rss_mib": idle,
        "peak_rss_mib": peak,
        "index_child_peak_mib": child_peak,
        "worker_hwm_mib": hwm,
        "verify_ok": verify.returncode == 0,
        "verify_s": verify_s,
        "verify_out": verify.stdout.strip()[:300],
        "bagit_ok": bagit_ok,
        "bagit_s": bagit_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--exhibits", type=int, default=10)
    args = parser.parse_args()
    result = run(args.items, args.exhibits)
    OUT.mkdir(exist_ok=True)
    (OUT / "disclosure.json").write_text(json.dumps(result, indent=2))
    print(
        f"\n### Disclosure bundle: {result['included']} items included, {result['excluded']} excluded, "
        "one gunicorn worker on PostgreSQL\n"
    )
    print(
        "| bundle | first byte | streamed in | worker RSS idle / peak (MiB) | PDF child peak | index.pdf | "
        "offline verify | bagit |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {result['bundle_mb']:.1f} MB, {result['zip_files']} files | {result['first_byte_s']:.1f} s | "
        f"{result['stream_s']:.1f} s | {result['idle_rss_mib']:.0f} / {result['peak_rss_mib']:.0f} "
        f"(target < 150) | {result['index_child_peak_mib']:.0f} MiB | {result['index_pdf_kb']:.0f} KiB | "
        f"{'OK' if result['verify_ok'] else 'FAILED'} in {result['verify_s']:.1f} s | "
        f"{'valid' if result['bagit_ok'] else 'INVALID'} in {result['bagit_s']:.1f} s |"
    )
    print(f"\n(seeding {result['seed_s']:.0f} s; creating the disclosure {result['create_s']:.1f} s)")


if __name__ == "__main__":
    main()
