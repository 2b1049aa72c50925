"""The layout of a disclosure bundle, shared by its writer and the offline verifier.

A bundle is a BagIt bag (RFC 8493) in a zip, under one base directory (the verifier reads the
zip or the folder it unzips to)::

    disclosure-<id>/bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt
    disclosure-<id>/tagmanifest-sha256.txt.sig      signed note over the tag manifest (not listed in it)
    disclosure-<id>/custody/checkpoint.txt          the cosigned checkpoint every proof is to (tag file)
    disclosure-<id>/custody/log.vkey                the log's verifier key, as the server asserts it
    disclosure-<id>/custody/witnesses.vkey          the witnesses' cosigner keys, as the server asserts them
    disclosure-<id>/custody/README.txt              how to check those keys out of band (plain text)
    disclosure-<id>/data/disclosure.json            recipient, purpose, the items' numbers and directories
    disclosure-<id>/data/disclosure-custody.jsonl   custody events of the disclosure itself, and the
                                                    one creating it, on its case (DISCLOSURE_ORIGIN_*)
    disclosure-<id>/data/items/NNNN/<content>       one directory per item: its bytes,
    disclosure-<id>/data/items/NNNN/metadata.json   its metadata (registration number, sha256, ...),
    disclosure-<id>/data/items/NNNN/custody.jsonl   and every custody event of it, with a proof
    disclosure-<id>/data/index.pdf                  printable index for the lawyer who files it

Each custody line is canonical JSON, one of two kinds, in strictly increasing seq in a file:

* a proven entry ``{"entry": {...}, "leaf_hash": hex, "proof": [hex, ...]}``, optionally with
  ``"staff": "S-01"``: ``entry`` is the log's entry (its leaf hash is computed from it by
  ``leaf.leaf_bytes``; in leaf form v2 any identifying value may be shown only as its
  commitment ``{"sha256": hex}``, and ``salts`` then lists only the revealed paths), ``proof``
  its RFC 9162 audit path to the checkpoint's tree. ``staff`` is a per-disclosure pseudonym of
  the actor, a label the hash does not cover;
* a hash-only line ``{"seq": n, "leaf_hash": hex, "proof": [hex, ...], "withheld": reason}``:
  an event in this place of the trail whose content is withheld from this bundle (``WITHHELD``
  names the reasons); only its place in the log is proven.

The signature is a C2SP signed note by the log's key. Its text starts with
``casework/disclosure-bundle/v1`` and its second line is not a number, so it can never be taken
for a checkpoint signed by the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIGNATURE_HEADER = "casework/disclosure-bundle/v1"
TAGMANIFEST = "tagmanifest-sha256.txt"
SIGNATURE_FILE = TAGMANIFEST + ".sig"
MANIFEST = "manifest-sha256.txt"
CHECKPOINT_FILE = "custody/checkpoint.txt"
LOG_VKEY_FILE = "custody/log.vkey"
WITNESS_VKEYS_FILE = "custody/witnesses.vkey"
README_FILE = "custody/README.txt"
DISCLOSURE_FILE = "data/disclosure.json"
DISCLOSURE_CUSTODY_FILE = "data/disclosure-custody.jsonl"
INDEX_FILE = "data/index.pdf"
ITEMS_DIR = "data/items"
# The disclosure's creation is recorded against its case (disclosure.json's "case_id"), naming it
# in details: that event belongs in the disclosure's own trail, as an item's origin in its own.
DISCLOSURE_ORIGIN_ACTION = "disclosure.create"
DISCLOSURE_ORIGIN_DETAIL = "created_disclosure"
METADATA_NAME = "metadata.json"
CUSTODY_NAME = "custody.jsonl"
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
# Why an event of a trail is shown by its hash alone (a hash-only line's "withheld"); a reader
# may meet other codes of the same shape (``WITHHELD_CODE``) from a newer writer.
WITHHELD = {
    "refused_attempt": "another person's refused attempt",
    "other_disclosure": "an event of another disclosure",
    "redaction_source": "an event of the unredacted source of a redaction",
    "names_staff": "an event whose details name a member of staff",
}
WITHHELD_CODE = re.compile(r"[a-z_]+\Z")

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def item_dir(number: int) -> str:
    return f"{ITEMS_DIR}/{number:04d}"


def safe_name(text: str, default: str = "item") -> str:
    """A file name any file system and any BagIt tool accepts: no spaces, no separators."""
    cleaned = _SAFE.sub("-", text).strip(".-")[:80]
    return cleaned or default


@dataclass(frozen=True)
class BundleSignature:
    """What the signed note over the tag manifest says."""

    disclosure_id: int
    bag_name: str
    tagmanifest_sha256: str
    checkpoint_size: int
    checkpoint_root_b64: str

    def text(self) -> str:
        return (
            f"{SIGNATURE_HEADER}\n"
            f"disclosure {self.disclosure_id}\n"
            f"bag {self.bag_name}\n"
            f"{TAGMANIFEST} {self.tagmanifest_sha256}\n"
            f"checkpoint {self.checkpoint_size} {self.checkpoint_root_b64}\n"
        )

    @classmethod
    def parse(cls, text: str) -> BundleSignature:
        """Parse the signed text (as ``note.open_note`` returns it); ValueError if malformed."""
        lines = text.split("\n")
        if len(lines) != 6 or lines[0] != SIGNATURE_HEADER or lines[5] != "":
            raise ValueError("not a casework/disclosure-bundle/v1 signature")
        fields = [line.split(" ") for line in lines[1:5]]
        if [f[0] for f in fields] != ["disclosure", "bag", TAGMANIFEST, "checkpoint"] or [len(f) for f in fields] != [
            2,
            2,
            2,
            3,
        ]:
            raise ValueError("malformed bundle signature lines")
        if not fields[0][1].isdigit() or not fields[3][1].isdigit():
            raise ValueError("malformed numbers in the bundle signature")
        if not re.fullmatch(r"[0-9a-f]{64}", fields[2][1]):
            raise ValueError("malformed tag manifest digest in the bundle signature")
        return cls(int(fields[0][1]), fields[1][1], fields[2][1], int(fields[3][1]), fields[3][2])
