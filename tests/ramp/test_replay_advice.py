"""The advisor's decision as `replay` prints it (replay/summary.py), from a run's own counts."""

from __future__ import annotations

from rich.console import Console

from results.advice.decision import GroupEvidence
from results.advice.endpoints import endpoint_paths
from replay.summary import print_advice, run_advice


def test_replay_prints_a_decision_per_endpoint() -> None:
    counts = {p: {"match": 5000} for e in ("info", "create") for p in endpoint_paths(e)}
    counts["create.memcached.parity"] = {"match": 4990, "mismatch": 10}
    group = GroupEvidence("g1", "create.memcached.parity", "mismatch", "open", "changed ttl", 10)
    advices = {a.endpoint: a for a in run_advice(counts, [group])}
    assert advices["info"].decision == "go"
    assert advices["info"].reasons == ("go: 0 mismatches in 5,000 samples, upper bound 0.06% < 0.1% on read.info.response",)
    assert advices["create"].decision == "roll back"
    assert advices["comments"].decision == "hold"  # not exercised in this run
    console = Console(record=True, width=200)
    print_advice(list(advices.values()), console)
    text = console.export_text()
    assert "ramp advice for this run ([ramp.policy], as if it were a ramp step):" in text  # the key shown, not eaten as markup
    assert "info: go: 0 mismatches in 5,000 samples" in text
    assert "create: roll back: create.memcached.parity has 10 mismatches in 5,000 samples" in text
    assert "hold: 1 open group seen at this step needs review" in text
