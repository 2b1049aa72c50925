"""Redacted derivatives of transcript versions, for disclosure to courts and parties."""
