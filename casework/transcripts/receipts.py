"""Transcript upload receipts (the signed form: ``casework_verify.receipts``)."""

from casework_verify import receipts

RECEIPTS = receipts.TRANSCRIPT
sign, verify = RECEIPTS.sign, RECEIPTS.verify
