"""Exhibit receipts (see ``casework.custody.receipts``): a domain of their own, never a transcript's."""
from casework.custody.receipts import ReceiptKind

RECEIPTS = ReceiptKind(b"casework-exhibit-receipt-v2\n")
sign, verify = RECEIPTS.sign, RECEIPTS.verify
