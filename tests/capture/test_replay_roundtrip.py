"""Replay a dataset with capture on, then replay the captured dataset: the same verdict counts.

The replay's proxy comes from the composition root, so `[capture] enabled` records its traffic
exactly as `proxy serve` does.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from config import Settings
from config.settings import CaptureSettings
from datasets.from_capture import read_records, seed_of, write_capture_dataset
from datasets.build import BuildOptions, build_dataset
from datasets.format import write_dataset
from sister_stores.databases import drop_database
from tests.contract.seed import THREADS_DIR
from tests.support.stores import StoreSets, fresh_sets, release_sets

replay_run = pytest.importorskip("replay.run")
replay_stores = pytest.importorskip("replay.stores")


async def _replay(sets: StoreSets, dataset: Path, out: Path, settings: Settings | None = None):
    results_dsn = sets.sister.with_database(f"r_{uuid.uuid4().hex[:10]}").postgres
    stores = replay_stores.ReplayStores(sets.production, sets.sister, results_dsn, None)
    try:
        return await replay_run.run_replay(settings or Settings(), stores, replay_run.ReplayOptions(
            dataset=dataset, fresh=False, progress=False, out=out, fail_on="none", settle_timeout_s=60.0))
    finally:
        await drop_database(results_dsn)


async def test_captured_replay_reproduces_the_verdict_counts(local_stores, stores, tmp_path: Path) -> None:
    threads = tmp_path / "threads"
    threads.mkdir()
    for name in ("t3_fo7p5b", "t3_fjn0j9"):  # small real threads with creates, replies and an edit to replay
        for suffix in (".ndjson", ".post.json"):
            shutil.copy(Path(THREADS_DIR, name + suffix), threads / (name + suffix))
    records = build_dataset(threads, BuildOptions(seed=3, max_comments_per_thread=14, read_every=10, max_votes=4,
                                                  probes=False))  # probes include requests the legacy refuses
    original = tmp_path / "original.jsonl"
    write_dataset(original, records)

    capture = CaptureSettings(enabled=True, path=str(tmp_path / "capture.jsonl"), pseudonym_key="roundtrip")
    first = await _replay(stores, original, tmp_path / "out1", Settings(capture=capture))
    recorder = first.stack.runtime.recorder
    assert recorder is not None
    assert not first.drive.unresolved and not first.drive.transport_errors
    assert recorder.dropped == 0 and recorder.written == first.drive.sent - recorder.skipped.total()

    captured = tmp_path / "captured.jsonl"
    summary = write_capture_dataset(read_records(recorder.path), seed_of(records), captured)
    assert summary.header["dropped_requests"] == {}
    _, servers = local_stores
    second_sets = await fresh_sets(servers)
    try:
        second = await _replay(second_sets, captured, tmp_path / "out2")
    finally:
        await release_sets(second_sets)
    assert not second.drive.unresolved and not second.drive.transport_errors
    assert second.drive.sent == recorder.written
    assert first.incomplete == second.incomplete  # whatever the stack could not do, it could not do both times
    assert recorder.skipped == {}  # every request of a built dataset is accepted, so every one was captured
    assert {op for op in first.dataset.ops()} >= {"create", "update", "increment", "read_comments"}
    assert _outcomes(second.counts) == _outcomes(first.counts)


def _outcomes(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per path: `agree` (match + ignored) and every other verdict. Which agreements a declared rule
    explains (e.g. a cache TTL a second apart) depends on timing, and varies between two replays of
    the very same dataset; whether the sides agree does not."""
    out: dict[str, dict[str, int]] = {}
    for path, verdicts in counts.items():
        row = out.setdefault(path, {})
        for verdict, n in verdicts.items():
            key = "agree" if verdict in ("match", "ignored") else verdict
            row[key] = row.get(key, 0) + n
    return out
