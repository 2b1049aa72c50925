"""Benchmarks: run with `python -m bench.run_all` (see bench/RESULTS.md)."""
