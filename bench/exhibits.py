"""Exhibits at scale: 1 GiB through the real tus client (tuspy) into gunicorn + PostgreSQL and back.

    python -m bench.exhibits                       # 1 GiB, filesystem and database blob stores
    python -m bench.exhibits --size-mib 256 --store database

For each blob store: a fresh upload with tuspy (PATCHes of ``--patch-mib``, sha256 checksums),
then a whole download read in 1 MiB pieces and hashed, then random 64 KiB ranged reads (a
player seeking). The gunicorn worker's resident memory is sampled every 20 ms during each phase
(one worker, so every byte goes through it). Then the cost of the encryption itself, in
process: a plain file copy against the same bytes encrypted into the filesystem blob store
(1 MiB AES-256-GCM chunks, each written to a temporary file and renamed, fsynced), and the
decryption of all of them. Prints a markdown table; the numbers also go to bench/out/exhibits.json.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bench.common import PG_SERVER, SERVER_ENV, ScratchCase, child_pids, percentiles, rss_kib
from tests.pg_server import gunicorn

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("CASEWORK_BENCH_EXHIBITS_DB", "casework_bench_exhibits")
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
SCRATCH = Path(os.environ.get("CASEWORK_BENCH_EXHIBITS_DIR", Path(tempfile.gettempdir()) / "casework-bench-exhibits"))
KEYRING = str(SCRATCH / "keyring.json")


def recreate_database() -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def seed() -> dict[str, Any]:
    """A case with a lawyer and an interviewer, a witness and an interview; bearer tokens for both."""
    scratch = ScratchCase(DATABASE_URL, KEYRING)
    witness = scratch.call(
        "interviewer",
        "POST",
        f"/api/v1/cases/{scratch.case_id}/witnesses",
        {"witness_type": "eyewitness", "risk_level": "low"},
        201,
    )["id"]
    interview = scratch.call(
        "interviewer",
        "POST",
        f"/api/v1/cases/{scratch.case_id}/interviews",
        {"witness_id": witness, "conducted_at": "2026-03-10T10:00:00Z", "language": "uk"},
        201,
    )["id"]
    scratch.close()
    return {"tokens": scratch.tokens, "interview": interview}


def make_recording(path: Path, size: int) -> str:
    """An 'audio/mpeg' file of ``size`` bytes (incompressible), and its SHA-256."""
    hasher = hashlib.sha256()
    rng = random.Random(7)
    block = rng.randbytes(MiB)
    with path.open("wb") as out:
        first = b"ID3\x03\x00\x00\x00\x00\x00\x00" + block[10:]
        written = 0
        while written < size:
            piece = (first if written == 0 else bytes([written // MiB % 251]) + block[1:])[: size - written]
            out.write(piece)
            hasher.update(piece)
            written += len(piece)
    return hasher.hexdigest()


class RssSampler:
    """The gunicorn worker's resident set, sampled every 20 ms; the peak per phase."""

    def __init__(self, master: int) -> None:
        self.master, self.phase, self.peaks = master, "idle", {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = max((rss_kib(pid) for pid in child_pids(self.master)), default=0)
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            time.sleep(0.02)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {phase: kib / 1024 for phase, kib in self.peaks.items()}


@contextmanager
def server(store: str, blob_dir: Path):
    """One gunicorn worker (every byte passes through the process measured), as the tests start it."""
    stored = {**SERVER_ENV, "CASEWORK_BLOB_STORE": store, "CASEWORK_BLOB_DIR": str(blob_dir)}
    with gunicorn(DATABASE_URL, KEYRING, workers=1, extra_env=stored) as running:
        yield running.port, running.process.pid


def run_store(store: str, world: dict[str, Any], recording: Path, digest: str, patch_mib: int) -> dict[str, Any]:
    from tusclient import client
    from tusclient.uploader import Uploader

    class Sha256Uploader(Uploader):
        CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

    size = recording.stat().st_size
    blob_dir = SCRATCH / f"blobs-{store}"
    shutil.rmtree(blob_dir, ignore_errors=True)
    with server(store, blob_dir) as (port, master):
        sampler = RssSampler(master)
        time.sleep(0.3)
        idle = max((rss_kib(pid) for pid in child_pids(master)), default=0) / 1024
        sampler.phase = "upload"
        endpoint = f"http://127.0.0.1:{port}/api/v1/interviews/{world['interview']}/exhibits/uploads"
        uploader = Sha256Uploader(
            str(recording),
            client=client.TusClient(endpoint, headers={"Authorization": f"Bearer {world['tokens']['interviewer']}"}),
            chunk_size=patch_mib * MiB,
            upload_checksum=True,
            metadata={"kind": "audio", "filename": "bench.mp3"},
        )
        start = time.perf_counter()
        uploader.upload()
        upload_s = time.perf_counter() - start
        receipt = json.loads(uploader.request.response_content)
        assert receipt["sha256"] == digest, "the receipt's hash is not the file's"
        exhibit = receipt["exhibit_id"]
        sampler.phase = "download"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        auth = {"Authorization": f"Bearer {world['tokens']['legal']}"}
        start = time.perf_counter()
        connection.request("GET", f"/api/v1/exhibits/{exhibit}/content", headers=auth)
        response = connection.getresponse()
        hasher, received = hashlib.sha256(), 0
        while piece := response.read(MiB):
            hasher.update(piece)
            received += len(piece)
        download_s = time.perf_counter() - start
        assert response.status == 200 and received == size and hasher.hexdigest() == digest
        sampler.phase = "ranges"
        samples = []
        rng = random.Random(3)
        for _ in range(100):
            first = rng.randrange(size - 65536)
            began = time.perf_counter()
            connection.request(
                "GET",
                f"/api/v1/exhibits/{exhibit}/content",
                headers={**auth, "Range": f"bytes={first}-{first + 65535}"},
            )
            response = connection.getresponse()
            body = response.read()
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status == 206 and len(body) == 65536
        connection.close()
        peaks = sampler.stop()
        hwm = max((rss_kib(pid, "VmHWM") for pid in child_pids(master)), default=0) / 1024
    shutil.rmtree(blob_dir, ignore_errors=True)
    return {
        "store": store,
        "size_mib": size / MiB,
        "upload_s": upload_s,
        "upload_mb_s": size / 1e6 / upload_s,
        "download_s": download_s,
        "download_mb_s": size / 1e6 / download_s,
        "idle_rss_mib": idle,
        "upload_rss_mib": peaks.get("upload", 0.0),
        "download_rss_mib": peaks.get("download", 0.0),
        "worker_hwm_mib": hwm,
        "range_64k_ms": percentiles(samples),
    }


def encryption_overhead(recording: Path) -> dict[str, float]:
    """Plain copy of the file vs the same bytes encrypted into the filesystem store, and back."""
    from casework.blobs.filesystem import FilesystemStore
    from casework.crypto.envelope import bind
    from casework.crypto.stream import ChunkReader, ChunkWriter, chunk_count, new_data_key
    from casework.files import fsync_dir

    size = recording.stat().st_size
    with recording.open("rb") as warm:  # both sides read from the page cache, not the first from disk
        while warm.read(8 * MiB):
            pass
    copy = SCRATCH / "plain-copy.bin"
    start = time.perf_counter()
    with recording.open("rb") as source, copy.open("wb") as target:
        while piece := source.read(MiB):
            target.write(piece)
        target.flush()
        os.fsync(target.fileno())
    plain_s = time.perf_counter() - start
    copy.unlink()
    store_dir = SCRATCH / "overhead-store"
    shutil.rmtree(store_dir, ignore_errors=True)
    store = FilesystemStore(store_dir)
    key, context, blob = new_data_key(), bind("exhibit_content", "1/bench", parents={"case": 1}), "ab" * 16
    last = chunk_count(size, MiB) - 1
    start = time.perf_counter()
    writer = ChunkWriter(key, context)
    with recording.open("rb") as source:
        index = 0
        while piece := source.read(MiB):
            store.put(blob, index, writer.encrypt(index, piece, final=index == last))
            index += 1
    store.sync(blob)
    fsync_dir(store_dir)
    encrypted_s = time.perf_counter() - start
    start = time.perf_counter()
    reader = ChunkReader(key, context)
    for index, record in store.iter_records(blob, range(last + 1)):
        reader.decrypt(index, record, final=index == last)
    decrypt_s = time.perf_counter() - start
    start = time.perf_counter()
    writer, data = ChunkWriter(key, context), recording.open("rb")
    with data:
        index = 0
        while piece := data.read(MiB):
            writer.encrypt(index, piece, final=index == last)
            index += 1
    cipher_only_s = time.perf_counter() - start
    shutil.rmtree(store_dir, ignore_errors=True)
    mb = size / 1e6
    return {
        "plain_copy_mb_s": mb / plain_s,
        "encrypted_store_mb_s": mb / encrypted_s,
        "overhead_ratio": encrypted_s / plain_s,
        "decrypt_from_store_mb_s": mb / decrypt_s,
        "aes_gcm_only_mb_s": mb / cipher_only_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--patch-mib", type=int, default=64, help="tuspy chunk size: bytes per PATCH")
    parser.add_argument("--store", choices=["filesystem", "database", "both"], default="both")
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    recreate_database()
    world = seed()
    recording = SCRATCH / "recording.mp3"
    digest = make_recording(recording, args.size_mib * MiB)
    stores = ["filesystem", "database"] if args.store == "both" else [args.store]
    try:
        rows = [run_store(store, world, recording, digest, args.patch_mib) for store in stores]
        overhead = encryption_overhead(recording)
    finally:
        recording.unlink(missing_ok=True)
        drop_database()  # a GiB of chunk rows per run
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "exhibits.json").write_text(json.dumps({"stores": rows, "overhead": overhead}, indent=2))
    print(f"\n### Exhibits: {args.size_mib} MiB through tuspy (PATCH {args.patch_mib} MiB), one gunicorn worker\n")
    print(
        "| store | upload MB/s | download MB/s | worker RSS idle / upload / download (MiB) | "
        "64 KiB range p50 / p95 (ms) |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['store']} | {row['upload_mb_s']:.0f} | {row['download_mb_s']:.0f} | "
            f"{row['idle_rss_mib']:.0f} / {row['upload_rss_mib']:.0f} / {row['download_rss_mib']:.0f} | "
            f"{row['range_64k_ms']['p50']:.1f} / {row['range_64k_ms']['p95']:.1f} |"
        )
    print("\n| in process, 1 MiB chunks | MB/s |\n|---|---|")
    print(f"| plain file copy (fsynced) | {overhead['plain_copy_mb_s']:.0f} |")
    print(
        f"| encrypted into the filesystem store (fsynced) | {overhead['encrypted_store_mb_s']:.0f} "
        f"({overhead['overhead_ratio']:.2f}x the copy's time) |"
    )
    print(f"| decrypted from the filesystem store | {overhead['decrypt_from_store_mb_s']:.0f} |")
    print(f"| AES-256-GCM alone (chunks from the file) | {overhead['aes_gcm_only_mb_s']:.0f} |")


if __name__ == "__main__":
    main()
