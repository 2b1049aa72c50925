"""Offline verification of Casework's evidence: disclosure bundles and custody-log exports.

The same code runs inside the Casework server (which writes what this package checks) and on a
recipient's machine, where nothing but ``cryptography`` is installed: so this package must never
import the server (Flask, SQLAlchemy or ``casework``). ``casework-verify --help`` lists the checks.
"""
