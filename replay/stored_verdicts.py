"""The verdicts workers stored, followed as they commit (replay --workers N).

With workers the replay's proxy only publishes jobs; the verdicts are judged and stored by
`tapcompare worker` processes. The driver still waits on verdicts per request, so this follows
the results database: every `write_jobs` transaction notifies JOBS_STORED_CHANNEL with the job
ids it stored (delivered on commit, in commit order, once per listener), and each notification
is turned into one query of those jobs' rows, fed to the CountingSink. Nothing is scanned from the
start, so the cost per request stays flat however long the run. Group examples (the rows hold no
differences) are read once at the end, `fill_examples`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import orjson

from diff_reports.grouping import Signature
from diff_reports.types import VerdictKind, VerdictRecord
from telemetry.tasks import cancel_and_wait
from replay.sink import EXAMPLES_PER_GROUP, CountingSink
from results.store.store import JOBS_STORED_CHANNEL

_ROWS = "SELECT path, verdict, group_id, request_id, entity FROM results WHERE job_id = ANY($1::text[]) ORDER BY id"
_GROUPS = "SELECT id, path, verdict, fields, reason_pattern FROM mismatch_groups WHERE id = ANY($1::text[])"
_EXAMPLES = "SELECT record FROM examples WHERE group_id = $1 ORDER BY at, id LIMIT $2"


def _signature(row: Any) -> Signature:
    fields = row["fields"]
    if isinstance(fields, str):
        fields = orjson.loads(fields)
    return Signature(row["path"], row["verdict"], tuple((str(p), str(k)) for p, k in fields), row["reason_pattern"])


class StoredVerdicts:
    """LISTEN on the results database; every stored job's verdicts go to `sink.stored`."""

    def __init__(self, dsn: str, sink: CountingSink) -> None:
        self._dsn = dsn
        self._sink = sink
        self._listener: asyncpg.Connection | None = None
        self._reader: asyncpg.Connection | None = None
        # job ids to apply, or a marker to resolve once everything queued before it is applied
        self._queue: asyncio.Queue[list[str] | asyncio.Future[None]] = asyncio.Queue()
        self._markers: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._signatures: dict[str, Signature] = {}
        self.jobs = 0
        self.error: BaseException | None = None  # why following stopped (reported as incompleteness)

    async def start(self) -> None:
        """Listening before any job is published, so none is missed."""
        self._listener = await asyncpg.connect(self._dsn)
        self._reader = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(JOBS_STORED_CHANNEL, self._notified)
        self._task = asyncio.create_task(self._follow(), name="replay-stored-verdicts")

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        data = orjson.loads(payload)
        if isinstance(data, dict):  # a marker of `caught_up`
            marker = self._markers.pop(str(data.get("marker")), None)
            if marker is not None:
                self._queue.put_nowait(marker)
            return
        self._queue.put_nowait([str(i) for i in data])

    async def _follow(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                ids: list[str] = []
                markers: list[asyncio.Future[None]] = []
                while True:  # what arrived meanwhile, in one query
                    if isinstance(item, list):
                        ids.extend(item)
                    else:
                        markers.append(item)
                    if self._queue.empty():
                        break
                    item = self._queue.get_nowait()
                if ids:
                    await self._apply(ids)
                for marker in markers:
                    if not marker.done():
                        marker.set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the results database went away: the run's verdicts are incomplete
            self.error = exc
            for marker in self._markers.values():
                if not marker.done():
                    marker.set_exception(exc)

    async def _apply(self, ids: list[str]) -> None:
        assert self._reader is not None
        rows = await self._reader.fetch(_ROWS, ids)
        unknown = sorted({r["group_id"] for r in rows if r["group_id"] and r["group_id"] not in self._signatures})
        if unknown:
            for g in await self._reader.fetch(_GROUPS, unknown):
                self._signatures[g["id"]] = _signature(g)
        self.jobs += len(ids)
        for r in rows:
            record = VerdictRecord(r["path"], VerdictKind(r["verdict"]), entity=r["entity"], request_id=r["request_id"])
            gid = r["group_id"]
            await self._sink.stored(record, self._signatures.get(gid) if gid else None)

    async def caught_up(self, timeout: float) -> None:
        """Until every job committed before this call is applied: a notification of our own is
        delivered after every earlier commit's, so once it comes through, they all have."""
        assert self._listener is not None
        if self.error is not None:
            raise RuntimeError(f"following the stored verdicts stopped: {self.error}") from self.error
        token = uuid.uuid4().hex
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._markers[token] = marker
        await self._listener.execute("SELECT pg_notify($1, $2)", JOBS_STORED_CHANNEL,
                                     orjson.dumps({"marker": token}).decode())
        try:
            await asyncio.wait_for(marker, timeout)
        finally:
            self._markers.pop(token, None)

    async def fill_examples(self) -> None:
        """The first examples of every group, from the results store (what the summary shows)."""
        assert self._reader is not None
        for fingerprint, group in self._sink.groups.items():
            if group.examples:
                continue
            for row in await self._reader.fetch(_EXAMPLES, fingerprint, EXAMPLES_PER_GROUP):
                data = orjson.loads(row["record"]) if isinstance(row["record"], str) else dict(row["record"])
                data.pop("version", None)
                group.examples.append(VerdictRecord.from_dict(data))

    async def close(self) -> None:
        """Stop following (idempotent); what was applied stays in the sink."""
        if self._task is not None:
            await cancel_and_wait([self._task])  # bounded, even if a client swallows the cancellation
            self._task = None
        for conn in (self._listener, self._reader):
            if conn is not None:
                await conn.close(timeout=5)
        self._listener = self._reader = None
