"""A disclosed case for the bundle tests: who consented to what, and the bundle fetched to disk."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from tests.conftest import Caller, ok
from tests.handmade_bundle import zip_bag

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = (
    "Мене звати Оксана Петренко, я живу в Херсоні на вулиці Садовій 12. "
    "On 1 March I saw soldiers lead seven prisoners to the quarry."
)
NAME = "Оксана Петренко"
REFUSED_STATEMENT = "I will speak to you, but this must not go to any court: the man with the red scarf."
SHARE = {"record": True, "share_with_prosecutors": True, "share_with_un_bodies": False, "disclose_identity": False}
KEEP_ONLY = {"record": True, "share_with_prosecutors": False, "share_with_un_bodies": False, "disclose_identity": False}


@dataclass
class Disclosed:
    case_id: int
    disclosure_id: int
    disclosure: dict[str, Any]
    legal: Caller
    interviewer: Caller
    witness_id: int
    refusing_witness_id: int
    interview_id: int

    @property
    def included(self) -> list[dict[str, Any]]:
        return [item for item in self.disclosure["items"] if item["decision"] == "included"]

    @property
    def excluded(self) -> list[dict[str, Any]]:
        return [item for item in self.disclosure["items"] if item["decision"] == "excluded"]


def disclose(
    people: dict[str, Caller],
    case_id: int,
    incident_id: int,
    witness_id: int,
    interview_id: int,
    *,
    extra_versions: int = 0,
) -> Disclosed:
    """Witness 1 consents to sharing with prosecutors; witness 2 only to the record being kept."""
    interviewer, legal = people["interviewer"], people["legal"]
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{witness_id}/consent", {"scopes": SHARE, "given_at": "2026-03-10T09:00:00Z"}
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{interview_id}/transcripts", {"text": STATEMENT}), 201)
    for n in range(extra_versions):
        ok(
            interviewer.post(
                f"/api/v1/interviews/{interview_id}/transcripts",
                {"text": f"{STATEMENT} Correction {n}.", "reason": f"correction {n}"},
            ),
            201,
        )
    ok(legal.get(f"/api/v1/interviews/{interview_id}/transcripts/1"))  # an access, to appear in the chain
    start = STATEMENT.index(NAME)
    redaction = ok(
        legal.post(
            f"/api/v1/interviews/{interview_id}/transcripts/1/redactions",
            {
                "spans": [
                    {
                        "start": start,
                        "end": start + len(NAME),
                        "category": "witness_identity",
                        "legal_basis": "Rule 81(4)",
                    }
                ]
            },
        ),
        201,
    )
    other = ok(
        interviewer.post(f"/api/v1/cases/{case_id}/witnesses", {"witness_type": "eyewitness", "risk_level": "high"}),
        201,
    )
    ok(
        interviewer.post(
            f"/api/v1/witnesses/{other['id']}/consent", {"scopes": KEEP_ONLY, "given_at": "2026-03-11T09:00:00Z"}
        ),
        201,
    )
    other_interview = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/interviews",
            {
                "witness_id": other["id"],
                "incident_ids": [incident_id],
                "conducted_at": "2026-03-11T10:00:00Z",
                "language": "en",
            },
        ),
        201,
    )
    ok(interviewer.post(f"/api/v1/interviews/{other_interview['id']}/transcripts", {"text": REFUSED_STATEMENT}), 201)
    items = [
        {"kind": "transcript_version", "interview_id": interview_id, "version": 1},
        {"kind": "redaction", "redaction_id": redaction["id"]},
        {"kind": "transcript_version", "interview_id": other_interview["id"], "version": 1},
        {"kind": "incident", "incident_id": incident_id},
    ]
    items += [
        {"kind": "transcript_version", "interview_id": interview_id, "version": n + 2} for n in range(extra_versions)
    ]
    # Version 1 has a redaction, so its unredacted text waits for a second lawyer of the case.
    pending = ok(
        legal.post(
            f"/api/v1/cases/{case_id}/disclosures",
            {
                "recipient": {
                    "name": "Karim Prosecutor",
                    "organisation": "Office of the Prosecutor",
                    "kind": "prosecutor",
                },
                "purpose": "Article 15 preliminary examination",
                "items": items,
            },
        ),
        202,
    )
    assert pending["status"] == "pending" and pending["approval_reasons"] == ["redacted_source"]
    disclosure = ok(people["legal2"].post(f"/api/v1/disclosures/{pending['id']}/approve"))
    return Disclosed(case_id, disclosure["id"], disclosure, legal, interviewer, witness_id, other["id"], interview_id)


def fetch_bundle(caller: Caller, disclosure_id: int, path: Path) -> Path:
    response = caller.get(f"/api/v1/disclosures/{disclosure_id}/bundle", buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    with path.open("wb") as out:
        for chunk in response.response:
            out.write(chunk)
    response.close()
    return path


def unzip(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(into)
    (root,) = list(into.iterdir())
    return root


def members(bundle: Path) -> dict[str, bytes]:
    """Every file of the bag, by its path inside the bag (without the base directory)."""
    with zipfile.ZipFile(bundle) as zf:
        return {info.filename.split("/", 1)[1]: zf.read(info) for info in zf.infolist() if not info.is_dir()}


def rezip(bundle: Path, target: Path, files: dict[str, bytes]) -> Path:
    """The same bag with ``files`` (path inside the bag -> bytes) as they are given."""
    with zipfile.ZipFile(bundle) as zf:
        root = zf.infolist()[0].filename.split("/", 1)[0]
    return zip_bag(root, files, target)


def run_verifier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casework.disclosure.verify", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def log_vkey(app: Flask, path: Path) -> Path:
    from casework.custody.signer import signer

    with app.app_context():
        path.write_text(signer().vkey() + "\n")
    return path


def pdf_text(pdf: bytes) -> str:
    """The text shown in a PDF made by fpdf2 (2-byte glyph codes mapped back through each font's
    ToUnicode CMap): enough to check what a printed index lists, without a PDF library."""
    streams = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    cmaps = []
    for stream in streams:
        if b"beginbfchar" not in stream and b"beginbfrange" not in stream:
            continue
        table: dict[int, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.DOTALL):
            for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.DOTALL):
            for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                    table[code] = chr(int(dst, 16) + offset)
        cmaps.append(table)
    shown = [_literal(s) for stream in streams for s in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.DOTALL)]
    lines = []
    for table in cmaps:
        for data in shown:
            lines.append(
                "".join(table.get(int.from_bytes(data[i : i + 2], "big"), "?") for i in range(0, len(data) - 1, 2))
            )
    return "\n".join(lines)


def _literal(raw: bytes) -> bytes:
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 1 < len(raw):
            nxt = raw[i + 1]
            if 0x30 <= nxt <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
                assert digits is not None
                out.append(int(digits.group(), 8) & 0xFF)
                i += 1 + len(digits.group())
                continue
            out += escapes.get(nxt, bytes([nxt]))
            i += 2
            continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def world_on(app: Flask) -> dict[str, Any]:
    """The ``world`` fixture's case, on an app of the test's own (e.g. one configured with witnesses)."""
    from tests.conftest import make_caller

    people = {
        name: make_caller(app, name, role)
        for name, role in (
            ("admin", "admin"),
            ("admin2", "admin"),
            ("interviewer", "interviewer"),
            ("legal", "legal"),
            ("legal2", "legal"),
        )
    }
    admin, interviewer, legal = people["admin"], people["interviewer"], people["legal"]
    case_id = ok(admin.post("/api/v1/cases", {"title": "Executions of prisoners, sector 4"}), 201)["id"]
    ok(admin.put(f"/api/v1/cases/{case_id}/members/{legal.id}"), 202)  # the first lawyer: a second admin approves
    ok(people["admin2"].post(f"/api/v1/cases/{case_id}/members/{legal.id}/approve"))
    ok(admin.put(f"/api/v1/cases/{case_id}/members/{interviewer.id}"), 202)
    ok(legal.post(f"/api/v1/cases/{case_id}/members/{interviewer.id}/approve"))
    ok(admin.put(f"/api/v1/cases/{case_id}/members/{people['legal2'].id}"), 202)
    ok(legal.post(f"/api/v1/cases/{case_id}/members/{people['legal2'].id}/approve"))
    incident = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/incidents",
            {
                "reference": "INC-1",
                "title": "Execution at the quarry",
                "occurred_from": "2026-03-01T05:00:00Z",
                "time_precision": "hour",
                "violation_types": ["execution-of-prisoners-of-war"],
            },
        ),
        201,
    )
    witness = ok(
        interviewer.post(f"/api/v1/cases/{case_id}/witnesses", {"witness_type": "eyewitness", "risk_level": "high"}),
        201,
    )
    interview = ok(
        interviewer.post(
            f"/api/v1/cases/{case_id}/interviews",
            {
                "witness_id": witness["id"],
                "incident_ids": [incident["id"]],
                "conducted_at": "2026-03-10T10:00:00Z",
                "language": "uk",
            },
        ),
        201,
    )
    return {
        "people": people,
        "case_id": case_id,
        "incident_id": incident["id"],
        "witness_id": witness["id"],
        "interview_id": interview["id"],
    }
