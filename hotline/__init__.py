"""Hotline: sovereign nodes exchanging signed, encrypted messages with a provable record."""

__version__ = "0.1.0"
