"""Exhibit receipts (the signed form: ``casework_verify.receipts``): a domain of their own, never a transcript's."""

from casework_verify import receipts

RECEIPTS = receipts.EXHIBIT
sign, verify = RECEIPTS.sign, RECEIPTS.verify
