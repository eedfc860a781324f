"""The go / hold / roll-back decision against hand-computed cases."""

from __future__ import annotations

from config.settings import RampPolicySettings
from results.advice.decision import Evidence, GroupEvidence, PathEvidence, Step, advise, duration, pct

CREATE_PATHS = ["create.response"] + [f"create.{s}.{c}" for s in ("postgres", "memcached", "redis_cdc")
                                      for c in ("parity", "legacy_read")]
NOW = 1_800_000_000.0
HOUR_AGO = Step(pct=5, since=NOW - 3600)
# latency alike on both sides (same values, other order): never a regression
ALIKE = [10.0 + (i % 9) for i in range(200)]


def evidence(counts: dict[str, dict[str, int]], **kw) -> Evidence:
    kw.setdefault("step", HOUR_AGO)
    kw.setdefault("legacy_ms", ALIKE)
    kw.setdefault("new_ms", list(reversed(ALIKE)))
    return Evidence("create", [PathEvidence(p, counts.get(p, {})) for p in CREATE_PATHS], now=NOW, **kw)


def every_path(**verdicts: int) -> dict[str, dict[str, int]]:
    return {p: dict(verdicts) for p in CREATE_PATHS}


def test_zero_of_n_on_every_path_is_go() -> None:
    advice = advise(evidence(every_path(match=12_400)))
    assert advice.decision == "go"
    # 0 of 12,400: 1 - 0.05^(1/12400) = 0.024%; total samples over the 7 paths
    assert advice.reasons == ("go: 0 mismatches in 86,800 samples, upper bound at most 0.024% < 0.1% on all 7 paths",)
    assert all(r.status == "ok" for r in advice.paths)
    assert "60 min at 5%" in advice.notes


def test_one_path_one_ignored_path_counts_as_conclusive() -> None:
    counts = every_path(match=5000)
    counts["create.memcached.parity"] = {"match": 4000, "ignored": 1000}
    assert advise(evidence(counts)).decision == "go"


def test_k_of_n_with_an_upper_bound_above_the_limit_holds() -> None:
    counts = every_path(match=5000)
    # 4 of 5,000: upper bound 0.18% >= 0.1%; lower bound 0.027% <= 0.1%: neither go nor roll back
    counts["create.postgres.parity"] = {"match": 4996, "mismatch": 4}
    advice = advise(evidence(counts), RampPolicySettings(hold_on_open_groups=False))
    assert advice.decision == "hold"
    row = next(r for r in advice.paths if r.path == "create.postgres.parity")
    assert row.status == "uncertain" and row.failures == 4
    assert advice.reasons == ("hold: create.postgres.parity has 4 mismatches in 5,000 samples; its upper bound "
                              "0.18% is not below 0.1%",)


def test_k_of_n_with_a_lower_bound_above_the_limit_rolls_back() -> None:
    counts = every_path(match=2000)
    # 10 of 1,000 (3 of them shadow errors): lower bound 0.54% > 0.1%
    counts["create.response"] = {"match": 990, "mismatch": 7, "shadow_error": 3}
    advice = advise(evidence(counts))
    assert advice.decision == "roll back"
    assert advice.reasons[0] == ("roll back: create.response has 7 mismatches and 3 shadow errors in 1,000 samples, "
                                 "so its failure rate is above 0.1% with 95% confidence (lower bound 0.54%)")


def test_k_of_n_below_the_limit_goes() -> None:
    counts = every_path(match=20_000)
    counts["create.redis_cdc.parity"] = {"match": 19_999, "mismatch": 1}
    # 1 of 20,000: upper bound 0.024% (4.7439 / 20,000) < 0.1%; its group is reviewed already
    advice = advise(evidence(counts), RampPolicySettings(hold_on_open_groups=False))
    assert advice.decision == "go"
    assert advice.reasons == ("go: 1 mismatch in 140,000 samples, upper bound at most 0.024% < 0.1% on all 7 paths",)


def test_too_few_samples_holds_even_with_no_mismatch() -> None:
    counts = every_path(match=5000)
    counts["create.memcached.legacy_read"] = {"match": 40}
    advice = advise(evidence(counts))
    assert advice.decision == "hold"
    assert advice.reasons == ("hold: too few samples on 1 path (create.memcached.legacy_read 40); "
                              "the policy asks for 100 each",)
    # and enough samples but an upper bound still >= 0.1%: 0 of 2,000 is 0.15%
    advice = advise(evidence(every_path(match=2000)))
    assert advice.decision == "hold" and len(advice.reasons) == 7
    assert advice.reasons[0] == "hold: create.response has 0 mismatches in 2,000 samples; its upper bound 0.15% is not below 0.1%"


def test_paths_not_exercised_and_inconclusive_share_hold() -> None:
    counts = every_path(match=5000)
    del counts["create.redis_cdc.legacy_read"]
    counts["create.redis_cdc.parity"] = {"match": 4900, "raced": 60, "unavailable": 40, "skipped": 10}
    advice = advise(evidence(counts))
    assert advice.decision == "hold"
    assert ("hold: create.redis_cdc.parity has 100 of 5,010 verdicts inconclusive (raced or unavailable), "
            "2.0% > 1%") in advice.reasons
    assert "hold: 1 of 7 paths not yet exercised at this step: create.redis_cdc.legacy_read" in advice.reasons


def test_open_and_regressed_groups() -> None:
    counts = every_path(match=20_000)
    counts["create.postgres.parity"] = {"match": 19_999, "mismatch": 1}
    opened = GroupEvidence("g1", "create.postgres.parity", "mismatch", "open", "changed editted", 1)
    advice = advise(evidence(counts, groups=[opened]))
    assert advice.decision == "hold" and advice.open_groups == 1
    assert advice.reasons == ("hold: 1 open group seen at this step needs review (accept as noise or fix): "
                              "g1 on create.postgres.parity (changed editted, 1 time)",)
    back = GroupEvidence("g2", "create.postgres.parity", "mismatch", "regressed", "changed ttl", 3)
    advice = advise(evidence(counts, groups=[back]))
    assert advice.decision == "roll back"
    assert advice.reasons == ("roll back: group g2 on create.postgres.parity was marked fixed and is seen again "
                              "at this step (3 times): changed ttl",)


def test_latency_regression_significant_and_large_holds() -> None:
    legacy = [10.0 + (i % 9) for i in range(200)]        # p50 14, p99 18
    slower = [2 * v for v in legacy]                      # every value doubled: p50 28 ms (2x > 1.5x)
    advice = advise(evidence(every_path(match=20_000), legacy_ms=legacy, new_ms=slower))
    assert advice.decision == "hold"
    assert advice.latency.regression and advice.latency.test is not None and advice.latency.test.p < 1e-30
    assert advice.latency.p50_ratio == 2.0
    assert advice.reasons[0].startswith("hold: the rewrite is slower: rewrite p50 28.0 ms vs legacy 14.0 ms (2.00x)")


def test_latency_significant_but_small_or_not_significant_goes() -> None:
    legacy = [10.0 + (i % 9) for i in range(200)]
    a_bit = [v + 1 for v in legacy]                       # significant (p tiny) but p50 1.07x, p99 1.06x
    advice = advise(evidence(every_path(match=20_000), legacy_ms=legacy, new_ms=a_bit))
    assert advice.decision == "go" and not advice.latency.regression
    assert advice.latency.test is not None and advice.latency.test.p < 0.01
    assert any("within the 1.5x p50 / 2x p99 limits" in n for n in advice.notes)
    # twice as slow on 5 samples a side: not enough to test, so no regression is called
    advice = advise(evidence(every_path(match=20_000), legacy_ms=legacy[:5], new_ms=[2 * v for v in legacy[:5]]))
    assert advice.decision == "go" and advice.latency.test is None
    assert any(n.startswith("latency not tested: 5 legacy and 5 rewrite samples") for n in advice.notes)
    # same distribution: not significant
    advice = advise(evidence(every_path(match=20_000)))
    assert advice.latency.test is not None and advice.latency.test.p > 0.4


def test_time_at_step_and_sql() -> None:
    young = Step(pct=25, since=NOW - 240)
    advice = advise(evidence(every_path(match=20_000), step=young, legacy_sql=4.0, new_sql=10.0, sql_samples=500))
    assert advice.decision == "hold"
    assert advice.reasons == ("hold: 4 min at 25% so far; the policy asks for 10 min at a step",)
    assert "SQL statements per request: rewrite 10.0 vs legacy 4.0 (2.50x) over 500 requests" in advice.notes
    strict = RampPolicySettings(max_sql_ratio=2.0, min_step_minutes=0)
    advice = advise(evidence(every_path(match=20_000), step=young, legacy_sql=4.0, new_sql=10.0, sql_samples=500), strict)
    assert advice.reasons == ("hold: SQL statements per request: rewrite 10.0 vs legacy 4.0 (2.50x) over 500 "
                              "requests, above the 2x limit",)
    unknown = advise(evidence(every_path(match=20_000), step=Step(pct=5, since=None)))
    assert unknown.reasons == ("hold: no audit entry says when create was set to 5%, so the time at this step "
                               "is unknown",)
    off = advise(evidence(every_path(match=20_000), step=Step(pct=0, since=None)))
    assert off.reasons == ("hold: create is at 0%, so nothing is shadowed and nothing is judged; start with a small "
                           "step by hand (tapcompare ramp set create 1)",)
    # a replay run is no ramp step: time is not judged
    assert advise(evidence(every_path(match=20_000), step=None)).decision == "go"


def test_wilson_policy_and_formatting() -> None:
    wilson = RampPolicySettings(bound="wilson")
    # 0 of 3,000, Wilson one-sided: z²/(n + z²) = 0.09%: go where Clopper-Pearson (0.0998%) also goes
    assert advise(evidence(every_path(match=3000)), wilson).decision == "go"
    assert pct(0.00024156) == "0.024%" and pct(0.394) == "39%" and pct(0.015) == "1.5%" and pct(0.001) == "0.1%"
    assert duration(35) == "35 s" and duration(600) == "10 min" and duration(3 * 3600 + 300) == "3 h 5 min"
