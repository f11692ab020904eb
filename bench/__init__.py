"""Benchmarks: each prints one JSON object. Run as ``python -m bench.<name>``."""
