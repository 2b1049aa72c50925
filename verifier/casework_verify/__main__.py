"""``python -m casework_verify``: the ``casework-verify`` command where the script is not on PATH."""

import sys

from casework_verify.cli import main

sys.exit(main())
