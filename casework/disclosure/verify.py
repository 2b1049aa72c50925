"""``python -m casework.disclosure.verify PATH ...``: the bundle verifier, now ``casework-verify bundle``."""

import sys

from casework_verify.cli import main

if __name__ == "__main__":
    sys.exit(main(["bundle", *sys.argv[1:]]))
