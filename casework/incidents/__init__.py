"""Incidents: what happened, when and where, within a case."""
