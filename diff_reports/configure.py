"""Build the comparison core from settings: `[compare]` rules, drops and rounding, learned noise."""

from __future__ import annotations

from pathlib import Path

from config.settings import CompareSettings, Settings
from diff_reports.builtin_rules import BUILTIN_RULES
from diff_reports.comparator import Comparator
from diff_reports.noise import LearnedNoise
from diff_reports.normalise import DEFAULT_PROCESSORS, Normaliser, Processor, drop_fields, round_floats
from diff_reports.rules import IgnoreRule, rules_from_settings


def normaliser_from_settings(compare: CompareSettings) -> Normaliser:
    processors: list[Processor] = list(DEFAULT_PROCESSORS)
    if compare.drop_fields:
        processors.append(drop_fields(compare.drop_fields))
    for entry in compare.round:
        processors.append(round_floats(entry.paths, entry.digits, entry.applies_to))
    return Normaliser(processors)


def rules_from_compare_settings(compare: CompareSettings) -> list[IgnoreRule]:
    declared = rules_from_settings(compare.rules)
    return [*BUILTIN_RULES, *declared] if compare.builtin_rules else declared


def noise_from_settings(compare: CompareSettings) -> LearnedNoise:
    """The saved learned noise (`noise_file`) when it exists, else an empty one; thresholds from settings."""
    noise = LearnedNoise(compare.noise_min_samples, compare.noise_min_count)
    if compare.noise_file and Path(compare.noise_file).exists():
        noise.merge(LearnedNoise.load(compare.noise_file))
    return noise


def comparator_from_settings(settings: Settings, noise: LearnedNoise | None = None) -> Comparator:
    compare = settings.compare
    return Comparator(
        rules_from_compare_settings(compare),
        noise if noise is not None else noise_from_settings(compare),
        redact_bodies=settings.reports.redact_bodies,
        normaliser=normaliser_from_settings(compare),
    )
