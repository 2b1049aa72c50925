"""casework: the command-line client of a Casework server (see client/README.md)."""

__version__ = "1.0.0"
