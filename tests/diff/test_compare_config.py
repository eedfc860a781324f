"""The [compare] configuration section: rules, drops, rounding, noise thresholds; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from diff_reports.configure import comparator_from_settings, noise_from_settings
from diff_reports.noise import LearnedNoise
from diff_reports.types import Observation, VerdictKind

GOOD = """
[reports]
redact_bodies = false

[compare]
drop_fields = ["body.debug"]
noise_min_samples = 2
noise_min_count = 1

[[compare.rules]]
name = "created-tz"
paths = ["*.created"]
applies_to = ["read.*.response"]
reason = "r2 shifts created by the server timezone"

[[compare.rules]]
name = "confidence-float32"
paths = ["*.confidence"]
tolerance_rel = 1e-6
kinds = ["changed"]
reason = "float32 intermediates"

[[compare.round]]
paths = ["*.ts"]
digits = 3
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tapcompare.toml"
    path.write_text(text)
    return path


def test_a_full_compare_section_builds_a_working_comparator(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD), environ={})
    assert [r.name for r in settings.compare.rules] == ["created-tz", "confidence-float32"]
    comparator = comparator_from_settings(settings)
    legacy = {"status": 200, "body": {"created": 1.0, "confidence": 0.5, "ts": 1.00001, "debug": 1, "body": "a"}}
    new = {"status": 200, "body": {"created": 2.0, "confidence": 0.5000001, "ts": 1.0, "debug": 2, "body": "a"}}
    record = comparator.compare("read.info.response", Observation("legacy", legacy), Observation("new", new))
    assert record.verdict is VerdictKind.IGNORED
    assert {d.path: d.ignored_by for d in record.differences} == {
        "body.created": "created-tz", "body.confidence": "confidence-float32",
    }
    assert comparator.rule_counts == {"cache-ttl-countdown": 0, "created-tz": 1, "confidence-float32": 1}
    other_path = comparator.compare("create.response", Observation("legacy", legacy), Observation("new", new))
    assert other_path.verdict is VerdictKind.MISMATCH  # created-tz is scoped to reads
    assert comparator.redact_bodies is False  # from [reports]


def test_noise_file_is_loaded_with_thresholds_from_settings(tmp_path: Path) -> None:
    learned = LearnedNoise(100, 100)
    learned.observe("p", {"t": 1}, {"t": 2})
    learned.observe("p", {"t": 1}, {"t": 3})
    learned.save(tmp_path / "noise.json")
    settings = load_settings(_write(tmp_path, GOOD), environ={
        "TAPCOMPARE_COMPARE__NOISE_FILE": str(tmp_path / "noise.json")})
    noise = noise_from_settings(settings.compare)
    assert (noise.min_samples, noise.min_count) == (2, 1) and noise.trusted("p") == {"t": 2}


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        ("[[compare.rules]]\nname = 'a'\npaths = ['x']\n", "compare.rules.0.reason", "required"),
        ("[[compare.rules]]\nname = 'a'\npaths = []\nreason = 'r'\n", "compare.rules.0.paths", "at least 1"),
        ("[[compare.rules]]\nname = 'a'\npaths = ['a b']\nreason = 'r'\n", "compare.rules.0.paths", "'a b' is malformed"),
        ("[[compare.rules]]\nname = 'a'\npaths = ['x[y]']\nreason = 'r'\n", "compare.rules.0.paths", "malformed"),
        ("[[compare.rules]]\nname = 'a'\npaths = ['x']\nreason = 'r'\ntolerance_abs = -1\n", "compare.rules.0.tolerance_abs", "greater than or equal to 0"),
        ("[[compare.rules]]\nname = 'a'\npaths = ['x']\nreason = 'r'\nkinds = ['moved']\n", "compare.rules.0.kinds.0", "'changed'"),
        ("[[compare.rules]]\nname = 'noise:a'\npaths = ['x']\nreason = 'r'\n", "compare.rules.0.name", "noise:"),
        ("[[compare.rules]]\nname = 'a'\npaths = ['x']\nreason = 'r'\n[[compare.rules]]\nname = 'a'\npaths = ['y']\nreason = 'r'\n",
         "compare.rules.1.name", "compare.rules.0.name"),
        ("[[compare.rules]]\nname = 'a'\npaths = ['x']\nreason = 'r'\nwhy = 'typo'\n", "compare.rules.0.why", "unknown setting"),
        ("[compare]\nnoise_min_samples = 0\n", "compare.noise_min_samples", "greater than or equal to 1"),
        ("[[compare.round]]\npaths = ['x']\ndigits = 99\n", "compare.round.0.digits", "less than or equal to 15"),
    ],
)
def test_bad_compare_settings_name_the_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), environ={})
    message = str(info.value)
    assert key in message and fragment in message, message
