"""Beam-free filtering rules: pure functions that return a rejection reason or ``None``."""
