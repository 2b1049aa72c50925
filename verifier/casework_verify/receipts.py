"""Upload receipts: the signed form, shared by the server that signs and every client that checks.

Signature = Ed25519 (the log's key) over the receipt kind's domain + canonical JSON of every
field except ``signature``. Each kind has a domain of its own, so a receipt is never taken for
another kind's, nor for a signed checkpoint note.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from casework_verify.canonical import canonical_json


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


TRANSCRIPT = ReceiptKind(b"casework-transcript-receipt-v2\n")
EXHIBIT = ReceiptKind(b"casework-exhibit-receipt-v2\n")
