"""WSGI entry point: ``CASEWORK_WITNESS_DIR=/srv/witness gunicorn -w 2 casework.tlog_witness.wsgi:app``."""

from __future__ import annotations

import os

from flask import Flask

from casework.tlog_witness.app import create_witness_app


def _state_dir() -> str:
    state_dir = os.environ.get("CASEWORK_WITNESS_DIR", "")
    if not state_dir:
        raise RuntimeError(
            "set CASEWORK_WITNESS_DIR to the witness state directory "
            "(create it with: python -m casework.tlog_witness init DIR --name NAME)"
        )
    return state_dir


app: Flask = create_witness_app(_state_dir())
