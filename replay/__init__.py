"""Replay a dataset end to end through the real stack (stores, legacy, rewrite, proxy, validator)."""
