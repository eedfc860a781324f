"""Where the judge's verdicts go, in the order it decides them: the recorder (counted, handed to the
sink, watched by the kill switch) and the sinks (in memory; the results pipeline's writer)."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Protocol

from diff_reports.types import VerdictKind, VerdictRecord
from judge.protocols import RaisedHook, VerdictSink


class Watcher(Protocol):
    """The kill switch (`shadow_proxy.guardrails.Guardrail`): it watches each endpoint's verdicts."""

    async def observe(self, endpoint: str, verdict: VerdictKind) -> None: ...


class VerdictRecorder:
    """The last stage of the route: every verdict counted (`count`), recorded by `sink` (none: a
    worker, which stores its batch itself) and observed by the kill switch. A failure of the sink or
    the kill switch reaches `raised` and stops nothing else."""

    def __init__(self, sink: VerdictSink | None, guardrail: Watcher | None, raised: RaisedHook,
                 count: Callable[[VerdictRecord], None] = lambda record: None) -> None:
        self.sink = sink
        self.guardrail = guardrail
        self._raised = raised
        self._count = count

    async def record(self, endpoint: str, record: VerdictRecord) -> None:
        self._count(record)
        if self.sink is not None:
            try:
                await self.sink.record(record)
            except Exception as exc:
                self._raised("sink", exc)
        if self.guardrail is not None:
            try:
                await self.guardrail.observe(endpoint, VerdictKind(record.verdict))
            except Exception as exc:
                self._raised("guardrail", exc)


class InMemorySink:
    """Keeps counts for every verdict and the most recent `keep` records (for tests and `/admin`)."""

    def __init__(self, keep: int = 1000) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.records: deque[VerdictRecord] = deque(maxlen=keep)
        self._changed = asyncio.Condition()

    async def record(self, record: VerdictRecord) -> None:
        self.counts[(record.path, VerdictKind(record.verdict).value)] += 1
        self.records.append(record)
        async with self._changed:
            self._changed.notify_all()

    def count(self, path: str | None = None, verdict: str | VerdictKind | None = None) -> int:
        want = VerdictKind(verdict).value if verdict is not None else None
        return sum(n for (p, v), n in self.counts.items()
                   if (path is None or p == path) and (want is None or v == want))

    def by_path(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (path, verdict), n in sorted(self.counts.items()):
            out.setdefault(path, {})[verdict] = n
        return out

    async def wait_for(self, predicate: Callable[["InMemorySink"], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate(self)` holds (raises TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))


class ResultsSink(InMemorySink):
    """The live proxy's sink: counts and the last records in memory (for `/admin` and tests), and
    every verdict to the results pipeline's batching writer (which also feeds the verdict metrics).
    `pipeline` is a `wiring.parts.ResultsPipeline`; until it has started nothing is written."""

    def __init__(self, keep: int = 1000) -> None:
        super().__init__(keep=keep)
        self.pipeline: Any = None

    async def record(self, record: VerdictRecord) -> None:
        writer = getattr(self.pipeline, "writer", None)
        if writer is not None:
            writer.submit(record)
        await super().record(record)
