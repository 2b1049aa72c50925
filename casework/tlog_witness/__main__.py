"""Witness administration.

python -m casework.tlog_witness init STATE_DIR --name witness.example.org/w1   # prints the vkey
python -m casework.tlog_witness add-log STATE_DIR --origin ORIGIN --vkey LOG_VKEY
python -m casework.tlog_witness vkey STATE_DIR
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from casework.tlog_witness.state import WitnessStateError, WitnessStore
from casework_verify.note import NoteError, parse_vkey


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m casework.tlog_witness", description="C2SP tlog-witness administration"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create a witness (new Ed25519 key) and print its vkey")
    init.add_argument("state_dir")
    init.add_argument("--name", required=True, help="cosigner name, e.g. witness.example.org/w1")
    add = commands.add_parser("add-log", help="witness a log: trust VKEY for checkpoints of ORIGIN")
    add.add_argument("state_dir")
    add.add_argument("--origin", required=True)
    add.add_argument("--vkey", required=True, help="the log's signed-note verifier key (Ed25519, type 0x01)")
    show = commands.add_parser("vkey", help="print the witness's cosigner vkey")
    show.add_argument("state_dir")
    args = parser.parse_args(argv)

    try:
        if args.command == "init":
            print(WitnessStore.init(args.state_dir, args.name).vkey())
        elif args.command == "add-log":
            if parse_vkey(args.vkey).name != args.origin:
                print(
                    "note: the log key name differs from the origin (allowed; the spec says SHOULD match)",
                    file=sys.stderr,
                )
            added = WitnessStore(args.state_dir).add_log(args.origin, args.vkey)
            print(f"{'added' if added else 'already trusted'}: {args.origin}")
        else:
            print(WitnessStore(args.state_dir).vkey())
    except (WitnessStateError, NoteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
