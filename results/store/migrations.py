"""Versioned schema of the results database, applied in order and recorded in `schema_migrations`.

Add a migration by appending to MIGRATIONS; never edit one that has shipped.
Tables:
- `results`: one lean row per verdict (every verdict is counted), with timings; no payloads.
- `mismatch_groups`: one row per fingerprint, with lifecycle state and the ignore rule it became.
- `examples`: full records for non-matching verdicts, a bounded number per group.
- `group_events`: who accepted/fixed what, and when a group regressed (the audit trail).
- `processed_jobs`: comparison jobs already stored (job id -> records), so a redelivered job
  (`tapcompare worker`) never counts twice; `results.job_id` says which job a row came from.
"""

from __future__ import annotations

import asyncpg

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "results, groups, examples", """
CREATE TABLE results (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    path        text NOT NULL,
    endpoint    text NOT NULL,
    verdict     text NOT NULL,
    group_id    text,
    request_id  text,
    entity      text,
    version     text,
    legacy_ms   real,
    new_ms      real,
    legacy_sql  integer,
    new_sql     integer
);
CREATE INDEX results_at ON results (at);
CREATE INDEX results_path_verdict_at ON results (path, verdict, at);
CREATE INDEX results_endpoint_at ON results (endpoint, at);
CREATE INDEX results_group_at ON results (group_id, at) WHERE group_id IS NOT NULL;

CREATE TABLE mismatch_groups (
    id                  text PRIMARY KEY,
    path                text NOT NULL,
    verdict             text NOT NULL,
    title               text NOT NULL,
    fields              jsonb NOT NULL DEFAULT '[]',
    reason_pattern      text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'accepted', 'fixed', 'regressed')),
    occurrences         bigint NOT NULL DEFAULT 0,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    last_version        text,
    example_request_ids text[] NOT NULL DEFAULT '{}',
    rule_name           text,
    reason              text,
    accepted_by         text,
    accepted_at         timestamptz,
    fixed_version       text,
    fixed_version_key   text COLLATE "C",
    fixed_by            text,
    fixed_at            timestamptz,
    regressed_at        timestamptz,
    regressed_version   text
);
CREATE INDEX mismatch_groups_path_status ON mismatch_groups (path, status);

CREATE TABLE examples (
    id          bigserial PRIMARY KEY,
    group_id    text NOT NULL REFERENCES mismatch_groups (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    request_id  text,
    version     text,
    record      jsonb NOT NULL
);
CREATE INDEX examples_group_at ON examples (group_id, at DESC);
CREATE INDEX examples_at ON examples (at);

CREATE TABLE group_events (
    id          bigserial PRIMARY KEY,
    group_id    text NOT NULL REFERENCES mismatch_groups (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL,
    actor       text,
    detail      text
);
CREATE INDEX group_events_group ON group_events (group_id, at);
"""),
    (2, "processed jobs (idempotent comparison workers)", """
CREATE TABLE processed_jobs (
    job_id      text PRIMARY KEY,
    done_at     timestamptz NOT NULL DEFAULT now(),
    records     integer NOT NULL
);
CREATE INDEX processed_jobs_done_at ON processed_jobs (done_at);
ALTER TABLE results ADD COLUMN job_id text;
CREATE INDEX results_job_id ON results (job_id) WHERE job_id IS NOT NULL;
"""),
)

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""

# Serialises concurrent migrators (several proxies starting at once).
_LOCK_KEY = 0x7A9C0DE


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply every migration not yet applied; returns the versions applied now."""
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOKKEEPING)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def current_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    version: int = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")  # asyncpg: untyped
    return version
