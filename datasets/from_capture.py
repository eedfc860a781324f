"""A capture (a request log) plus a seed snapshot -> a full dataset that validates.

The seed is what existed when the capture started: the seed of the dataset that was being
replayed, or a snapshot exported from production (pseudonymised with the same key, so an edit of
a seed comment is by its author's pseudonym). Requests that name a thing neither seeded nor
created earlier in the log (the capture started after it, or the sampling left its create out)
are dropped and counted in the header's `dropped_requests`; every user gets an account record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets.imports.common import ImportResult
from datasets.format import FORMAT_NAME, FORMAT_VERSION, SEED_KINDS, iter_lines, write_dataset
from datasets.validate import DatasetSummary, validate_dataset

DELETED = "[deleted]"


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a JSON Lines file (a capture or a dataset); bad lines raise DatasetError."""
    return [record for _, record in iter_lines(path)]


def seed_of(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The seed records (account, subreddit, link, comment) of a dataset, in file order."""
    return [r for r in records if r.get("kind") in SEED_KINDS]


def _resolves(rec: dict[str, Any], things: set[str]) -> str | None:
    """The drop reason of a request whose targets are unknown at this point, else None."""
    op = rec.get("op")
    if op == "create":
        return None if rec["parent"] in things else "unknown_parent"
    if op in ("update", "increment"):
        return None if rec["thing"] in things else "unknown_thing"
    if op in ("read_comments", "read_morechildren"):
        return None if rec["link"] in things else "unknown_link"
    return None


def assemble(log_records: Iterable[dict[str, Any]], seed_records: Iterable[dict[str, Any]],
             *, source: str = "capture", extra_header: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Header, accounts, subreddits, links, comments, then the resolvable requests (seq from 1)."""
    seed = seed_of(seed_records)
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in SEED_KINDS}
    for rec in seed:
        by_kind[rec["kind"]].append(rec)
    accounts = {r["name"] for r in by_kind["account"]}
    things = {r["fullname"] for r in by_kind["link"]} | {r["fullname"] for r in by_kind["comment"]}
    dropped: Counter[str] = Counter()
    requests: list[dict[str, Any]] = []
    new_accounts: list[str] = []
    for rec in log_records:
        if rec.get("kind") != "request":
            continue
        reason = _resolves(rec, things)
        if reason:
            dropped[reason] += 1
            continue
        user = rec.get("user")
        # a write refused for want of a user names none on purpose: it gets no account
        if user and user != DELETED and user not in accounts and rec.get("invalid") != "user":
            accounts.add(user)
            new_accounts.append(user)
        if rec["op"] == "create":
            things.add(rec["ref"])
        requests.append({**rec, "seq": len(requests) + 1})
    counts = Counter(r["op"] for r in requests)
    header = {"kind": "header", "format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": None, "cutoff": None,
              "threads": [r["fullname"] for r in by_kind["link"]], "dropped_orphans": 0,
              "requests": dict(sorted(counts.items())), "source": source,
              "dropped_requests": dict(sorted(dropped.items())), **(extra_header or {})}
    return [header, *by_kind["account"], *({"kind": "account", "name": n} for n in new_accounts),
            *by_kind["subreddit"], *by_kind["link"], *by_kind["comment"], *requests]


def write_capture_dataset(log_records: Iterable[dict[str, Any]], seed_records: Iterable[dict[str, Any]],
                          out: str | Path, *, source: str = "capture",
                          extra_header: dict[str, Any] | None = None) -> DatasetSummary:
    """Write the assembled dataset to `out` (.gz compresses) and validate it; returns the summary."""
    write_dataset(out, assemble(log_records, seed_records, source=source, extra_header=extra_header))
    return validate_dataset(out)


def read_capture(source: str | Path, scrubber: object = None, strict: bool = True) -> ImportResult:
    """A live capture (`[capture]` of `proxy serve`) as an import: its request records, already
    scrubbed when they were recorded (so `scrubber` is not applied again)."""
    result = ImportResult()
    for rec in read_records(source):
        result.source_records += 1
        if rec.get("kind") == "request":
            result.records.append(rec)
        else:
            result.skipped["not_a_request"] += 1
    return result
