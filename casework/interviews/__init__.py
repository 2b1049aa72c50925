"""Interviews of a witness, linked to the incidents they speak about."""
