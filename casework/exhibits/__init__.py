"""Exhibits: recordings, photos, scans and documents, uploaded resumably (tus 1.0), encrypted in chunks."""
