"""The results store: a PostgreSQL database of its own (asyncpg), written in batches.

`ResultsStore.write_batch` is what the batching writer calls off the request path; one
transaction per batch: lean `results` rows through COPY, group upserts (sorted, so concurrent
writers never deadlock), regression detection, and a bounded number of examples per group.

Timings convention (VerdictRecord.timings): `legacy_s` / `new_s` seconds (or `legacy_ms` /
`new_ms`), `legacy_sql` / `new_sql` SQL statements the request ran.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import orjson

from diff_reports.grouping import Signature, endpoint_of, signature, version_key
from results.store.migrations import migrate
from diff_reports.types import Timings, VerdictRecord, side_seconds, side_sql
from sister_stores.databases import close_pool

DEFAULT_EXAMPLES_PER_GROUP = 5
# Every write_jobs transaction notifies this channel with the job ids it stored (a JSON array, in
# chunks under PostgreSQL's 8000-byte payload limit). Notifications are delivered on commit, in
# commit order, so a listener (a replay judged by workers) sees each stored job exactly once.
JOBS_STORED_CHANNEL = "tapcompare_jobs_stored"
NOTIFY_PAYLOAD_BYTES = 7000
_RESULT_COLUMNS = ("at", "path", "endpoint", "verdict", "group_id", "request_id", "entity", "version",
                   "legacy_ms", "new_ms", "legacy_sql", "new_sql")


def to_datetime(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def _ms(t: Timings, side: Literal["legacy", "new"]) -> float | None:
    ms = t.get("legacy_ms") if side == "legacy" else t.get("new_ms")
    if ms is not None:
        return float(ms)
    seconds = side_seconds(t, side)
    return seconds * 1000.0 if seconds is not None else None


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb refuse U+0000; it becomes U+FFFD in stored examples."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(str(k)): _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value


def record_json(record: VerdictRecord, version: str | None) -> str:
    """The record as JSON for an example row; anything JSON cannot hold is written as its str()."""
    data = record.to_dict()
    data["version"] = version
    try:
        text = orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # e.g. integers beyond 64 bits
        text = json.dumps(data, default=str)
    if "\\u0000" in text:
        text = json.dumps(_without_nul(data), default=str)
    return text


@dataclass
class _GroupBatch:
    sig: Signature
    count: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    last_version: str | None = None
    max_key: str | None = None            # highest version key among versioned occurrences
    max_key_version: str | None = None
    max_unversioned_at: dt.datetime | None = None
    request_ids: list[str] = field(default_factory=list)
    examples: list[tuple[dt.datetime, str | None, str | None, str]] = field(default_factory=list)

    def add(self, record: VerdictRecord, at: dt.datetime, version: str | None, keep: int) -> None:
        self.count += 1
        self.first = at if self.first is None else min(self.first, at)
        if self.last is None or at >= self.last:
            self.last, self.last_version = at, version
        key = version_key(version)
        if key is None:
            self.max_unversioned_at = at if self.max_unversioned_at is None else max(self.max_unversioned_at, at)
        elif self.max_key is None or key > self.max_key:
            self.max_key, self.max_key_version = key, version
        if record.request_id and len(self.request_ids) < keep:
            self.request_ids.append(record.request_id)
        # The first `keep` occurrences, plus the first one on each new-service version (so a
        # regressed group shows the occurrence on the version that was meant to fix it).
        if len(self.examples) < keep or (version is not None and version not in {e[2] for e in self.examples}):
            self.examples.append((at, record.request_id, version, record_json(record, version)))


_UPSERT_GROUP = """
INSERT INTO mismatch_groups AS g (id, path, verdict, title, fields, reason_pattern, occurrences,
                                  first_seen, last_seen, last_version, example_request_ids)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO UPDATE SET
    occurrences = g.occurrences + EXCLUDED.occurrences,
    first_seen = least(g.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(g.last_seen, EXCLUDED.last_seen),
    last_version = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.last_version ELSE g.last_version END,
    example_request_ids = (g.example_request_ids || EXCLUDED.example_request_ids)[1:$12]
"""

# A fixed group regresses when it is seen on the fixed version or a later one, or (occurrence
# without a version) after it was marked fixed. Mirrors grouping.seen_since.
_REGRESS = """
UPDATE mismatch_groups g
SET status = 'regressed', regressed_at = now(), regressed_version = coalesce(b.max_key_version, g.last_version)
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS b(id, max_key, max_key_version, unversioned_at)
WHERE g.id = b.id AND g.status = 'fixed' AND (
      (b.max_key IS NOT NULL AND g.fixed_version_key IS NOT NULL AND b.max_key COLLATE "C" >= g.fixed_version_key)
   OR (b.unversioned_at IS NOT NULL AND b.unversioned_at > g.fixed_at))
RETURNING g.id, g.regressed_version
"""

_INSERT_EXAMPLE = """
INSERT INTO examples (group_id, at, request_id, version, record)
SELECT $1, $2, $3, $4, $5::jsonb
WHERE (SELECT count(*) FROM examples WHERE group_id = $1) < $6
   OR ($4::text IS NOT NULL AND (SELECT count(*) FROM examples WHERE group_id = $1) < $6 * 4
       AND NOT EXISTS (SELECT 1 FROM examples WHERE group_id = $1 AND version = $4::text))
"""


async def ensure_database(dsn: str) -> bool:
    """Create the results database if it does not exist yet; True when it was created."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        head, _, tail = dsn.rpartition("/")
        name = tail.split("?")[0]
        admin = await asyncpg.connect(f"{head}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name.replace(chr(34), "")}"')
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # created meanwhile (two workers starting at once race on pg_database's key)
        finally:
            await admin.close()
        return True
    await conn.close()
    return False


def _id_chunks(ids: list[str]) -> list[str]:
    """`ids` as JSON arrays of at most NOTIFY_PAYLOAD_BYTES each. An id too long for a payload of its
    own is left out (its rows are stored; only the notification, which would fail the commit, is not)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 2
    for job_id in ids:
        cost = len(orjson.dumps(job_id)) + 1
        if cost + 2 > NOTIFY_PAYLOAD_BYTES:
            continue
        if current and size + cost > NOTIFY_PAYLOAD_BYTES:
            chunks.append(orjson.dumps(current).decode())
            current, size = [], 2
        current.append(job_id)
        size += cost
    if current:
        chunks.append(orjson.dumps(current).decode())
    return chunks


class ResultsStore:
    """A pool on the results database. `open()` applies pending migrations."""

    def __init__(self, pool: asyncpg.Pool, examples_per_group: int = DEFAULT_EXAMPLES_PER_GROUP) -> None:
        self.pool = pool
        self.examples_per_group = examples_per_group

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 4,
                   examples_per_group: int = DEFAULT_EXAMPLES_PER_GROUP) -> "ResultsStore":
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        assert pool is not None
        async with pool.acquire() as conn:
            await migrate(conn)
        return cls(pool, examples_per_group)

    async def close(self, timeout: float = 10.0) -> None:
        """Close the pool, bounded (sister_stores.databases.close_pool)."""
        await close_pool(self.pool, timeout)

    async def write_batch(self, items: list[tuple[VerdictRecord, str | None]]) -> None:
        """Store a batch of (record, new-service version) in one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._write(conn, items)

    async def write_jobs(self, jobs: list[tuple[str, list[tuple[VerdictRecord, str | None]]]]) -> set[str]:
        """Store the records of comparison jobs, each job at most once ever (idempotent by job id).

        One transaction: the job ids go into `processed_jobs` (ON CONFLICT DO NOTHING); only the
        records of ids inserted now are written, tagged with their job id. A concurrent writer of
        the same id waits on the primary key and then skips. Returns the ids written now."""
        first: dict[str, list[tuple[VerdictRecord, str | None]]] = {}
        for job_id, records in jobs:
            first.setdefault(job_id, records)
        if not first:
            return set()
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = {r["job_id"] for r in await conn.fetch(
                "INSERT INTO processed_jobs (job_id, records) SELECT * FROM unnest($1::text[], $2::int[]) "
                "ON CONFLICT DO NOTHING RETURNING job_id",
                sorted(first), [len(first[j]) for j in sorted(first)])}  # sorted: no deadlock between workers
            items = [(rec, ver) for jid in first if jid in fresh for rec, ver in first[jid]]
            job_ids = [jid for jid in first if jid in fresh for _ in first[jid]]
            if items:
                await self._write(conn, items, job_ids)
                for payload in _id_chunks([jid for jid in first if jid in fresh]):
                    await conn.execute("SELECT pg_notify($1, $2)", JOBS_STORED_CHANNEL, payload)
        return fresh

    async def _write(self, conn: asyncpg.Connection, items: list[tuple[VerdictRecord, str | None]],
                     job_ids: list[str] | None = None) -> None:
        keep = self.examples_per_group
        rows: list[tuple[Any, ...]] = []
        groups: dict[str, _GroupBatch] = {}
        for record, version in items:
            at = to_datetime(record.created_at)
            sig = signature(record)
            gid = sig.fingerprint if sig else None
            if sig is not None:
                groups.setdefault(sig.fingerprint, _GroupBatch(sig)).add(record, at, version, keep)
            t = record.timings or {}
            rows.append((at, record.path, endpoint_of(record.path), record.verdict.value, gid, record.request_id,
                         record.entity, version, _ms(t, "legacy"), _ms(t, "new"), side_sql(t, "legacy"), side_sql(t, "new")))
        ordered = sorted(groups.items())
        if ordered:
            await conn.executemany(_UPSERT_GROUP, [
                (gid, g.sig.path, g.sig.verdict, g.sig.title, orjson.dumps(g.sig.fields).decode(), g.sig.reason,
                 g.count, g.first, g.last, g.last_version, g.request_ids, keep)
                for gid, g in ordered])
            regressed = await conn.fetch(_REGRESS, [gid for gid, _ in ordered],
                                         [g.max_key for _, g in ordered], [g.max_key_version for _, g in ordered],
                                         [g.max_unversioned_at for _, g in ordered])
            if regressed:
                await conn.executemany(
                    "INSERT INTO group_events (group_id, action, detail) VALUES ($1, 'regressed', $2)",
                    [(r["id"], f"seen again at version {r['regressed_version'] or '(none)'}") for r in regressed])
            await conn.executemany(_INSERT_EXAMPLE, [
                (gid, at, rid, ver, payload, keep) for gid, g in ordered for at, rid, ver, payload in g.examples])
        if job_ids is None:
            await conn.copy_records_to_table("results", records=rows, columns=_RESULT_COLUMNS)
        else:
            await conn.copy_records_to_table("results", records=[(*row, jid) for row, jid in zip(rows, job_ids)],
                                             columns=(*_RESULT_COLUMNS, "job_id"))

    async def purge_older_than(self, days: float) -> dict[str, int]:
        """Retention: drop results and examples older than `days`, and open/regressed groups not
        seen since (accepted and fixed groups are kept: they are rules and history)."""
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        async with self.pool.acquire() as conn, conn.transaction():
            results = await conn.execute("DELETE FROM results WHERE at < $1", cutoff)
            examples = await conn.execute("DELETE FROM examples WHERE at < $1", cutoff)
            groups = await conn.execute(
                "DELETE FROM mismatch_groups WHERE last_seen < $1 AND status IN ('open', 'regressed')", cutoff)
            await conn.execute("DELETE FROM processed_jobs WHERE done_at < $1", cutoff)
        return {name: int(tag.split()[-1]) for name, tag in
                (("results", results), ("examples", examples), ("groups", groups))}

