"""The app's keyring: KEKs for envelope encryption and the log's Ed25519 signing key."""
from __future__ import annotations

from flask import Flask, current_app

from casework.crypto.keyring import KeyringProvider, open_keyring


def init_keyring(app: Flask) -> None:
    app.extensions["casework.keyring"] = open_keyring(
        app.config["CASEWORK_KEYRING"],
        create_if_missing=app.config["CASEWORK_KEYRING_CREATE"],
        log_name=app.config["CASEWORK_LOG_ORIGIN"],
    )


def keyring() -> KeyringProvider:
    return current_app.extensions["casework.keyring"]
