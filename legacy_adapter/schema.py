"""The legacy schema, applied to a production database."""

from __future__ import annotations

from importlib.resources import files


def schema_sql() -> str:
    return files("legacy_adapter").joinpath("schema.sql").read_text(encoding="utf-8")
