"""A disclosure bundle made by hand, without the app: a small log, its signed and cosigned
checkpoint, and a bag in the trail format of SPEC v3 (proven entries with hidden identities and
staff pseudonyms, hash-only lines for what is withheld).

The verifier is tested against it, and against copies changed and then signed again with the
log's key, so that what catches a change is the check meant to (a proof, a leaf hash), not the
signed manifests around it. Real keys, real hashes: nothing is mocked.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casework_verify import bag_format as fmt
from casework_verify import cosignature, leaf, merkle, note
from casework_verify.canonical import canonical_json

ORIGIN = "casework.test/custody"
LOG_KEY = Ed25519PrivateKey.generate()
VKEY = note.vkey_string(ORIGIN, LOG_KEY.public_key())
WITNESSES = {f"witness{i}.partner.example/w": Ed25519PrivateKey.generate() for i in (1, 2)}
WITNESS_VKEYS = [cosignature.cosigner_vkey(name, key.public_key()) for name, key in WITNESSES.items()]
COSIGNED_AT = {"witness1.partner.example/w": 1_780_000_000, "witness2.partner.example/w": 1_780_000_042}
DISCLOSURE_ID = 3
BAG = f"disclosure-{DISCLOSURE_ID}"
REGISTRATION = "CW-2026-0001"
ITEM = fmt.item_dir(1)
STATEMENT = b"On 1 March I saw soldiers lead seven prisoners to the quarry.\n"
HIDDEN = ("actor_id", "actor_username", "client_addr", "details.recipient.name", "details.recipient.organisation")


def _event(
    seq: int,
    action: str,
    resource: tuple[str, str],
    outcome: str = "allowed",
    username: str = "a.okafor",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The auditor's entry of one event, as the log stores it (leaf form v2, values and salts)."""
    fields = SimpleNamespace(
        actor_id=3 + seq,
        actor_username=username,
        actor_role="legal",
        action=action,
        outcome=outcome,
        resource_type=resource[0],
        resource_id=resource[1],
        case_id=1,
        witness_id=None,
        request_id=f"req-{seq}",
        client_addr=f"10.0.0.{seq}",
        details=details or {},
    )
    salt = hashlib.sha256(b"event salt %d" % seq).digest()
    return leaf.make_entry(seq, datetime(2026, 3, 10, 9, seq, tzinfo=UTC), fields, salt)


TRANSCRIPT, SOURCE, DISCLOSURE = ("transcript", "7"), ("transcript", "6"), ("disclosure", str(DISCLOSURE_ID))
RECIPIENT = {"name": "Karim Prosecutor", "organisation": "Office of the Prosecutor", "kind": "prosecutor"}
LOG = [
    _event(0, "transcript.create", TRANSCRIPT, username="i.interviewer"),
    _event(1, "disclosure.create", ("case", "1"), details={"created_disclosure": DISCLOSURE_ID}),  # its origin
    _event(2, "transcript.read", TRANSCRIPT, outcome="denied", username="m.haddad"),
    _event(3, "transcript.read", TRANSCRIPT, username="j.lindqvist", details={"via": "disclosure.bundle"}),
    _event(4, "disclosure.create", DISCLOSURE, details={"recipient": RECIPIENT}),
    _event(5, "disclosure.item", TRANSCRIPT, details={"disclosure": "2"}),  # another disclosure's
    _event(6, "disclosure.approve", DISCLOSURE, username="j.lindqvist"),
    _event(7, "transcript.read", SOURCE),  # the redaction's source
    _event(8, "case.read", ("case", "1")),
]
LEAVES = [leaf.leaf_hash(entry) for entry in LOG]


@cache
def _node(level: int, index: int) -> bytes:
    if level == 0:
        return LEAVES[index]
    return merkle.node_hash(_node(level - 1, 2 * index), _node(level - 1, 2 * index + 1))


def _fetch(wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    return {node: _node(*node) for node in wanted}


SIZE = len(LOG)
ROOT = merkle.root_hash(SIZE, _fetch)


def proof(seq: int) -> list[str]:
    return [node.hex() for node in merkle.inclusion_proof(seq, SIZE, _fetch)]


def proven(seq: int, staff: str | None, hidden: tuple[str, ...] = HIDDEN) -> dict[str, Any]:
    """A proven line: the entry with its identifying values shown only as commitments."""
    record: dict[str, Any] = {"entry": leaf.hide(LOG[seq], hidden), "leaf_hash": LEAVES[seq].hex(), "proof": proof(seq)}
    if staff is not None:
        record["staff"] = staff
    return record


def withheld(seq: int, reason: str) -> dict[str, Any]:
    """A hash-only line: the event's place in the log, its content withheld."""
    return {"seq": seq, "leaf_hash": LEAVES[seq].hex(), "proof": proof(seq), "withheld": reason}


def checkpoint_note(cosigned_by: dict[str, int] = COSIGNED_AT) -> str:
    body = note.format_checkpoint(ORIGIN, SIZE, ROOT)
    signed = note.sign_note(body, ORIGIN, LOG_KEY)
    lines = [cosignature.cosign(body, name, WITNESSES[name], when) for name, when in cosigned_by.items()]
    return cosignature.append_signatures(signed, lines) if lines else signed


@dataclass
class Bundle:
    """What the bag says, before it is written: change any part, then ``write`` it (signed again)."""

    trails: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            f"{ITEM}/{fmt.CUSTODY_NAME}": [
                proven(0, "S-01"),
                withheld(2, "refused_attempt"),
                proven(3, "S-02"),
                withheld(5, "other_disclosure"),
            ],
            f"{ITEM}/source-custody.jsonl": [withheld(7, "redaction_source")],
            fmt.DISCLOSURE_CUSTODY_FILE: [proven(1, "S-02"), proven(4, "S-02"), proven(6, "S-03")],
        }
    )
    disclosure: dict[str, Any] = field(
        default_factory=lambda: {
            "id": DISCLOSURE_ID,
            "case_id": 1,
            "recipient": {"kind": "prosecutor"},
            "purpose": "Article 15 preliminary examination",
            "proposed_by": "S-02",
            "approved_by": "S-03",
            "items": [{"number": 1, "directory": ITEM, "registration_number": REGISTRATION}],
        }
    )
    metadata: dict[str, Any] = field(
        default_factory=lambda: {
            "kind": "transcript_version",
            "registration_number": REGISTRATION,
            "content_file": "statement.txt",
            "sha256": hashlib.sha256(STATEMENT).hexdigest(),
            "custody_resource": {"type": "transcript", "id": "7"},
            "custody_files": [
                {"file": fmt.CUSTODY_NAME, "resource": {"type": "transcript", "id": "7"}},
                {"file": "source-custody.jsonl", "resource": {"type": "transcript", "id": "6"}},
            ],
        }
    )
    checkpoint: str = field(default_factory=checkpoint_note)
    readme: bytes = (
        b"The log's key and the witnesses' keys in this folder are the server's own claim.\n"
        b"Check them against keys obtained from the operator and the witnesses.\n"
    )

    def copy(self) -> Bundle:
        return copy.deepcopy(self)

    def files(self) -> dict[str, bytes]:
        """Every file of the bag, by its path inside it, manifests and signature made afresh."""
        payload = {
            f"{ITEM}/statement.txt": STATEMENT,
            f"{ITEM}/{fmt.METADATA_NAME}": json.dumps(self.metadata).encode(),
            fmt.DISCLOSURE_FILE: json.dumps(self.disclosure).encode(),
            fmt.INDEX_FILE: b"%PDF-1.7 not really an index\n",
        }
        for rel, lines in self.trails.items():
            payload[rel] = b"".join(canonical_json(line) + b"\n" for line in lines)
        files = {"bagit.txt": fmt.BAGIT_TXT, **payload}
        files[fmt.MANIFEST] = _manifest(payload)
        files["bag-info.txt"] = (
            f"External-Identifier: {BAG}\nPayload-Oxum: {sum(map(len, payload.values()))}.{len(payload)}\n"
        ).encode()
        files[fmt.CHECKPOINT_FILE] = self.checkpoint.encode()
        files[fmt.LOG_VKEY_FILE] = (VKEY + "\n").encode()
        files[fmt.WITNESS_VKEYS_FILE] = "".join(key + "\n" for key in WITNESS_VKEYS).encode()
        files[fmt.README_FILE] = self.readme
        tags = {rel: data for rel, data in files.items() if not rel.startswith("data/")}
        files[fmt.TAGMANIFEST] = _manifest(tags)
        files[fmt.SIGNATURE_FILE] = sign_tagmanifest(files[fmt.TAGMANIFEST]).encode()
        return files

    def write(self, path: Path) -> Path:
        return write_zip(self.files(), path)


def _manifest(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {rel}\n" for rel, data in sorted(files.items())).encode()


def sign_tagmanifest(tagmanifest: bytes, key: Ed25519PrivateKey = LOG_KEY) -> str:
    signed = fmt.BundleSignature(
        DISCLOSURE_ID, BAG, hashlib.sha256(tagmanifest).hexdigest(), SIZE, base64.b64encode(ROOT).decode()
    )
    return note.sign_note(signed.text(), ORIGIN, key)


def write_zip(files: dict[str, bytes], path: Path) -> Path:
    return zip_bag(BAG, files, path)


def zip_bag(root: str, files: dict[str, bytes], path: Path) -> Path:
    """A zip of ``files`` (path inside the bag -> bytes) under the base directory ``root``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for rel, data in files.items():
            out.writestr(f"{root}/{rel}", data)
    path.write_bytes(buffer.getvalue())
    return path


def write_folder(files: dict[str, bytes], directory: Path) -> Path:
    """The bag as an unzip leaves it: ``directory/disclosure-3/...``; returns the bag's folder."""
    root = directory / BAG
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root
