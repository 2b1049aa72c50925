"""``python -m casework.custody.verify EXPORT ...``: the export verifier, now ``casework-verify log``."""

import sys

from casework_verify.cli import main

if __name__ == "__main__":
    sys.exit(main(["log", *sys.argv[1:]]))
