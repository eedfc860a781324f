"""Judging one comparison job: the same code in the proxy (inline) and in `tapcompare worker`.

Reads: compare the response; a mismatch is rechecked by reading the rewrite and then the legacy
again (recheck.py): `raced` only when the legacy's own change explains every differing field. A
listing mismatch that stands while the legacy's projections lag its CDC log waits for them and is
rechecked, or is `unavailable` (write_validation.projection_lag).
Writes: compare the response, then hand the write to the WriteValidator (the 18 store paths); a
validation that fails or runs past its timeout records `unavailable` for each of the endpoint's
store paths. Bodies are read whole up to `max_response_bytes`; a larger one is `skipped`
(`too_large`), never compared cut. Every exception becomes a verdict and reaches `raised`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from diff_reports.types import ALL_WRITE_PATHS, TOO_LARGE, Observation, VerdictKind, VerdictRecord
from judge.breaker import CIRCUIT_OPEN, Breaker
from judge.protocols import Comparator, RaisedHook, WriteValidator
from judge.recheck import DEFAULT_ROUNDS, Recheck
from judge.recording import VerdictRecorder
from traffic.shadowed import TOO_LARGE_ERROR, ComparisonJob, RecheckReads

RECHECK_BACKOFF_S = 0.05      # the first pause between rounds; it doubles each round up to the cap
RECHECK_BACKOFF_MAX_S = 0.4
RECHECK_SETTLE_S = 0.3        # both sides unchanged this long, and still different: the mismatch stands
# Reads the legacy renders from its CDC projections (legacy_adapter.handlers_read): they lag its
# writes while its consumer is behind, so a mismatch there first waits for the projections.
PROJECTED_READS = frozenset({"comments", "morechildren"})
PROJECTION_WAIT_S = 2.0
PROJECTION_POLL_S = 0.05

Emit = Callable[[str, VerdictRecord], Awaitable[None]]          # (endpoint, record)
RecheckFn = Callable[[ComparisonJob], Awaitable[RecheckReads]]


def too_large(obs: Observation | None) -> bool:
    return obs is not None and obs.raised and (obs.error or "").startswith(TOO_LARGE_ERROR + ":")


def circuit_open(obs: Observation | None) -> bool:
    """The rewrite was not called: its breaker was open (shadow_proxy.shadower)."""
    return obs is not None and obs.error == CIRCUIT_OPEN


def too_large_record(path: str, job: ComparisonJob, *sides: Observation | None) -> VerdictRecord:
    detail = "; ".join(f"{o.side}: {o.error}" for o in sides if o is not None and too_large(o))
    return VerdictRecord(path, VerdictKind.SKIPPED, job.entity, job.request_id, reason=TOO_LARGE,
                         context={"too_large": detail})


class JobRunner:
    """Judges shadowed requests. Inline (`submit`, the proxy's executor) its verdicts go on to
    `recorder`; a worker calls `run` with an `emit` that collects each job's verdicts for its batch."""

    def __init__(self, comparator: Comparator, validator: WriteValidator, raised: RaisedHook, *,
                 recheck: RecheckFn | None, validate_timeout_s: float, compare_threads: int = 2,
                 recheck_rounds: int = DEFAULT_ROUNDS, recorder: VerdictRecorder | None = None,
                 validation_breaker: Breaker | None = None) -> None:
        self.recorder = recorder
        # The store reads of write validation: a validation that fails or finds every store
        # unreadable counts; while open, the endpoint's store paths are `unavailable` (`circuit_open`).
        self.validation_breaker = validation_breaker
        self.comparator = comparator
        self.validator = validator
        self._raised = raised
        self._recheck = recheck
        self._recheck_rounds = max(1, recheck_rounds)
        self._validate_timeout_s = validate_timeout_s
        # Comparison (deepdiff on big bodies) is CPU work: keep it off the event loop.
        self._pool = ThreadPoolExecutor(max_workers=compare_threads, thread_name_prefix="compare")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, job: ComparisonJob) -> None:
        """Judge one job here and hand its verdicts to the recorder (the inline executor)."""
        assert self.recorder is not None, "an inline runner is built with its recorder"
        await self.run(job, self.recorder.record)

    async def run(self, job: ComparisonJob, emit: Emit) -> None:
        """Judge one job; a failure of our own parts still gives the job's path a verdict."""
        emitted: list[str] = []

        async def tracked(endpoint: str, record: VerdictRecord) -> None:
            emitted.append(record.path)
            await emit(endpoint, record)

        try:
            if job.kind == "record":
                for record in job.records:
                    await tracked(job.endpoint, record)
            elif job.kind == "read":
                await self._read(job, tracked)
            else:
                await self._write(job, tracked)
        except Exception as exc:
            self._raised("job", exc)
            if job.path not in emitted:
                await emit(job.endpoint, VerdictRecord(
                    job.path, VerdictKind.UNAVAILABLE, job.entity, job.request_id,
                    reason=f"judging failed: {type(exc).__name__}: {exc}"[:500]))

    async def _read(self, job: ComparisonJob, emit: Emit) -> None:
        assert job.new is not None
        if job.legacy_status >= 500:
            # The legacy itself failed (its own store down): there is no reference answer to judge by.
            await emit(job.endpoint, VerdictRecord(job.path, VerdictKind.SKIPPED, job.entity, job.request_id,
                                                   reason=f"the legacy itself failed ({job.legacy_status})"))
            return
        if circuit_open(job.new):
            await emit(job.endpoint, _circuit_open_record(job))
            return
        if too_large(job.new) or too_large(job.legacy):
            await emit(job.endpoint, too_large_record(job.path, job, job.legacy, job.new))
            return
        record = await self.compare(job.path, job.legacy, job.new, entity=job.entity, request_id=job.request_id)
        if record.verdict is VerdictKind.MISMATCH and self._recheck is not None:
            behind = await self._projections_behind(job) if job.endpoint in PROJECTED_READS else 0
            if behind:
                record = replace(record, verdict=VerdictKind.UNAVAILABLE,
                                 context={**record.context, "projection_backlog": behind},
                                 reason=(f"the legacy's thread projections are {behind} CDC event(s) behind its own "
                                         f"writes (not caught up within {PROJECTION_WAIT_S:g} s): its listing is no "
                                         f"reference; {record.reason}")[:1000])
            else:
                record = await self._rechecked(job, record)
        await emit(job.endpoint, record)

    async def _projections_behind(self, job: ComparisonJob) -> int:
        """A listing mismatch: how far the legacy's projections still lag its CDC log after waiting
        (bounded) for them to catch up; 0 when they have (or no probe is known: the recheck judges)."""
        probe: Callable[[], Awaitable[int]] | None = getattr(self.validator, "projection_backlog", None)
        if probe is None:
            return 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROJECTION_WAIT_S
        try:
            behind = await probe()
            while behind and loop.time() < deadline:
                await asyncio.sleep(PROJECTION_POLL_S)  # polling the consumer group's state, bounded
                behind = await probe()
        except Exception as exc:  # no answer about the legacy's projections: the recheck judges alone
            self._raised("projection_backlog", exc)
            return 0
        return behind

    async def _rechecked(self, job: ComparisonJob, record: VerdictRecord) -> VerdictRecord:
        """Read both sides again, round after round while the legacy keeps changing (recheck.py)."""
        assert job.new is not None
        loop = asyncio.get_running_loop()
        check = Recheck(self._compare_sync, job.path, record, job.legacy, job.new, self._learner(),
                        settle_s=RECHECK_SETTLE_S)
        try:
            for n in range(self._recheck_rounds):
                if n:
                    # let the writes in flight land, on either side
                    await asyncio.sleep(min(RECHECK_BACKOFF_S * 2 ** (n - 1), RECHECK_BACKOFF_MAX_S))
                assert self._recheck is not None  # only reached when a recheck was configured
                try:
                    reads = await self._recheck(job)
                except Exception as exc:
                    self._raised("recheck", exc)
                    reads = RecheckReads(Observation("legacy", error=f"{type(exc).__name__}: {exc}"))
                for obs in (reads.legacy, reads.new):
                    if too_large(obs):
                        return too_large_record(job.path, job, obs)
                verdict = await loop.run_in_executor(self._pool, check.step, reads)
                if verdict is not None:
                    return verdict
            return await loop.run_in_executor(self._pool, check.give_up)
        except Exception as exc:  # a comparator failure inside the recheck: the mismatch stands
            self._raised("recheck", exc)
            return record

    def _compare_sync(self, path: str, legacy: Observation, new: Observation) -> VerdictRecord:
        return self.comparator.compare(path, legacy, new)

    def _learner(self) -> Callable[[str, Observation, Observation, set[str]], Any] | None:
        """The comparator's learned noise, when it has one (diff_reports.comparator.Comparator)."""
        learn = getattr(self.comparator, "learn", None)
        if learn is None or getattr(self.comparator, "noise", None) is None:
            return None

        def teach(path: str, first: Observation, second: Observation, fields: set[str]) -> None:
            try:
                learn(path, first, second, only=fields)
            except Exception as exc:
                self._raised("learn_noise", exc)
        return teach

    async def _write(self, job: ComparisonJob, emit: Emit) -> None:
        assert job.new is not None  # (a refused write may carry no request time: the legacy gave none)
        if circuit_open(job.new):
            record = _circuit_open_record(job)
        elif too_large(job.new) or too_large(job.legacy):
            record = too_large_record(job.path, job, job.legacy, job.new)
        else:
            record = await self.compare(job.path, job.legacy, job.new, entity=job.entity, request_id=job.request_id)
        await emit(job.endpoint, record)
        for extra in await self._validate(job):
            await emit(job.endpoint, extra)

    async def _validate(self, job: ComparisonJob) -> list[VerdictRecord]:
        """The store paths' verdicts; `unavailable` for each when validation fails, times out or its
        breaker is open (the stores are not read then)."""
        breaker = self.validation_breaker
        if breaker is not None and not breaker.allow():
            return _unavailable(job, CIRCUIT_OPEN)
        try:
            async with asyncio.timeout(self._validate_timeout_s):
                records = await self.validator.validate(job)
        except Exception as exc:  # timeout or validator bug: the paths are `unavailable`, never lost
            if breaker is not None:
                breaker.failure()
            self._raised("validate", exc)
            return _unavailable(job, f"write validation failed: {type(exc).__name__}: {exc}"[:500])
        if breaker is not None and records:
            breaker.report(not all(VerdictKind(r.verdict) is VerdictKind.UNAVAILABLE for r in records))
        return list(records)

    async def compare(self, path: str, legacy: Observation, new: Observation, *, entity: str,
                      request_id: str) -> VerdictRecord:
        """The comparator's verdict; one that raises (or reports it raised) is `unavailable`, and counted."""
        loop = asyncio.get_running_loop()
        try:
            record = await loop.run_in_executor(
                self._pool, lambda: self.comparator.compare(path, legacy, new, entity=entity, request_id=request_id))
        except Exception as exc:
            self._raised("compare", exc)
            return VerdictRecord(path, VerdictKind.UNAVAILABLE, entity, request_id,
                                 reason=f"comparison failed: {type(exc).__name__}: {exc}"[:500],
                                 context={"raised": f"{type(exc).__name__}: {exc}"[:500]})
        raised = (record.context or {}).get("raised") if isinstance(record, VerdictRecord) else None
        if raised:
            self._raised("compare", ComparisonFailed(str(raised)))
        return record


def _circuit_open_record(job: ComparisonJob) -> VerdictRecord:
    return VerdictRecord(job.path, VerdictKind.SHADOW_ERROR, job.entity, job.request_id, reason=CIRCUIT_OPEN,
                         context={"circuit_open": "the rewrite's breaker was open: it was not called"})


def _unavailable(job: ComparisonJob, reason: str) -> list[VerdictRecord]:
    return [VerdictRecord(p.name, VerdictKind.UNAVAILABLE, job.entity, job.request_id, reason=reason)
            for p in ALL_WRITE_PATHS if p.endpoint == job.endpoint]


class ComparisonFailed(Exception):
    """The comparator caught an exception of its own and reported it in its record."""
