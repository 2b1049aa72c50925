"""Exhibit receipts: what the server stored and where its completion sits in the custody log, signed.

Signature = Ed25519 (the log's key) over RECEIPT_DOMAIN + canonical JSON of every receipt field
except ``signature``; a domain of its own, so an exhibit receipt is never taken for a transcript
receipt or a checkpoint. Verify with the public key from GET /custody/public-key.
"""
from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from casework.custody.canonical import canonical_json

RECEIPT_DOMAIN = b"casework-exhibit-receipt-v1\n"


def signed_bytes(receipt: dict[str, Any]) -> bytes:
    return RECEIPT_DOMAIN + canonical_json({k: v for k, v in receipt.items() if k != "signature"})


def sign(receipt: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    return {**receipt, "signature": base64.b64encode(key.sign(signed_bytes(receipt))).decode()}


def verify(receipt: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(receipt["signature"], validate=True), signed_bytes(receipt))
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False
