"""The composition root: every part a component runs, built from Settings in one place (parts.py)."""
