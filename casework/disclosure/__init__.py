"""Disclosure of case material to courts, parties and UN bodies: consent-bound and registered."""
