"""Signed receipts: what the server stored, and where the event that stored it sits in the log.

Signature = Ed25519 (the log's key) over the receipt kind's domain + canonical JSON of every
field except ``signature``. Each kind has a domain of its own, so a receipt is never taken for
another kind's, nor for a signed checkpoint note. Verify with the key from GET /custody/public-key.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from casework.custody.canonical import canonical_json
from casework.custody.log import Appended
from casework.custody.models import TIME_FORMAT


@dataclass(frozen=True)
class ReceiptKind:
    domain: bytes

    def signed_bytes(self, receipt: dict[str, Any]) -> bytes:
        return self.domain + canonical_json({k: v for k, v in receipt.items() if k != "signature"})

    def sign(self, receipt: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
        return {**receipt, "signature": base64.b64encode(key.sign(self.signed_bytes(receipt))).decode()}

    def verify(self, receipt: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(base64.b64decode(receipt["signature"], validate=True), self.signed_bytes(receipt))
            return True
        except (InvalidSignature, KeyError, ValueError):
            return False


def placement(logged: Appended | None, stored_at: datetime) -> dict[str, Any]:
    """The receipt's part that says where its event landed (None only with the benchmark-only switch)."""
    return {
        "received_at": (logged.recorded_at if logged else stored_at).strftime(TIME_FORMAT),
        "custody_seq": logged.seq if logged else None,
        "leaf_hash": logged.leaf_hash.hex() if logged else None,
    }
