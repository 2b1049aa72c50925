"""The bundle verifier on the SPEC v3 trail: proven entries that hide identities, hash-only lines.

Bundles are made by hand (tests/handmade_bundle.py) and every changed copy is signed again with
the log's key, as a server that lies would sign it: what must catch the change is the leaf hash
or the inclusion proof, not the manifests around them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casework_verify import bag_format as fmt
from casework_verify.bundle import Report, verify_bundle
from tests import handmade_bundle as hb
from tests.handmade_bundle import ITEM, REGISTRATION, VKEY, WITNESS_VKEYS, Bundle

MAIN = f"{ITEM}/{fmt.CUSTODY_NAME}"
SOURCE = f"{ITEM}/source-custody.jsonl"


def verify(bundle: Bundle, tmp_path: Path, **keys: Any) -> Report:
    keys.setdefault("vkey", VKEY)
    keys.setdefault("witness_keys", WITNESS_VKEYS)
    return verify_bundle(bundle.write(tmp_path / "bundle.zip"), **keys)


def test_the_trail_verifies_and_counts_what_was_proven_and_what_withheld(tmp_path: Path) -> None:
    report = verify(Bundle(), tmp_path)
    assert report.ok, report
    assert (report.items, report.registration_numbers, report.events) == (1, [REGISTRATION], 5)
    assert report.withheld == 3 and report.withheld_reasons == {
        "other_disclosure": 1,
        "redaction_source": 1,
        "refused_attempt": 1,
    }
    assert report.staff == ["S-01", "S-02", "S-03"]
    assert report.checkpoint == {"origin": hb.ORIGIN, "size": hb.SIZE, "root": hb.base64.b64encode(hb.ROOT).decode()}
    assert [(c["name"], c["time"]) for c in report.cosigners] == [
        ("witness1.partner.example/w", "2026-05-28T20:26:40Z"),
        ("witness2.partner.example/w", "2026-05-28T20:27:22Z"),
    ]
    assert (report.log_key, report.witness_keys, report.self_asserted) == ("given", "given", False)


def test_no_identity_is_in_the_bag_yet_every_entry_is_proven(tmp_path: Path) -> None:
    everything = b"".join(Bundle().files().values())
    for entry in hb.LOG:
        assert entry["actor_username"].encode() not in everything
        assert entry["client_addr"].encode() not in everything
    assert b"Karim Prosecutor" not in everything and b"Office of the Prosecutor" not in everything


def test_an_entry_shown_in_full_verifies_as_well(tmp_path: Path) -> None:
    bundle = Bundle()
    bundle.trails[MAIN][0] = hb.proven(0, "S-01", hidden=())
    assert bundle.trails[MAIN][0]["entry"]["actor_username"] == "i.interviewer"
    assert verify(bundle, tmp_path).ok


def test_a_file_of_hash_only_lines_and_unknown_reason_codes_are_accepted(tmp_path: Path) -> None:
    bundle = Bundle()
    bundle.trails[SOURCE] = [hb.withheld(7, "court_order")]
    report = verify(bundle, tmp_path)
    assert report.ok and report.withheld_reasons["court_order"] == 1


def _flip(hex_text: str) -> str:
    return ("1" if hex_text[0] == "0" else "0") + hex_text[1:]


def _hash_only_proof(bundle: Bundle) -> str:
    bundle.trails[MAIN][1]["proof"][0] = _flip(bundle.trails[MAIN][1]["proof"][0])
    return f"hash-only custody line 2 of item {REGISTRATION} ({MAIN}): inclusion proof does not verify"


def _hash_only_leaf(bundle: Bundle) -> str:
    bundle.trails[MAIN][1]["leaf_hash"] = hb.LEAVES[1].hex()  # another event's hash, at this one's place
    return f"hash-only custody line 2 of item {REGISTRATION} ({MAIN}): inclusion proof does not verify"


def _hash_only_moved(bundle: Bundle) -> str:
    bundle.trails[MAIN][1]["seq"] = 1  # still in order, but not where that hash is in the log
    return f"hash-only custody line 1 of item {REGISTRATION} ({MAIN}): inclusion proof does not verify"


def _commitment_changed(bundle: Bundle) -> str:
    committed = bundle.trails[MAIN][0]["entry"]["actor_username"]
    committed["sha256"] = _flip(committed["sha256"])
    return f"custody event 0 of item {REGISTRATION} ({MAIN}) was altered: its content does not match its leaf hash"


def _recipient_commitment_changed(bundle: Bundle) -> str:
    recipient = bundle.trails[fmt.DISCLOSURE_CUSTODY_FILE][1]["entry"]["details"]["recipient"]
    recipient["name"] = hb.leaf.commitment(b"\x00" * 32, "Defence Counsel")
    return f"custody event 4 of the disclosure ({fmt.DISCLOSURE_CUSTODY_FILE}) was altered"


def _shown_value_changed(bundle: Bundle) -> str:
    bundle.trails[MAIN][2]["entry"]["outcome"] = "denied"
    return f"custody event 3 of item {REGISTRATION} ({MAIN}) was altered"


def _hidden_value_revealed_wrongly(bundle: Bundle) -> str:
    """A value put back in clear with a salt of the right shape: the commitment no longer matches."""
    entry = bundle.trails[MAIN][2]["entry"]
    entry["actor_username"] = "someone-else"
    entry.setdefault("salts", {})["actor_username"] = "00" * 32
    return f"custody event 3 of item {REGISTRATION} ({MAIN}) was altered"


def _lines_swapped(bundle: Bundle) -> str:
    trail = bundle.trails[MAIN]
    trail[1], trail[2] = trail[2], trail[1]
    return f"hash-only custody line 2 of item {REGISTRATION} ({MAIN}) is out of order or repeated"


def _line_repeated(bundle: Bundle) -> str:
    bundle.trails[MAIN].insert(2, dict(bundle.trails[MAIN][1]))
    return f"hash-only custody line 2 of item {REGISTRATION} ({MAIN}) is out of order or repeated"


def _reason_not_a_code(bundle: Bundle) -> str:
    bundle.trails[MAIN][1]["withheld"] = "Refused attempt"
    return "custody line 2 of item CW-2026-0001 (data/items/0001/custody.jsonl) is malformed: withheld must be"


def _hash_only_with_more(bundle: Bundle) -> str:
    bundle.trails[MAIN][1]["note"] = "trust me"
    return "custody line 2 of item CW-2026-0001 (data/items/0001/custody.jsonl) is malformed: a hash-only line has"


def _entry_with_more(bundle: Bundle) -> str:
    bundle.trails[MAIN][0]["withheld"] = "refused_attempt"
    return "custody line 1 of item CW-2026-0001 (data/items/0001/custody.jsonl) is malformed: a proven entry has"


def _staff_not_a_label(bundle: Bundle) -> str:
    bundle.trails[MAIN][0]["staff"] = {"username": "i.interviewer"}
    return "is malformed: staff must be a short label"


def _salt_dropped(bundle: Bundle) -> str:
    bundle.trails[MAIN][0] = hb.proven(0, "S-01", hidden=())
    del bundle.trails[MAIN][0]["entry"]["salts"]["client_addr"]
    return "is malformed: client_addr: no valid salt for a revealed value"


def _foreign_event(bundle: Bundle) -> str:
    bundle.trails[MAIN].insert(1, hb.proven(1, "S-01"))
    return f"custody event 1 of item {REGISTRATION} ({MAIN}) is an event of case 1, not of item {REGISTRATION}"


def _disclosure_of_another_case(bundle: Bundle) -> str:
    """The disclosure's creation is recorded on its case: on another case, it is not this one's."""
    bundle.disclosure["case_id"] = 2
    return (
        f"custody event 1 of the disclosure ({fmt.DISCLOSURE_CUSTODY_FILE}) is an event of case 1, "
        "not of the disclosure"
    )


def _disclosure_of_no_case(bundle: Bundle) -> str:
    del bundle.disclosure["case_id"]
    return f"custody event 1 of the disclosure ({fmt.DISCLOSURE_CUSTODY_FILE}) is an event of case 1"


def _quorum_short(bundle: Bundle) -> str:
    bundle.checkpoint = hb.checkpoint_note({"witness1.partner.example/w": 1_780_000_000})
    return "is cosigned by 1 of the witnesses; the quorum is 2"


CASES: dict[str, tuple[Callable[[Bundle], str], str]] = {
    "hash-only proof node": (_hash_only_proof, "custody"),
    "hash-only leaf hash": (_hash_only_leaf, "custody"),
    "hash-only seq": (_hash_only_moved, "custody"),
    "commitment changed": (_commitment_changed, "custody"),
    "recipient commitment changed": (_recipient_commitment_changed, "custody"),
    "shown value changed": (_shown_value_changed, "custody"),
    "hidden value revealed wrongly": (_hidden_value_revealed_wrongly, "custody"),
    "lines swapped": (_lines_swapped, "custody"),
    "line repeated": (_line_repeated, "custody"),
    "reason not a code": (_reason_not_a_code, "custody"),
    "hash-only line with more": (_hash_only_with_more, "custody"),
    "proven entry with more": (_entry_with_more, "custody"),
    "staff not a label": (_staff_not_a_label, "custody"),
    "salt dropped": (_salt_dropped, "custody"),
    "another resource's event": (_foreign_event, "custody"),
    "disclosure of another case": (_disclosure_of_another_case, "custody"),
    "disclosure of no case": (_disclosure_of_no_case, "custody"),
    "quorum short": (_quorum_short, "checkpoint"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_change_signed_again_is_still_caught_and_named(tmp_path: Path, case: str) -> None:
    bundle = Bundle()
    tamper, problem = CASES[case]
    expected = tamper(bundle)
    report = verify(bundle, tmp_path)
    assert not report.ok and report.problem == problem, report
    assert expected in report.message, report.message


def test_the_staff_label_is_carried_not_proven(tmp_path: Path) -> None:
    """A pseudonym is the server's label: changed and signed again, it still verifies (and is shown)."""
    bundle = Bundle()
    bundle.trails[MAIN][0]["staff"] = "S-99"
    report = verify(bundle, tmp_path)
    assert report.ok and "S-99" in report.staff


def test_the_readme_is_a_tag_file_like_the_others(tmp_path: Path) -> None:
    files = Bundle().files()
    assert fmt.README_FILE.encode() in files[fmt.TAGMANIFEST]
    files[fmt.README_FILE] = b"Trust these keys, no need to check.\n"
    report = verify_bundle(hb.write_zip(files, tmp_path / "readme.zip"), vkey=VKEY)
    assert not report.ok and report.problem == "tags"
    assert f"tag file {fmt.README_FILE}: sha256 mismatch" in report.message


def test_the_disclosure_record_needs_no_withheld_items_nor_creator(tmp_path: Path) -> None:
    bundle = Bundle()
    assert not {"withheld_items", "created_by_id"} & set(bundle.disclosure)
    bundle.disclosure["items"][0] = {"directory": ITEM, "registration_number": REGISTRATION}
    assert verify(bundle, tmp_path).ok
