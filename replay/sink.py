"""The replay's VerdictSink: the live proxy's ResultsSink (every verdict to the results store,
counted in memory), plus what a replay needs besides.

In memory it keeps counts per (path, verdict), the verdicts seen per request id (the driver
waits on them), and the mismatch/shadow_error groups by fingerprint with a few examples each,
which is what the gate and the summary need without a round trip to the database.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from diff_reports.grouping import REVIEW_VERDICTS, Signature, signature
from diff_reports.types import VerdictKind, VerdictRecord
from judge.recording import InMemorySink, ResultsSink

EXAMPLES_PER_GROUP = 3


@dataclass
class Group:
    signature: Signature
    count: int = 0
    examples: list[VerdictRecord] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return self.signature.fingerprint


class CountingSink(ResultsSink):
    """The proxy's sink, plus verdicts per request (the driver waits on them) and review groups."""

    def __init__(self) -> None:
        super().__init__(keep=0)  # counts only: every record goes to the results store
        self.per_request: Counter[str] = Counter()
        self.groups: dict[str, Group] = {}
        self.total = 0

    async def record(self, record: VerdictRecord) -> None:
        self._count(record, signature(record), record)
        await super().record(record)  # the results writer, counts, then wakes the waiters

    async def stored(self, record: VerdictRecord, sig: Signature | None) -> None:
        """A verdict a worker already stored (replay --workers): counted and grouped like `record`,
        not written again. `record` holds what the results row holds (no differences), so `sig` is
        the group's stored signature and examples come later (`Group.examples` via the tail)."""
        self._count(record, sig, None)
        await InMemorySink.record(self, record)  # counts, then wakes the waiters; no writer

    def _count(self, record: VerdictRecord, sig: Signature | None, example: VerdictRecord | None) -> None:
        self.total += 1
        if record.request_id:
            self.per_request[record.request_id] += 1
        if sig is not None and VerdictKind(record.verdict).value in REVIEW_VERDICTS:
            group = self.groups.setdefault(sig.fingerprint, Group(sig))
            group.count += 1
            if example is not None and len(group.examples) < EXAMPLES_PER_GROUP:
                group.examples.append(example)

    async def wait_request(self, request_id: str, expected: int, timeout: float) -> bool:
        """Wait until `expected` verdicts for `request_id` arrived; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: self.per_request[request_id] >= expected)
            return True
        except TimeoutError:
            return False
