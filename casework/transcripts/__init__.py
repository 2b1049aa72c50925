"""Transcripts: immutable, encrypted versions of what a witness said, with signed receipts."""
