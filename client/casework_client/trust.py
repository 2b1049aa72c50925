"""What the client believes, and why: the log's key pinned on first use, and receipts checked under it.

**Pinning.** The first time the client sees a server's log key (GET /custody/public-key, which
every signed-in role may read) it keeps it, per server URL, as SSH keeps a host key; a later,
different key is refused loudly and never replaces the pinned one (``casework key pin --replace``
does, after the user checked the new key out of band). An older server that refuses the key to
some role leaves nothing pinned: receipts are then stored but not verified until ``casework key
pin`` is given a copy checked out of band.

**Receipts.** A receipt is signed with the log's Ed25519 key over a domain of its kind and the
canonical JSON (RFC 8785, ``casework_verify.canonical``) of its other fields. The stored receipt
the server serves later lacks the plain SHA-256 of the content, so checking it needs the file
itself: a stored receipt verifies only together with the very bytes it receipted. Once a published
checkpoint covers the upload's event, ``custody`` carries an inclusion proof to it, checked here
with ``casework_verify.merkle`` against the checkpoint signed by the pinned key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from casework_client.config import Config
from casework_verify import merkle, receipts
from casework_verify.note import NoteError, open_note, parse_checkpoint, parse_vkey

UNSIGNED_FIELDS = ("signature", "custody")  # custody: added by GET .../receipt, after signing


class KeyChanged(Exception):
    """The server presents a log key other than the one pinned for it."""

    def __init__(self, server: str, pinned: str, offered: str) -> None:
        super().__init__(banner(server, pinned, offered))
        self.server, self.pinned, self.offered = server, pinned, offered


class VerificationFailed(Exception):
    """A receipt, checkpoint, proof or digest did not check out."""


def fingerprint(vkey: str) -> str:
    """What a person compares out of band: the key's name and SHA-256 of the whole vkey line."""
    return f"{vkey.split('+', 1)[0]} SHA256:{base64.b64encode(hashlib.sha256(vkey.encode()).digest()).decode()[:43]}"


def banner(server: str, pinned: str, offered: str) -> str:
    return "\n".join(
        [
            "@" * 66,
            "@    WARNING: THE CUSTODY LOG'S KEY HAS CHANGED!                  @",
            "@" * 66,
            f"The server {server} now presents a log key other than the one pinned on first use.",
            "Someone may be impersonating the server, or the log was replaced: receipts and checkpoints",
            "signed with the new key prove nothing about the log you trusted before.",
            f"  pinned:  {pinned}\n           {fingerprint(pinned)}",
            f"  offered: {offered}\n           {fingerprint(offered)}",
            "Nothing was changed. If the operator confirms the new key out of band, run:",
            "  casework key pin --replace NEW_KEY",
        ]
    )


def read_vkey(value: str) -> str:
    """A vkey given on the command line, or the path of a file holding one."""
    path = Path(value).expanduser()
    text = path.read_text(encoding="utf-8").strip() if path.is_file() else value.strip()
    try:
        parse_vkey(text)
    except NoteError as exc:
        raise VerificationFailed(f"not a log verifier key: {exc}") from None
    return text


def pin(config: Config, offered: str, *, replace: bool = False) -> bool:
    """Pin ``offered`` for the config's server on first use; True if it was new.

    A different key already pinned raises ``KeyChanged`` unless ``replace`` (the user checked it).
    """
    assert config.server
    parse_vkey(offered)
    pinned = config.pinned_vkey()
    if pinned == offered:
        return False
    if pinned is not None and not replace:
        raise KeyChanged(config.server, pinned, offered)
    config.known_logs[config.server] = {"vkey": offered, "pinned_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    config.save()
    return True


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while piece := source.read(1 << 20):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


@dataclass
class ReceiptCheck:
    """What was checked of a receipt, in words, and whether all of it held."""

    verified: bool
    facts: list[str] = field(default_factory=list)
    unverified_reason: str | None = None


def check_receipt(
    receipt: dict[str, Any],
    kind: receipts.ReceiptKind,
    *,
    sha256: str,
    size: int,
    vkey: str | None,
    expect: dict[str, Any],
) -> ReceiptCheck:
    """Check a receipt against the bytes sent (``sha256``, ``size``) and the pinned key.

    Raises ``VerificationFailed`` on anything that does not hold; answers ``verified=False`` only
    when no key is pinned (nothing could be checked but the content hash).
    """
    signed = {k: v for k, v in receipt.items() if k not in UNSIGNED_FIELDS}
    stored = "sha256" not in signed  # a stored receipt (GET .../receipt): the file supplies the hash
    if stored:
        signed["sha256"] = sha256
    if signed["sha256"] != sha256:
        raise VerificationFailed(f"the receipt's SHA-256 {signed['sha256']} is not that of the file sent ({sha256})")
    if signed.get("size") != size:
        raise VerificationFailed(
            f"the receipt covers {signed.get('size')} bytes and the file has {size}: it is not "
            "the file that was receipted"
        )
    for name, value in expect.items():
        if signed.get(name) != value:
            raise VerificationFailed(f"the receipt names {name} {signed.get(name)!r}, not {value!r}")
    facts = [f"content: {size} bytes, SHA-256 {sha256} (matches the file)"]
    if vkey is None:
        return ReceiptCheck(False, facts, "no log key is pinned for this server")
    verifier = parse_vkey(vkey)
    if signed.get("log_origin") != verifier.name:
        raise VerificationFailed(
            f"the receipt names the log {signed.get('log_origin')!r}, not the pinned {verifier.name!r}"
        )
    try:
        signature = base64.b64decode(str(receipt.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed("the receipt's signature is not base64") from None
    if not verifier.verify(kind.signed_bytes(signed), signature):
        if stored:
            raise VerificationFailed(
                f"the receipt's signature does not verify, with this file's SHA-256, under the "
                f"pinned log key {fingerprint(vkey)}: it is not the file that was receipted, "
                "or the receipt was altered or signed by another key"
            )
        raise VerificationFailed(
            f"the receipt's signature does not verify under the pinned log key "
            f"{fingerprint(vkey)}: it was altered, or signed by another key"
        )
    facts.append(f"signature: valid, by the pinned log key {fingerprint(vkey)}")
    facts.append(
        f"promise: leaf {signed.get('leaf_hash')} in the log within {signed.get('merge_delay_ms')} ms "
        f"of {signed.get('received_at')}"
    )
    return ReceiptCheck(True, facts)


def check_inclusion(receipt: dict[str, Any], vkey: str | None) -> str:
    """Where the receipt's leaf is now (``custody`` of GET .../receipt), its proof checked if published."""
    custody = receipt.get("custody") or {}
    status = custody.get("status")
    if status == "promised":
        return "log: promised (not yet in the tree; check again after the merge delay)"
    if status == "integrated":
        return f"log: in the tree at seq {custody['seq']}; no published checkpoint covers it yet"
    if status != "published":
        return "log: status unknown"
    if vkey is None:
        return f"log: published at seq {custody['seq']} (proof not checked: no log key pinned)"
    try:
        body = parse_checkpoint(open_note(custody["checkpoint"], vkey))
        proof = [base64.b64decode(p, validate=True) for p in custody["inclusion_proof"]]
        leaf = bytes.fromhex(receipt["leaf_hash"])
    except (NoteError, KeyError, ValueError, binascii.Error) as exc:
        raise VerificationFailed(
            f"the receipt's checkpoint or proof is malformed or not signed by the pinned key: {exc}"
        ) from None
    if body.size != custody.get("tree_size"):
        raise VerificationFailed("the proof's tree size is not the checkpoint's")
    if not merkle.verify_inclusion(leaf, custody["seq"], body.size, proof, body.root):
        raise VerificationFailed(
            f"the inclusion proof of seq {custody['seq']} does not lead to the signed root of checkpoint {body.size}"
        )
    return (
        f"log: included at seq {custody['seq']}, proven against checkpoint {body.origin} size {body.size} "
        f"(signed by the pinned key)"
    )
