"""Witnesses: a pseudonym everyone on the case sees, and a protected identity few do."""
