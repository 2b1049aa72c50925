"""``python -m casework_client``: the same as the ``casework`` command."""

import sys

from casework_client.cli import main

sys.exit(main())
