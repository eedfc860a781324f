"""Rules every comparison starts with: differences that are physics, not bugs. Each says why.

They are ordinary declared rules (counted under their names like any other) and can be switched
off with `[compare] builtin_rules = false`.
"""

from __future__ import annotations

from diff_reports.rules import IgnoreRule

BUILTIN_RULES: tuple[IgnoreRule, ...] = (
    IgnoreRule(
        name="cache-ttl-countdown",
        paths=("ttl",),
        applies_to=("*.memcached.parity",),
        tolerance_abs=60,
        kinds=("changed",),
        reason="a Memcached TTL counts down from 43200 s; the two sides wrote, and are read, moments apart",
    ),
)
