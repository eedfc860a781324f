"""Fingerprints (Diffy-style) and the lifecycle rules, without a database."""

from __future__ import annotations

from diff_reports.grouping import (
    FIXED,
    OPEN,
    REGRESSED,
    accepted_rule,
    generalise_path,
    signature,
    status_after_occurrence,
    version_key,
)
from diff_reports.types import Difference, VerdictKind, VerdictRecord
from tests.reports.factories import body_mismatch, simple


def test_indices_generalise_and_fingerprint_ignores_order_and_values() -> None:
    assert generalise_path("data.children[12].data.replies[0].x") == "data.children[*].data.replies[*].x"
    a, b = body_mismatch("r1", index=1), body_mismatch("r2", index=7)
    assert signature(a).fingerprint == signature(b).fingerprint
    swapped = VerdictRecord(path=a.path, verdict=a.verdict, differences=tuple(reversed(b.differences)))
    assert signature(swapped).fingerprint == signature(a).fingerprint
    other_path = body_mismatch("r3", path="update.memcached.parity")
    assert signature(other_path).fingerprint != signature(a).fingerprint
    kinds = VerdictRecord(path=a.path, verdict=a.verdict, differences=(Difference("data.editted", "changed", 1, 2),))
    assert signature(kinds).fingerprint != signature(a).fingerprint
    assert signature(a).fields == (("data.children[*].score", "changed"), ("data.editted", "removed"))


def test_matches_have_no_group_and_errors_group_by_reason_shape() -> None:
    assert signature(simple("create.response", VerdictKind.MATCH, "r")) is None
    e1 = simple("create.response", VerdictKind.SHADOW_ERROR, "r1", reason="TimeoutError: after 2.0s on 10.0.0.7")
    e2 = simple("create.response", VerdictKind.SHADOW_ERROR, "r2", reason="TimeoutError: after 2.5s on 10.0.0.9")
    assert signature(e1).fingerprint == signature(e2).fingerprint
    assert signature(e1).title.startswith("shadow_error: TimeoutError")


def test_versions_order_numerically_and_regression_needs_a_later_version() -> None:
    assert version_key("1.10.0") > version_key("1.9.9") > version_key("1.9.9rc2")
    assert version_key("2.0") < version_key("2.0.1")
    assert status_after_occurrence(FIXED, "1.4.0", "1.3.9") == FIXED      # old version still in flight
    assert status_after_occurrence(FIXED, "1.4.0", "1.4.0") == REGRESSED
    assert status_after_occurrence(FIXED, "1.4.0", None, fixed_at=100.0, seen_at=101.0) == REGRESSED
    assert status_after_occurrence(OPEN, "1.4.0", "9.9") == OPEN


def test_accepted_group_is_an_ignore_rule() -> None:
    sig = signature(body_mismatch("r1"))
    rule = accepted_rule({"id": sig.fingerprint, "path": sig.path, "fields": list(sig.fields),
                          "rule_name": None, "reason": "legacy quirk"})
    assert rule == {"name": f"accepted-{sig.fingerprint}", "paths": ["data.children[*].score", "data.editted"],
                    "applies_to": ["update.postgres.parity"], "reason": "legacy quirk"}


def test_accepted_rule_loads_into_the_comparators_rules() -> None:
    from diff_reports.rules import IgnoreRule

    sig = signature(body_mismatch("r1"))
    rule = IgnoreRule.from_mapping(accepted_rule({"id": sig.fingerprint, "path": sig.path, "fields": list(sig.fields),
                                                  "rule_name": None, "reason": "legacy quirk"}))
    assert rule.applies("update.postgres.parity") and not rule.applies("update.memcached.parity")
    assert rule.matches_field("data.children[4].score") and rule.matches_field("data.editted")
