"""replay --workers N: the proxy publishes jobs and stream-mode worker processes judge them; the
verdicts are the same as the inline judge's, however many workers share the stream."""

from __future__ import annotations

import uuid

from new_comments_service import cdc
from replay.run import ReplayOptions, ReplayResult, run_replay
from replay.stores import ReplayStores
from sister_stores.databases import drop_database
from tests.support.stores import fresh_sets, release_sets


def _agreeing(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """`ignored` folded into `match`: a difference a noise rule explains is timing (a cache TTL read
    in a different second, `cache-ttl-countdown`), which no judge layout can make identical."""
    out = {}
    for path, by_verdict in counts.items():
        folded = dict(by_verdict)
        if "ignored" in folded:
            folded["match"] = folded.get("match", 0) + folded.pop("ignored")
        out[path] = folded
    return out


async def _replay_on_fresh_stores(servers, settings, dataset, out, **options) -> ReplayResult:
    sets = await fresh_sets(servers)
    results = sets.sister.with_database(f"r_{uuid.uuid4().hex[:12]}").postgres
    try:
        stores = ReplayStores(sets.production, sets.sister, results, local=None)
        return await run_replay(settings, stores, ReplayOptions(dataset, out=out, fresh=False, progress=False,
                                                                fail_on="any", **options))
    finally:
        await release_sets(sets)
        await drop_database(results)


async def test_verdict_counts_are_identical_inline_and_with_one_and_two_workers(local_stores, replay_settings,
                                                                                 small_dataset, tmp_path) -> None:
    _, servers = local_stores
    runs = {workers: await _replay_on_fresh_stores(servers, replay_settings, small_dataset, tmp_path / f"w{workers}",
                                                   workers=workers)
            for workers in (0, 1, 2)}
    for workers, result in runs.items():
        assert not result.incomplete, (workers, result.incomplete)
        assert result.stack.sink.total == result.drive.expected_verdicts, workers
        assert result.gate.passed, (workers, result.gate)
    inline = _agreeing(runs[0].counts)
    assert sum(sum(c.values()) for c in inline.values()) == runs[0].drive.expected_verdicts
    assert _agreeing(runs[1].counts) == inline
    assert _agreeing(runs[2].counts) == inline
    # The stored reports say the same as the replay's own counts.
    for result in runs.values():
        assert result.reports["json"].stat().st_size > 0


async def test_workers_find_a_planted_bug_with_its_examples(local_stores, replay_settings, small_dataset, tmp_path,
                                                            monkeypatch) -> None:
    original = cdc.event_fields

    def mutated(kind, *args, **kwargs):  # a rewrite bug: an extra field on vote events
        fields = original(kind, *args, **kwargs)
        return {**fields, "origin": "rewrite"} if kind == cdc.VOTED else fields

    monkeypatch.setattr(cdc, "event_fields", mutated)
    _, servers = local_stores
    result = await _replay_on_fresh_stores(servers, replay_settings, small_dataset, tmp_path / "out", workers=2,
                                           processes=False)  # the patched rewrite serves from this process
    groups = result.stack.sink.groups
    assert {g.signature.path for g in groups.values()} == {"increment.redis_cdc.parity"}
    assert not result.gate.passed
    group = next(iter(groups.values()))
    assert group.count == result.counts["increment.redis_cdc.parity"]["mismatch"]
    assert group.examples and any("origin" in d.path for d in group.examples[0].differences), group.examples
