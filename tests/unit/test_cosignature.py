"""C2SP tlog-cosignature (Ed25519 cosignature/v1): known answer, the spec's example, forgeries, quorums."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from casework_verify import cosignature as cs
from casework_verify import note
from casework_verify.cosignature import CosignatureError, QuorumError

# shared/testvectors/README.md: a witness cosigns the trillian-tessera testdata checkpoint.
KAT_SEED = bytes.fromhex("73aa2dc3d87798af17165270fe09f5bea40bdc244d078161e904777ac81fae3b")
KAT_PUBLIC = bytes.fromhex("638cd07844b2099db05019d68754156307dd175a5f02ada06aa4deabd1e816bc")
KAT_NAME = "witness.example.org/casework-kat"
KAT_VKEY = "witness.example.org/casework-kat+0c9ba656+BGOM0HhEsgmdsFAZ1odUFWMH3RdaXwKtoGqk3qvR6Ba8"
KAT_TIME = 1764072000
KAT_MESSAGE = (
    b"cosignature/v1\ntime 1764072000\nexample.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"
)
KAT_LINE = (
    "\u2014 witness.example.org/casework-kat DJumVgAAAABpJZpAvb4U7U7n58kT87tdnIF74GX/BMMJZtKKaL1T1Z0gDGdv"
    "9REXWDCsBPW40BZtqVmNfhVQGAuRe5ABBFKC4LgJAw=="
)

TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
TESSERA_BODY = "example.com/log/testdata\n15\nrKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=\n"
TESSERA_SIG = (
    "\u2014 example.com/log/testdata M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zd"
    "kdIQzd/fmwlM/dlPWF74ewI="
)
TESSERA_NOTE = f"{TESSERA_BODY}\n{TESSERA_SIG}\n"
COSIGNED_NOTE = f"{TESSERA_BODY}\n{TESSERA_SIG}\n{KAT_LINE}\n"

# The example in the C2SP tlog-cosignature text.
SPEC_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin"
    "1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)


def kat_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(KAT_SEED)


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def line_with_raw(name: str, raw: bytes) -> str:
    return f"\u2014 {name} {base64.b64encode(raw).decode()}"


def kat_raw() -> bytes:
    return cs.parse_signature_line(KAT_LINE)[1]


# --- known answers --------------------------------------------------------------------------


def test_kat_key_and_vkey() -> None:
    key = kat_key()
    assert cs._raw_public(key.public_key()) == KAT_PUBLIC
    assert cs.cosigner_vkey(KAT_NAME, key.public_key()) == KAT_VKEY
    parsed = cs.parse_cosigner_vkey(KAT_VKEY)
    assert parsed.name == KAT_NAME and parsed.key_id.hex() == "0c9ba656" and parsed.public_bytes == KAT_PUBLIC
    assert parsed.vkey == KAT_VKEY
    # The cosigner key id differs from the signed-note (0x01) key id of the same key and name.
    assert cs.cosigner_key_id(KAT_NAME, KAT_PUBLIC) != note.key_id(KAT_NAME, KAT_PUBLIC)


def test_kat_message_and_line_are_reproduced_exactly() -> None:
    assert cs.cosigned_message(TESSERA_BODY, KAT_TIME) == KAT_MESSAGE
    assert cs.cosign(TESSERA_BODY, KAT_NAME, kat_key(), KAT_TIME) == KAT_LINE


def test_kat_line_verifies_and_leaves_the_log_signature_valid() -> None:
    assert cs.append_signatures(TESSERA_NOTE, [KAT_LINE]) == COSIGNED_NOTE
    assert cs.verify_cosignature(COSIGNED_NOTE, KAT_VKEY) == KAT_TIME
    assert note.open_note(COSIGNED_NOTE, TESSERA_VKEY) == TESSERA_BODY  # the log ignores the cosignature
    raw = kat_raw()
    assert len(raw) == cs.SIGNATURE_SIZE == 76
    assert raw[:4].hex() == "0c9ba656" and struct.unpack(">Q", raw[4:12])[0] == KAT_TIME
    Ed25519PublicKey.from_public_bytes(KAT_PUBLIC).verify(raw[12:], KAT_MESSAGE)


def test_spec_example_facts() -> None:
    name, raw = cs.parse_signature_line(SPEC_LINE)
    assert name == "witness.example.com/w1"
    assert len(raw) == 76
    assert raw[:4].hex() == "8d66cf3f"
    assert struct.unpack(">Q", raw[4:12])[0] == 1679315147
    example = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cs.cosigned_message(example, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_extension_lines_are_cosigned() -> None:
    body = TESSERA_BODY + "ext line\n"
    line = cs.cosign(body, KAT_NAME, kat_key(), KAT_TIME)
    signed = note.sign_note(body, "example.com/log/testdata", Ed25519PrivateKey.generate())
    assert cs.verify_cosignature(cs.append_signatures(signed, [line]), KAT_VKEY) == KAT_TIME
    stripped = cs.append_signatures(TESSERA_NOTE, [line])  # same checkpoint without the extension
    with pytest.raises(CosignatureError, match="altered"):
        cs.verify_cosignature(stripped, KAT_VKEY)


class HsmLikeSigner:
    """Anything with sign() and public_key() can cosign (e.g. a PKCS#11 key)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.calls = 0

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self._key.sign(data)

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()


class BrokenSigner(HsmLikeSigner):
    def sign(self, data: bytes) -> bytes:
        return bytes(64)


def test_any_signer_object_works_and_bad_signatures_are_caught() -> None:
    signer = HsmLikeSigner(kat_key())
    assert cs.cosign(TESSERA_BODY, KAT_NAME, signer, KAT_TIME) == KAT_LINE and signer.calls == 1
    with pytest.raises(CosignatureError, match="invalid Ed25519 signature"):
        cs.cosign(TESSERA_BODY, KAT_NAME, BrokenSigner(kat_key()), KAT_TIME)


# --- negative cases -------------------------------------------------------------------------


def test_wrong_key_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    other_vkey = cs.cosigner_vkey(KAT_NAME, other.public_key())
    with pytest.raises(CosignatureError, match="no cosignature"):  # key id differs: line ignored
        cs.verify_cosignature(COSIGNED_NOTE, other_vkey)
    # Same name and key id as the KAT key, but signed by another key: must fail, not be ignored.
    raw = kat_raw()
    forged = line_with_raw(KAT_NAME, raw[:12] + other.sign(KAT_MESSAGE))
    with pytest.raises(CosignatureError, match="altered"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, forged), KAT_VKEY)


def test_altered_timestamp_is_refused() -> None:
    raw = kat_raw()
    for timestamp in (KAT_TIME + 1, KAT_TIME - 1, 0):
        forged = line_with_raw(KAT_NAME, raw[:4] + struct.pack(">Q", timestamp) + raw[12:])
        with pytest.raises(CosignatureError, match="altered"):
            cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, forged), KAT_VKEY)
    too_big = line_with_raw(KAT_NAME, raw[:4] + struct.pack(">Q", 2**63) + raw[12:])
    with pytest.raises(CosignatureError, match="2\\*\\*63"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, too_big), KAT_VKEY)
    with pytest.raises(CosignatureError):
        cs.cosign(TESSERA_BODY, KAT_NAME, kat_key(), 2**63)
    with pytest.raises(CosignatureError, match="future"):
        cs.verify_cosignature(COSIGNED_NOTE, KAT_VKEY, latest=KAT_TIME - 1)
    assert cs.verify_cosignature(COSIGNED_NOTE, KAT_VKEY, latest=KAT_TIME) == KAT_TIME


@pytest.mark.parametrize(
    "old,new",
    [
        ("\n15\n", "\n16\n"),
        ("rKbDipCvhuX1", "rKbDipCvhuX2"),
        ("example.com/log/testdata\n15", "example.com/log/testdatb\n15"),
    ],
)
def test_altered_checkpoint_is_refused(old: str, new: str) -> None:
    with pytest.raises(CosignatureError, match="altered"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, old, new), KAT_VKEY)


def test_wrong_key_id_or_name_is_ignored_so_no_cosignature() -> None:
    raw = kat_raw()
    wrong_id = line_with_raw(KAT_NAME, bytes([raw[0] ^ 1]) + raw[1:])
    with pytest.raises(CosignatureError, match="no cosignature"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, wrong_id), KAT_VKEY)
    note_id = line_with_raw(KAT_NAME, note.key_id(KAT_NAME, KAT_PUBLIC) + raw[4:])  # type 0x01 id
    with pytest.raises(CosignatureError, match="no cosignature"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, note_id), KAT_VKEY)
    renamed = line_with_raw("witness.example.org/other", raw)
    with pytest.raises(CosignatureError, match="no cosignature"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, renamed), KAT_VKEY)
    # The log's own signature is not a cosignature, even for a vkey with the log's name and key.
    with pytest.raises(CosignatureError, match="no cosignature"):
        cs.verify_cosignature(TESSERA_NOTE, KAT_VKEY)


@pytest.mark.parametrize("cut", [1, 8, 64, 71])
def test_truncated_or_padded_signature_is_refused(cut: int) -> None:
    raw = kat_raw()
    short = line_with_raw(KAT_NAME, raw[:-cut])
    with pytest.raises(CosignatureError, match="76 bytes"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, short), KAT_VKEY)
    long = line_with_raw(KAT_NAME, raw + bytes(cut))
    with pytest.raises(CosignatureError, match="76 bytes"):
        cs.verify_cosignature(replace_line(COSIGNED_NOTE, KAT_LINE, long), KAT_VKEY)


def test_duplicate_cosignature_by_one_key_is_malformed() -> None:
    other_time = cs.cosign(TESSERA_BODY, KAT_NAME, kat_key(), KAT_TIME + 5)
    doubled = cs.append_signatures(COSIGNED_NOTE, [other_time])
    with pytest.raises(CosignatureError, match="more than one"):
        cs.verify_cosignature(doubled, KAT_VKEY)


@pytest.mark.parametrize(
    "vkey",
    [
        KAT_VKEY.replace("+0c9ba656+", "+0c9ba657+"),  # hash does not match
        KAT_VKEY.replace("+BGOM", "+AGOM"),  # a signed-note 0x01 key, not a cosigner key
        "witness example+0c9ba656+BGOM0HhEsgmdsFAZ1odUFWMH3RdaXwKtoGqk3qvR6Ba8",
        "no-plus-signs",
        KAT_VKEY[:-2],
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(CosignatureError):
        cs.parse_cosigner_vkey(vkey)


@pytest.mark.parametrize(
    "text",
    [
        TESSERA_BODY,  # no signatures
        f"{TESSERA_BODY}\n{TESSERA_SIG}",  # no final newline
        f"{TESSERA_BODY}\n- not a signature\n",
        f"{TESSERA_BODY}\n\u2014 name notbase64!\n",
        f"{TESSERA_BODY}\n\u2014 name AAAA\n",  # shorter than a key id and one byte
        f"{TESSERA_BODY}\n\u2014 bad\u00a0name {KAT_LINE.rsplit(' ', 1)[-1]}\n",  # a Unicode space in the name
    ],
)
def test_split_note_rejects_malformed_notes(text: str) -> None:
    with pytest.raises(CosignatureError):
        cs.split_note(text)


def test_split_join_append_roundtrip() -> None:
    text, lines = cs.split_note(COSIGNED_NOTE)
    assert text == TESSERA_BODY and lines == [TESSERA_SIG, KAT_LINE]
    assert cs.join_note(text, lines) == COSIGNED_NOTE
    assert cs.append_signatures(COSIGNED_NOTE, [KAT_LINE + "\n"]) == COSIGNED_NOTE  # no duplicate
    with pytest.raises(CosignatureError):
        cs.append_signatures(COSIGNED_NOTE, ["garbage"])


def test_cosign_requires_a_checkpoint_body_and_a_valid_name() -> None:
    with pytest.raises(note.NoteError):
        cs.cosign("not a checkpoint\n", KAT_NAME, kat_key(), KAT_TIME)
    with pytest.raises(note.NoteError):
        cs.cosign(TESSERA_BODY.rstrip("\n"), KAT_NAME, kat_key(), KAT_TIME)
    for name in ("", "has space", "a+b"):
        with pytest.raises(CosignatureError):
            cs.cosign(TESSERA_BODY, name, kat_key(), KAT_TIME)


# --- quorum ---------------------------------------------------------------------------------


def make_witnesses(count: int) -> list[tuple[str, Ed25519PrivateKey, str]]:
    result = []
    for i in range(count):
        key = Ed25519PrivateKey.generate()
        name = f"witness{i}.example.org/w"
        result.append((name, key, cs.cosigner_vkey(name, key.public_key())))
    return result


def test_quorum_counting() -> None:
    witnesses = make_witnesses(4)
    vkeys = [v for _, _, v in witnesses]
    lines = [cs.cosign(TESSERA_BODY, n, k, KAT_TIME + i) for i, (n, k, _) in enumerate(witnesses[:3])]
    stranger = make_witnesses(1)[0]
    lines.append(cs.cosign(TESSERA_BODY, stranger[0], stranger[1], KAT_TIME))  # unknown: ignored
    cosigned = cs.append_signatures(TESSERA_NOTE, lines)

    valid = cs.verify_quorum(cosigned, vkeys, 3, log_vkey=TESSERA_VKEY)
    assert [c.name for c in valid] == [n for n, _, _ in witnesses[:3]]
    assert [c.timestamp for c in valid] == [KAT_TIME, KAT_TIME + 1, KAT_TIME + 2]
    assert cs.verify_quorum(cosigned, vkeys + vkeys, 3) == valid  # a repeated vkey counts once
    with pytest.raises(QuorumError) as info:
        cs.verify_quorum(cosigned, vkeys, 4)
    assert len(info.value.valid) == 3
    with pytest.raises(QuorumError):
        cs.verify_quorum(TESSERA_NOTE, vkeys, 1)
    assert cs.verify_quorum(TESSERA_NOTE, vkeys, 0) == []
    with pytest.raises(note.NoteError):  # the log's signature is checked when its vkey is given
        impostor = note.vkey_string("example.com/log/testdata", Ed25519PrivateKey.generate().public_key())
        cs.verify_quorum(cosigned, vkeys, 1, log_vkey=impostor)


def test_quorum_rejects_a_bad_cosignature_from_a_trusted_witness() -> None:
    (name, key, vkey), (name2, key2, vkey2) = make_witnesses(2)
    good = cs.cosign(TESSERA_BODY, name, key, KAT_TIME)
    other_body = TESSERA_BODY.replace("\n15\n", "\n16\n")
    wrong = cs.cosign(other_body, name2, key2, KAT_TIME)  # cosigned another checkpoint
    with pytest.raises(CosignatureError, match="altered"):
        cs.verify_quorum(cs.append_signatures(TESSERA_NOTE, [good, wrong]), [vkey, vkey2], 1)


def test_one_public_key_under_two_names_cannot_double_count() -> None:
    key = Ed25519PrivateKey.generate()
    a = cs.cosigner_vkey("a.example/w", key.public_key())
    b = cs.cosigner_vkey("b.example/w", key.public_key())
    line_a = cs.cosign(TESSERA_BODY, "a.example/w", key, KAT_TIME)
    # Relabelled: same timestamp and signature, the name and key id of "b" (the message has no name).
    raw = cs.parse_signature_line(line_a)[1]
    line_b = line_with_raw("b.example/w", cs.parse_cosigner_vkey(b).key_id + raw[4:])
    cosigned = cs.append_signatures(TESSERA_NOTE, [line_a, line_b])
    assert cs.verify_cosignature(cosigned, b) == KAT_TIME  # the forgery is valid on its own...
    with pytest.raises(CosignatureError, match="share a public key"):  # ...so such a set is refused
        cs.verify_quorum(cosigned, [a, b], 2)
