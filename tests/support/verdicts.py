"""What a correct rewrite may still be judged, besides `match`."""

from __future__ import annotations

from diff_reports.types import VerdictKind, VerdictRecord


def ttl_countdown_only(record: VerdictRecord) -> bool:
    """`ignored` on a Memcached path only because the built-in rule explains it: the two sides'
    TTLs were read a second apart."""
    return record.verdict is VerdictKind.IGNORED and record.path.split(".")[1] == "memcached" and all(
        d.ignored_by == "cache-ttl-countdown" for d in record.differences)
