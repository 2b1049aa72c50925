"""Transcript upload receipts (see ``casework.custody.receipts``)."""
from casework.custody.receipts import ReceiptKind

RECEIPTS = ReceiptKind(b"casework-transcript-receipt-v2\n")
sign, verify = RECEIPTS.sign, RECEIPTS.verify
