"""Erasure: a withdrawal stops every read at once and opens an erasure that a second person confirms."""
