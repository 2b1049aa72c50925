"""``casework-verify bundle``: the zip or the unzipped folder, a summary in words or one JSON object.

On hand-made bundles (tests/handmade_bundle.py); tests/disclosure/test_disclosure_verify.py runs it on
bundles the app makes, and tests/test_verifier_package.py from a fresh virtualenv.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from casework_verify import bag_format as fmt
from casework_verify.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from tests import handmade_bundle as hb
from tests.handmade_bundle import BAG, ITEM, REGISTRATION, VKEY, WITNESS_VKEYS, Bundle

REPO = Path(__file__).resolve().parents[2]
Run = tuple[int, str, str]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    def run(*args: str) -> Run:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """The same bundle as a zip, as the bag's folder, and as the folder an unzip made around it."""
    files = Bundle().files()
    bag = hb.write_folder(files, tmp_path / "unzipped")
    return {"zip": hb.write_zip(files, tmp_path / "bundle.zip"), "bag folder": bag, "unzip folder": bag.parent}


@pytest.fixture
def keys(tmp_path: Path) -> list[str]:
    (tmp_path / "log.vkey").write_text(VKEY + "\n")
    (tmp_path / "witnesses.vkey").write_text("".join(key + "\n" for key in WITNESS_VKEYS))
    return ["--vkey", str(tmp_path / "log.vkey"), "--witness-key", str(tmp_path / "witnesses.vkey")]


@pytest.mark.parametrize("place", ["zip", "bag folder", "unzip folder"])
def test_zip_and_folder_give_the_same_verdict_and_facts(
    run, places: dict[str, Path], keys: list[str], place: str
) -> None:
    code, out, _ = run("bundle", str(places[place]), *keys, "--json")
    assert code == EXIT_OK
    report = json.loads(out)  # one JSON object
    code, zipped, _ = run("bundle", str(places["zip"]), *keys, "--json")
    assert report == json.loads(zipped) and report["ok"] and report["bag"] == BAG


def test_the_summary_in_words_says_what_was_proven_by_whom_and_when(
    run, places: dict[str, Path], keys: list[str]
) -> None:
    code, out, _ = run("bundle", str(places["zip"]), *keys)
    assert code == EXIT_OK
    assert out.startswith(f"OK: bag {BAG}: 1 item and 5 custody events verified against checkpoint size {hb.SIZE}")
    assert "The bag is intact" in out
    assert f"1 item, registration number {REGISTRATION}" in out
    assert "5 custody entries proven: each matches its leaf hash, and an inclusion proof places it in the log" in out
    assert (
        "3 entries present by hash only, their content withheld from this bundle: 1 an event of another "
        "disclosure (other_disclosure), 1 an event of the unredacted source of a redaction (redaction_source), "
        "1 another person's refused attempt (refused_attempt)"
    ) in out
    assert "pseudonyms for this disclosure (S-01, S-02, S-03)" in out
    root = hb.base64.b64encode(hb.ROOT).decode()
    assert f"Checkpoint: log {hb.ORIGIN}, tree size {hb.SIZE}, root {root}" in out
    assert (
        "Cosigned by: witness1.partner.example/w on 2026-05-28 at 20:26:40 UTC; "
        "witness2.partner.example/w on 2026-05-28 at 20:27:22 UTC"
    ) in out
    assert "log key: trusted, given with --vkey" in out and "given with --witness-key; quorum required: 2" in out
    assert "SELF-ASSERTED" not in out and "NOTE:" not in out


def test_keys_taken_from_the_bundle_are_said_to_prove_only_self_consistency(run, places: dict[str, Path]) -> None:
    code, out, _ = run("bundle", str(places["bag folder"]))
    assert code == EXIT_OK
    assert "log key: SELF-ASSERTED by the bag" in out
    assert (
        "NOTE: the log's key was taken from the bundle itself, so this only shows that the bundle is "
        "consistent with itself" in out
    )
    assert "GET /api/v1/custody/public-key" in out and "--vkey KEY and --witness-key KEY" in out
    code, out, _ = run("bundle", str(places["bag folder"]), "--json")
    facts = json.loads(out)
    assert (facts["log_key"], facts["witness_keys"], facts["self_asserted"]) == ("bag", "bag", True)
    code, out, _ = run("bundle", str(places["bag folder"]), "--vkey", VKEY)
    assert "NOTE: the witnesses' keys were taken from the bundle itself" in out


def test_a_failure_exits_1_naming_the_first_one(run, tmp_path: Path, keys: list[str]) -> None:
    bundle = Bundle()
    bundle.trails[f"{ITEM}/{fmt.CUSTODY_NAME}"][1]["proof"][0] = "00" * 32
    files = bundle.files()
    for path in (hb.write_zip(files, tmp_path / "bad.zip"), hb.write_folder(files, tmp_path / "bad")):
        code, out, _ = run("bundle", str(path), *keys)
        assert code == EXIT_FAILED
        assert out.startswith(f"FAILED (custody): hash-only custody line 2 of item {REGISTRATION}"), out
        code, out, _ = run("bundle", str(path), *keys, "--json")
        report = json.loads(out)
        assert code == EXIT_FAILED and (report["ok"], report["problem"], report["item"]) == (
            False,
            "custody",
            REGISTRATION,
        )


def test_usage_errors_exit_2(run, places: dict[str, Path], tmp_path: Path) -> None:
    assert run("bundle", str(tmp_path / "missing.zip"))[0] == EXIT_USAGE
    assert "no such file or folder" in run("bundle", str(tmp_path / "missing"))[2]
    assert run("bundle", str(places["zip"]), "--vkey", "not-a-key")[0] == EXIT_USAGE
    assert run("bundle", str(places["zip"]), "--witness-key", WITNESS_VKEYS[0], "--quorum", "2")[0] == EXIT_USAGE
    assert run()[0] == EXIT_USAGE and run("verify", "x")[0] == EXIT_USAGE
    assert run("--help")[0] == EXIT_OK and run("bundle", "--help")[0] == EXIT_OK


def test_the_installed_command_and_the_old_module_name_run_it(places: dict[str, Path], keys: list[str]) -> None:
    script = Path(sys.executable).with_name("casework-verify")
    assert script.exists(), "pip install -e ./verifier installs the casework-verify command"
    for command in ([str(script), "bundle"], [sys.executable, "-m", "casework.disclosure.verify"]):
        result = subprocess.run(
            [*command, str(places["unzip folder"]), *keys], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == EXIT_OK and result.stdout.startswith("OK: "), result.stdout + result.stderr
