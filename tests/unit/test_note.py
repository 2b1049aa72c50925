"""C2SP signed notes and checkpoints: Go known-answer tests, tessera interop, forgeries."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casework_verify import note
from casework_verify.note import Checkpoint, NoteError

# golang.org/x/mod/sumdb/note known-answer test
SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIG_LINE = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

# trillian-tessera testdata/log
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
TESSERA_CHECKPOINT = (
    "example.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n\n"
    "\u2014 example.com/log/testdata M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zd"
    "kdIQzd/fmwlM/dlPWF74ewI=\n"
)

KAT_NOTE = TEXT + "\n" + SIG_LINE


def test_known_answer_signature() -> None:
    name, key = note.parse_signer_key(SIGNER)
    assert name == "PeterNeumann"
    assert note.sign_note(TEXT, name, key) == KAT_NOTE
    assert note.vkey_string(name, key.public_key()) == VKEY
    assert note.signer_key_string(name, key) == SIGNER
    assert note.key_id(name, base64.b64decode(VKEY.split("+")[2])[1:]).hex() == "c74f20a3"


def test_known_answer_note_opens() -> None:
    assert note.open_note(KAT_NOTE, VKEY) == TEXT
    verifier = note.parse_vkey(VKEY)
    assert (verifier.name, verifier.key_id.hex()) == ("PeterNeumann", "c74f20a3")


@pytest.mark.parametrize(
    "tampered",
    [
        KAT_NOTE.replace("cryptography", "cryptanalysis"),
        KAT_NOTE.replace("problem is.", "problem was."),
        "Extra line\n" + KAT_NOTE,
        KAT_NOTE.replace("x08go", "x08gp"),
    ],
)
def test_tampered_note_rejected(tampered: str) -> None:
    with pytest.raises(NoteError):
        note.open_note(tampered, VKEY)


def test_wrong_key_rejected() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(NoteError, match="no signature by"):
        note.open_note(KAT_NOTE, note.vkey_string("PeterNeumann", other.public_key()))
    with pytest.raises(NoteError, match="no signature by"):
        note.open_note(KAT_NOTE, TESSERA_VKEY)


def test_forged_signature_with_the_right_key_id_is_invalid() -> None:
    """A signature claiming PeterNeumann's key id must verify; it is not skipped as unknown."""
    forged = note.sign_note(TEXT, "PeterNeumann", Ed25519PrivateKey.generate())
    signature = base64.b64decode(forged.rsplit(" ", 1)[1])[4:]
    relabelled = f"{TEXT}\n\u2014 PeterNeumann {base64.b64encode(bytes.fromhex('c74f20a3') + signature).decode()}\n"
    with pytest.raises(NoteError, match="invalid signature"):
        note.open_note(relabelled, VKEY)


def test_other_signatures_are_ignored_but_ours_is_required() -> None:
    witness = Ed25519PrivateKey.generate()
    cosigned = KAT_NOTE + note.sign_note(TEXT, "witness.example", witness)[len(TEXT) + 1 :]
    assert note.open_note(cosigned, VKEY) == TEXT
    assert note.open_note(cosigned, note.vkey_string("witness.example", witness.public_key())) == TEXT
    with pytest.raises(NoteError, match="more than one signature"):
        note.open_note(KAT_NOTE + SIG_LINE, VKEY)


@pytest.mark.parametrize(
    "malformed",
    [
        TEXT,  # no signature block
        TEXT + "\n",  # empty signature block
        TEXT + "\n" + SIG_LINE.rstrip("\n"),  # no final newline
        TEXT + "\n" + SIG_LINE.replace("\u2014", "-"),  # hyphen instead of em dash
        TEXT + "\n" + SIG_LINE.replace("=", ""),  # unpadded base64
        TEXT + "\n" + "\u2014 PeterNeumann\n",  # no signature
        TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",  # too short
        TEXT.replace("problem,", "problem,\t") + "\n" + SIG_LINE,  # control character
        TEXT + "\n" + SIG_LINE + "\n",  # blank line after signatures
    ],
)
def test_malformed_notes_rejected(malformed: str) -> None:
    with pytest.raises(NoteError):
        note.open_note(malformed, VKEY)


def test_sign_requires_final_newline_and_valid_name() -> None:
    _, key = note.parse_signer_key(SIGNER)
    with pytest.raises(NoteError):
        note.sign_note(TEXT.rstrip("\n"), "PeterNeumann", key)
    for bad_name in ["", "Peter Neumann", "Peter+Neumann"]:
        with pytest.raises(NoteError):
            note.sign_note(TEXT, bad_name, key)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key hash
        "PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # renamed key
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # bad base64
        "PeterNeumann+c74f20a3+AhpcZ2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # wrong algorithm
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hash
        "PeterNeumann+c74f20a3",
        "",
    ],
)
def test_malformed_vkeys_rejected(vkey: str) -> None:
    with pytest.raises(NoteError):
        note.parse_vkey(vkey)
    with pytest.raises(NoteError):
        note.open_note(KAT_NOTE, vkey)


def test_signer_key_with_wrong_hash_rejected() -> None:
    with pytest.raises(NoteError):
        note.parse_signer_key(SIGNER.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(NoteError):
        note.parse_signer_key(VKEY)


def test_tessera_checkpoint() -> None:
    text = note.open_note(TESSERA_CHECKPOINT, TESSERA_VKEY)
    cp = note.parse_checkpoint(text)
    assert cp == Checkpoint(
        "example.com/log/testdata", 15, base64.b64decode("rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="), ()
    )
    assert note.format_checkpoint(cp.origin, cp.size, cp.root) == text
    with pytest.raises(NoteError):
        note.open_note(TESSERA_CHECKPOINT.replace("\n15\n", "\n16\n"), TESSERA_VKEY)
    with pytest.raises(NoteError):
        note.open_note(TESSERA_CHECKPOINT, VKEY)


def test_checkpoint_round_trip_with_extensions() -> None:
    key = Ed25519PrivateKey.generate()
    body = note.format_checkpoint("casework.test/custody", 123456789, bytes(range(32)), ["ext one"])
    signed = note.sign_note(body, "casework.test/custody", key)
    vkey = note.vkey_string("casework.test/custody", key.public_key())
    assert note.parse_checkpoint(note.open_note(signed, vkey)) == Checkpoint(
        "casework.test/custody", 123456789, bytes(range(32)), ("ext one",)
    )


ROOT64 = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="


@pytest.mark.parametrize(
    "body",
    [
        f"origin\n15\n{ROOT64}",  # no final newline
        f"origin\n015\n{ROOT64}\n",  # leading zero
        f"origin\n-1\n{ROOT64}\n",
        f"origin\n+15\n{ROOT64}\n",
        f"origin\n1 5\n{ROOT64}\n",
        f"origin\n\uff11\n{ROOT64}\n",  # non-ASCII digit
        f"origin\n{2**64}\n{ROOT64}\n",
        f"\n15\n{ROOT64}\n",  # empty origin
        "origin\n15\n\n",  # no root
        "origin\n15\nAAAA\n",  # short root
        f"origin\n15\n{ROOT64[:-1]}\n",  # bad base64
        f"origin\n15\n{ROOT64}\n\n",  # empty extension line
        "origin\n15\n",
    ],
)
def test_malformed_checkpoints_rejected(body: str) -> None:
    with pytest.raises(NoteError):
        note.parse_checkpoint(body)


def test_format_checkpoint_validates() -> None:
    with pytest.raises(NoteError):
        note.format_checkpoint("two\nlines", 1, bytes(32))
    with pytest.raises(NoteError):
        note.format_checkpoint("origin", -1, bytes(32))
    with pytest.raises(NoteError):
        note.format_checkpoint("origin", 1, bytes(31))
    assert note.parse_checkpoint(note.format_checkpoint("o", 0, bytes(32))).size == 0
