"""Logging and metrics shared by every server we run. Imports nothing of ours."""
