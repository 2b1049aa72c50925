"""``casework-verify``: one command for both offline verifiers, so a recipient installs one thing."""
from __future__ import annotations

import sys
from collections.abc import Sequence

from casework_verify import bundle, log

USAGE = """usage: casework-verify {bundle,log} ...

  casework-verify bundle PATH [--vkey KEY] [--witness-key KEY ...] [--quorum N] [--json]
  casework-verify log EXPORT --checkpoint FILE [...] --vkey KEY [--witness KEY ...] [--quorum N] [--json]

Exit status: 0 verified, 1 a check failed, 2 usage error."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bundle":
        return bundle.main(args[1:])
    if args and args[0] == "log":
        return log.main(args[1:])
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
