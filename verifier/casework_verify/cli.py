"""``casework-verify``: one command for both offline verifiers, so a recipient installs one thing.

    casework-verify bundle PATH [--vkey KEY] [--witness-key KEY ...] [--quorum N] [--json]
    casework-verify log EXPORT --checkpoint FILE [...] --vkey KEY [--witness-key KEY ...] [--quorum N] [--json]

The default output is a summary in words for the person who has to rely on it (a lawyer, a
clerk of the court): what was proven, to which checkpoint, cosigned by whom and when, and
whether the keys came from them or only from the thing being checked. ``--json`` prints the
same facts as one JSON object. Exit status: 0 verified, 1 a check failed (the first failure is
named), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from casework_verify import bag_format as fmt
from casework_verify.bundle import Report, verify_bundle
from casework_verify.cosignature import parse_cosigner_vkey
from casework_verify.log import VerifyReport, verify_export, verify_path
from casework_verify.note import NoteError, parse_vkey

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

OUT_OF_BAND = (
    "Obtain the log's public key from its operator through a channel you trust (a court registry, a "
    "signed letter, the operator's published key; the server serves it at GET "
    "/api/v1/custody/public-key), and each witness's key from that witness, then run again with "
    "--vkey KEY and --witness-key KEY."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="casework-verify",
        description="Verify a Casework disclosure bundle or custody-log export, offline.",
        epilog="Exit status: 0 verified, 1 a check failed, 2 usage error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{bundle,log}")
    bundle = commands.add_parser(
        "bundle",
        help="a disclosure bundle: the zip, or the folder it was unzipped to",
        description="Verify a disclosure bundle (a BagIt bag, zipped or unzipped) and every custody entry in it.",
        epilog="Exit status: 0 verified, 1 a check failed, 2 usage error.",
    )
    bundle.add_argument("path", metavar="PATH", help="the bundle zip, or the folder it was unzipped to")
    bundle.add_argument(
        "--vkey",
        metavar="KEY",
        help="the log's verifier key (or a file holding it), obtained "
        "independently of the bundle; without it the bundle's own key is used",
    )
    bundle.add_argument(
        "--witness-key",
        action="append",
        metavar="KEY",
        help="a witness's cosigner key (or a file of them); repeat for several",
    )
    bundle.add_argument(
        "--quorum",
        type=int,
        metavar="N",
        help="valid witness cosignatures required (default: every --witness-key given, else 0)",
    )
    bundle.add_argument("--json", action="store_true", help="print the report as one JSON object")
    log = commands.add_parser(
        "log",
        help="an export of the custody log, against signed checkpoints",
        description="Verify a custody-log export against checkpoints signed by the log (and cosigned by witnesses).",
        epilog="Exit status: 0 verified, 1 tampering or failed verification, 2 usage error.",
    )
    log.add_argument("export", help="export file (JSON Lines), or - for standard input")
    log.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="FILE",
        help="signed checkpoint note, kept independently of the export; repeat for several",
    )
    log.add_argument("--vkey", required=True, metavar="KEY", help="the log's verifier key, or a file containing it")
    log.add_argument(
        "--witness-key",
        "--witness",
        dest="witness",
        action="append",
        default=[],
        metavar="KEY",
        help="a witness's cosigner key (or a file of them, one per line); repeat for several",
    )
    log.add_argument(
        "--quorum",
        type=int,
        default=None,
        metavar="N",
        help="cosignatures each checkpoint needs (default: every witness given)",
    )
    log.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes hashing the signed part of a file (default: up to 2 CPUs)",
    )
    log.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``casework-verify`` (and of ``flask custody verify``); returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 for --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return _bundle(args) if args.command == "bundle" else _log(args)


def _keys(value: str) -> list[str]:
    """A key, or a file holding keys one per line."""
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return [value.strip()]


def _bundle(args: argparse.Namespace) -> int:
    try:
        vkey = None
        if args.vkey is not None:
            keys = _keys(args.vkey)
            if len(keys) != 1:
                raise NoteError("--vkey must hold exactly one key")
            vkey = keys[0]
            parse_vkey(vkey)
        witnesses = None
        if args.witness_key:
            witnesses = [key for value in args.witness_key for key in _keys(value)]
            for key in witnesses:
                parse_cosigner_vkey(key)
        if args.quorum is not None and (args.quorum < 0 or (witnesses is not None and args.quorum > len(witnesses))):
            print(f"error: a quorum of {args.quorum} needs at least that many --witness-key keys", file=sys.stderr)
            return EXIT_USAGE
        if not os.path.exists(args.path):
            raise OSError(f"no such file or folder: {args.path}")
    except (OSError, NoteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    report = verify_bundle(args.path, vkey=vkey, witness_keys=witnesses, quorum=args.quorum)
    print(json.dumps(report.to_dict(), indent=2) if args.json else describe_bundle(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _log(args: argparse.Namespace) -> int:
    try:
        keys = _keys(args.vkey)
        if len(keys) != 1:
            raise NoteError("--vkey must hold exactly one key")
        vkey = keys[0]
        parse_vkey(vkey)
        checkpoints = []
        for path in args.checkpoint:
            with open(path, "rb") as f:  # undecodable bytes reach open_note, which rejects them
                checkpoints.append(f.read().decode("utf-8", "surrogateescape"))
        witnesses = [key for value in args.witness for key in _keys(value)]
        quorum = len(witnesses) if args.quorum is None else args.quorum
        if quorum > len(witnesses) or quorum < 0:
            print(f"error: a quorum of {quorum} needs at least that many --witness-key keys", file=sys.stderr)
            return EXIT_USAGE
        if args.export == "-":
            report = verify_export(sys.stdin.buffer, checkpoints, vkey, witnesses=witnesses, quorum=quorum)
        else:
            report = verify_path(args.export, checkpoints, vkey, witnesses=witnesses, quorum=quorum, jobs=args.jobs)
    except (OSError, NoteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_dict(), indent=2) if args.json else describe_log(report))
    return EXIT_OK if report.ok else EXIT_FAILED


# --- the summaries in words ----------------------------------------------------------------------


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _when(cosigner: dict[str, Any]) -> str:
    time = cosigner["time"]
    if time is None:
        return f"at timestamp {cosigner['timestamp']} (not a calendar date)"
    return f"on {time[:10]} at {time[11:19]} UTC"


def _cosigned(cosigners: list[dict[str, Any]]) -> str:
    return "; ".join(f"{c['name']} {_when(c)}" for c in cosigners)


def _reason(code: str) -> str:
    return f"{fmt.WITHHELD[code]} ({code})" if code in fmt.WITHHELD else f"withheld as {code!r}"


def describe_bundle(report: Report) -> str:
    """The bundle report in words: first line ``OK: ...`` or ``FAILED (problem): ...``."""
    if not report.ok:
        lines = [f"FAILED ({report.problem}): {report.message}"]
        lines += [f"  {line}" for line in report.trust]
        return "\n".join(lines)
    checkpoint = report.checkpoint or {}
    items = _count(report.items, "item")
    if report.registration_numbers:
        items += ", registration number" + ("s " if report.items > 1 else " ") + ", ".join(report.registration_numbers)
    lines = [
        f"OK: {report.message}",
        "",
        "What was proven:",
        (
            "  - The bag is intact: every file matches the payload or tag manifest (SHA-256), none was added or "
            "removed, and the tag manifest is signed by the log's key and bound to the checkpoint below."
        ),
        f"  - {items}: each item's bytes match its manifest and metadata.",
        (
            f"  - {_count(report.events, 'custody entry', 'custody entries')} proven: each matches its leaf hash, "
            "and an inclusion proof places it in the log at the checkpoint."
        ),
    ]
    if report.withheld:
        reasons = ", ".join(f"{n} {_reason(code)}" for code, n in report.withheld_reasons.items())
        lines.append(
            f"  - {_count(report.withheld, 'entry', 'entries')} present by hash only, their content "
            f"withheld from this bundle: {reasons}. Each hash is proven to be in the log at its place; "
            "what those events say is not shown."
        )
    if report.staff:
        lines.append(
            f"  - Staff appear as pseudonyms for this disclosure ({', '.join(report.staff)}); these labels "
            "are the server's and are not covered by the leaf hashes."
        )
    lines += [
        "",
        (
            f"Checkpoint: log {checkpoint.get('origin')}, tree size {checkpoint.get('size')}, "
            f"root {checkpoint.get('root')}"
        ),
    ]
    if report.cosigners:
        lines.append("Cosigned by: " + _cosigned(report.cosigners))
    else:
        lines.append(
            f"Cosigned by: no witness (no valid cosignature by the {report.witness_key_count} witness key(s) checked)"
        )
    lines += ["", "Keys:"] + [f"  {line}" for line in report.trust]
    if report.self_asserted:
        lines += [
            "",
            "NOTE: the log's key was taken from the bundle itself, so this only shows that the bundle is "
            "consistent with itself: whoever made it could have used a key of their own. " + OUT_OF_BAND,
        ]
    elif report.witness_keys == "bag":
        lines += [
            "",
            "NOTE: the witnesses' keys were taken from the bundle itself, so the cosignatures only show "
            "that the bundle is consistent with itself. " + OUT_OF_BAND,
        ]
    return "\n".join(lines)


def describe_log(report: VerifyReport) -> str:
    """The export report in words: first line ``OK: ...`` or ``FAILED (problem): ...``."""
    if not report.ok:
        lines = [
            f"FAILED ({report.problem}): {report.message}",
            (
                f"  entries read: {report.entries}; verified against a signed root up to tree size "
                f"{report.verified_size}"
            ),
        ]
        if report.first_bad_seq is not None:
            lines.append(f"  first bad seq: {report.first_bad_seq}")
        if report.bad_range is not None:
            lines.append(f"  suspect seq range: {report.bad_range[0]}..{report.bad_range[1]}")
        return "\n".join(lines)
    lines = [f"OK: {report.message}", "", "What was proven:"]
    if report.verified_size:
        lines.append(
            f"  - Entries 0..{report.verified_size - 1} are exactly the entries the log signed at tree size "
            f"{report.verified_size}: none altered, deleted, inserted or reordered."
        )
    else:
        lines.append("  - Nothing beyond the empty tree: the only checkpoint given is of size 0.")
    if report.uncovered:
        lines.append(
            f"  - {_count(report.uncovered, 'later entry', 'later entries')} are well-formed but NOT covered "
            "by any checkpoint given."
        )
    lines += ["", "Checkpoints (each signed by the log's key):"]
    for checkpoint in report.checkpoints:
        cosigned = _cosigned(checkpoint["cosigners"]) or "no witness"
        lines.append(
            f"  - log {checkpoint['origin']}, tree size {checkpoint['size']}, root {checkpoint['root']}; "
            f"cosigned by {cosigned}"
        )
    lines += [
        "",
        "Keys:",
        (
            "  log key: given with --vkey; the result means something only if you obtained it independently of "
            "the export (the log.vkey beside an export proves nothing by itself)"
        ),
        (
            f"  witnesses: {_count(report.witness_key_count, 'key')} given; each checkpoint needed "
            f"{report.quorum} valid cosignature(s)"
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
