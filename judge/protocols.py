"""The judge's seams: what it is handed (comparator, write validator, sink, raised hook), and the
one the proxy hands its shadowed requests to (an executor: the runner inline, the publisher in
stream mode). The comparison core, the write validation and the results store are other
packages' work; the judge only knows these shapes, so each can be swapped in a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from diff_reports.types import Observation, VerdictRecord
from traffic.shadowed import ComparisonJob


@runtime_checkable
class Comparator(Protocol):
    """`diff_reports.comparator.Comparator`: pure and synchronous (the proxy runs it in a thread)."""

    def compare(self, path: str, legacy: Observation, new: Observation, *,
                entity: str | None = None, request_id: str | None = None) -> VerdictRecord: ...


@runtime_checkable
class VerdictSink(Protocol):
    """Where every verdict goes (in memory here; the results store later)."""

    async def record(self, record: VerdictRecord) -> None: ...


@runtime_checkable
class WriteValidator(Protocol):
    """After a shadowed write: compare what each side stored (the 18 paths); return the verdicts."""

    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]: ...


class ComparisonExecutor(Protocol):
    """Takes a shadowed request once the rewrite answered (writes: still under the thread's write
    lock): `judge.runner.JobRunner` judges it here, `judge.publisher.JobPublisher` publishes it."""

    async def submit(self, job: ComparisonJob) -> None: ...


# Scientist's `raised(operation, error)`: every exception on the shadow side ends here, nowhere else.
RaisedHook = Callable[[str, BaseException], None]


class NoWriteValidation:
    """Responses only (`Parts(responses_only=True)`, a stream-mode proxy): no store validation."""

    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
        return []
