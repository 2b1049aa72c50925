"""A standalone C2SP tlog-witness for Casework custody logs (and any other C2SP checkpoint log).

Run by a partner organisation, not by Casework itself: it uses no Casework configuration or
database, only its own state directory. See ``casework.tlog_witness.app`` for the protocol and
``python -m casework.tlog_witness --help`` for setting one up.
"""

from __future__ import annotations

from casework.tlog_witness.app import create_witness_app

__all__ = ["create_witness_app"]
