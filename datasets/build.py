"""Build a dataset from real threads (the ../shared/datasets/reddit format).

Seed: per thread the first `cutoff` share of comments by creation time, plus (with their
ancestors) every `[deleted]` comment, as there is no delete endpoint to replay, every direct reply
to one (written before the deletion; the legacy refuses new replies to a deleted comment), and
every comment whose score is further from 1 than `max_votes` votes can take it. Log: the remaining comments as
creates in their real order (replies to replies refer to earlier creates), edits where a later
snapshot or an edit time shows one, votes by distinct synthetic voters that take each comment to its
observed score (with some direction changes and un-votes on the way), and reads of the thread in
every sort, of single comments and of more-children. Authors are anonymised with a keyed hash, so
the same author is the same pseudonym throughout, and the same seed builds the same file.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from datasets import probes, thresholds
from datasets.format import FORMAT_NAME, FORMAT_VERSION, SORTS, DatasetError

DELETED = "[deleted]"


@dataclass(frozen=True)
class BuildOptions:
    seed: int = 7
    cutoff: float = 0.6          # share of each thread's comments in the seed snapshot
    max_votes: int = 8           # vote requests per comment at most; the rest is in the seed score
    read_every: int = 20         # a round of reads after this many writes in a thread
    max_comments_per_thread: int | None = None
    probes: bool = True          # synthetic comments and requests reaching the legacy's branches (probes.py)
    score_hide_mins: int = 60    # the subreddit of the first thread hides scores this long (0: none does)


@dataclass
class _Thread:
    link: dict[str, Any]
    comments: list[dict[str, Any]]
    dropped_orphans: int = 0
    seed_ids: set[str] = field(default_factory=set)


class Anonymiser:
    def __init__(self, seed: int) -> None:
        self._key = f"tapcompare-{seed}".encode()

    def __call__(self, name: str | None) -> str:
        if not name or name == DELETED:
            return DELETED
        return "user_" + hashlib.blake2b(name.encode(), key=self._key, digest_size=5).hexdigest()


def _repaired(value: Any) -> Any:
    """Text a legacy could have stored: an unpaired UTF-16 surrogate (an escape some dumps hold)
    and NUL (PostgreSQL text cannot hold it; the legacy refuses it in new text) become U+FFFD."""
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "\ufffd")
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_repaired(v) for v in value]
    if isinstance(value, dict):
        return {_repaired(k): _repaired(v) for k, v in value.items()}
    return value


def _json(text: str, path: Path, line: int) -> Any:
    try:
        return _repaired(orjson.loads(text))
    except orjson.JSONDecodeError:
        try:
            return _repaired(json.loads(text))  # the stdlib parser takes unpaired surrogate escapes
        except json.JSONDecodeError as exc:
            raise DatasetError(str(path), line, f"not JSON ({exc}); expected one reddit comment object per line") from None


def _thread_rows(ndjson: Path) -> list[dict[str, Any]]:
    """One comment object per line. Split on newlines only: str.splitlines would also split inside
    a body holding a raw U+2028, U+0085 or form feed."""
    try:
        text = ndjson.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(str(ndjson), _text_line(ndjson, exc.start), f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        row = _json(line, ndjson, n)
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("name", "link_id", "parent_id")):
            raise DatasetError(str(ndjson), n, "expected a comment object with name, link_id and parent_id (strings)")
        rows.append(_typed(row, ndjson, n))
    return rows


def _typed(row: dict[str, Any], path: Path, line: int) -> dict[str, Any]:
    """Dumps differ in types: numbers as strings, null body or author. Coerced here, or refused
    naming the field, so nothing later trips over a type."""
    out = dict(row)
    if out.get("created_utc") is None:
        raise DatasetError(str(path), line, "created_utc missing (expected epoch seconds)")
    for key, kind in (("created_utc", float), ("score", int), ("gilded", int)):
        if out.get(key) is None:  # an optional one (created_utc is there, checked above)
            out.pop(key, None)
            continue
        try:
            value = float(out[key])
            if not math.isfinite(value):
                raise ValueError(value)
            out[key] = kind(value)
        except (TypeError, ValueError):
            raise DatasetError(str(path), line, f"{key} is {out[key]!r} (expected a number)") from None
    for key in ("body", "author"):
        if not isinstance(out.get(key), str):
            out[key] = DELETED  # how reddit's API shows a body or author that is gone
    return out


def _text_line(path: Path, byte: int) -> int:
    """The 1-based line of `byte` in `path`."""
    return path.read_bytes()[:byte].count(b"\n") + 1


def _load_thread(ndjson: Path, limit: int | None) -> _Thread:
    rows = _thread_rows(ndjson)
    rows.sort(key=lambda r: (r["created_utc"], r["name"]))
    kept, known, orphans = [], {rows[0]["link_id"]} if rows else set(), 0
    for row in rows:
        if row["parent_id"] not in known:
            orphans += 1  # parent missing from a partial thread: its subtree cannot be replayed
            continue
        known.add(row["name"])
        kept.append(row)
        if limit and len(kept) >= limit:
            break
    post_file = ndjson.with_name(ndjson.name.replace(".ndjson", ".post.json"))
    link_name = rows[0]["link_id"] if rows else ndjson.stem
    if post_file.exists():
        post = _json(post_file.read_text(encoding="utf-8", errors="replace"), post_file, 1)
    else:  # no recorded post: synthesize one from what the comments say about it
        first = rows[0] if rows else {}
        post = {"name": link_name, "title": f"thread {link_name}", "author": None, "subreddit": first.get("subreddit", "unknown"),
                "created_utc": (first.get("created_utc", 0) - 60), "score": 1, "url": "", "selftext": ""}
    return _Thread(post, kept, orphans)


def _edit_text(row: dict[str, Any]) -> tuple[str, str] | None:
    """(original body, edited body) when the record shows an edit, else None."""
    if row.get("author") == DELETED or row.get("body") in (DELETED, "[removed]"):
        return None
    snaps = sorted(row.get("_other_snapshots") or [], key=lambda s: s.get("recorded_at", ""))
    bodies = [s["body"] for s in snaps if s.get("body") not in (None, DELETED, "[removed]")]
    recorded = row.get("_recorded_at", "")
    later = [s["body"] for s in snaps if s.get("recorded_at", "") > recorded and s.get("body") not in (None, DELETED, "[removed]")]
    if later and later[-1] != row["body"]:
        return row["body"], later[-1]
    if bodies and bodies[0] != row["body"]:
        return bodies[0], row["body"]
    if row.get("edited"):
        return row["body"], row["body"] + "\n\nedit: thanks!"
    return None


def _vote_plan(rng: random.Random, delta: int, voters: list[str], max_votes: int) -> tuple[int, list[tuple[str, int]]]:
    """Votes (voter, dir) whose final directions sum to the replayed part of `delta`.

    Returns (the part of delta left to the seed score, votes). Sometimes one voter first votes
    the other way and then changes, and another up-votes and then un-votes; votes of different
    voters interleave at random, each voter's own votes stay in order.
    """
    replayed = max(-max_votes, min(max_votes, delta))
    direction = 1 if replayed >= 0 else -1
    n = abs(replayed)
    sequences = [[direction] for _ in range(n)]
    if n and rng.random() < 0.5:
        sequences[0].insert(0, -direction)  # a change of direction on the way
    if rng.random() < 0.4:
        sequences.append([1, 0])  # an un-vote
    pool = rng.sample(voters, k=len(sequences))
    pending = list(zip(pool, sequences))
    votes: list[tuple[str, int]] = []
    while pending:
        j = rng.randrange(len(pending))
        voter, seq = pending[j]
        votes.append((voter, seq.pop(0)))
        if not seq:
            pending.pop(j)
    return delta - replayed, votes


def build_dataset(threads_dir: str | Path, options: BuildOptions = BuildOptions()) -> list[dict[str, Any]]:
    """All records of a dataset (header first), ready for write_dataset."""
    rng = random.Random(options.seed)
    anon = Anonymiser(options.seed)
    files = sorted(Path(threads_dir).glob("*.ndjson"))
    if not files:
        raise FileNotFoundError(f"no *.ndjson threads in {threads_dir} (expected the reddit threads format)")
    threads = [_load_thread(f, options.max_comments_per_thread) for f in files]
    voters = [f"voter_{i:03d}" for i in range(max(options.max_votes + 2, 12))]
    accounts: set[str] = set(voters)
    seed_records: list[dict[str, Any]] = []
    logs: list[list[dict[str, Any]]] = []
    # Synthetic probe comments get ids above every real one, so they never collide.
    next_id = 1 + max((int(c["name"][3:], 36) for th in threads for c in th.comments), default=0)

    for th in threads:
        link_name = th.link["name"]
        link_author = anon(th.link.get("author"))
        accounts.add(link_author)
        seed_records.append({"kind": "link", "fullname": link_name, "subreddit": th.link.get("subreddit", "unknown"),
                             "author": link_author, "title": th.link.get("title", ""), "url": th.link.get("url") or "",
                             "selftext": th.link.get("selftext") or "", "created_utc": float(th.link.get("created_utc", 0)),
                             "score": int(th.link.get("score", 1))})
        by_name = {c["name"]: c for c in th.comments}
        k = math.ceil(options.cutoff * len(th.comments))
        seed_ids = {c["name"] for c in th.comments[:k]}
        for c in th.comments:
            # Seeded, with their ancestors: deleted comments (no delete endpoint to replay) and
            # comments whose score is beyond what max_votes vote requests can reach from 1.
            if c.get("author") == DELETED or abs(int(c.get("score", 1)) - 1) > options.max_votes:
                node: dict[str, Any] | None = c
                while node is not None:
                    seed_ids.add(node["name"])
                    node = by_name.get(node["parent_id"])
        # Replies to a deleted comment were written before it was deleted (the legacy refuses new
        # ones), so they belong to the seed too; their ancestors are the deleted comment's, seeded.
        deleted = {c["name"] for c in th.comments if c.get("author") == DELETED}
        seed_ids |= {c["name"] for c in th.comments if c["parent_id"] in deleted}
        log: list[dict[str, Any]] = []
        writes = 0
        existing: list[str] = [c["name"] for c in th.comments if c["name"] in seed_ids]  # in creation order
        for c in th.comments:
            author = anon(c.get("author"))
            accounts.add(author)
            edit = _edit_text(c)
            body = edit[0] if edit else c["body"]
            score = int(c.get("score", 1))
            rest, votes = _vote_plan(rng, score - 1, voters, options.max_votes) if c.get("author") != DELETED else (score - 1, [])
            if c["name"] in seed_ids:
                seed_records.append({"kind": "comment", "fullname": c["name"], "link": link_name, "parent": c["parent_id"],
                                     "author": author, "body": body, "created_utc": float(c["created_utc"]),
                                     "score": 1 + rest, "deleted": c.get("author") == DELETED,
                                     "distinguished": c.get("distinguished"), "stickied": bool(c.get("stickied")),
                                     "gilded": int(c.get("gilded") or 0)})
            else:
                log.append({"op": "create", "user": author, "parent": c["parent_id"], "text": body, "ref": c["name"]})
                existing.append(c["name"])
                writes += 1
            log += [{"op": "increment", "user": v, "thing": c["name"], "dir": d} for v, d in votes]
            writes += len(votes)
            if edit and author != DELETED:
                log.append({"op": "update", "user": author, "thing": c["name"], "text": edit[1]})
                writes += 1
            if writes >= options.read_every:
                writes = 0
                log += _reads(rng, link_name, th.comments, existing)
        if options.probes:
            probe_seed, probe_log = probes.thread_probes(rng, link_name, th.link, th.comments, voters, next_id)
            next_id += probes.IDS_PER_THREAD
            seed_records += probe_seed
            accounts |= probes.ACCOUNTS
            existing += [r["fullname"] for r in probe_seed]
            log += probe_log
        log += _reads(rng, link_name, th.comments, existing)
        logs.append(log)

    if options.probes and threads:
        extra_seed, extra_log = _dataset_probes(rng, threads, voters, next_id)
        seed_records += extra_seed
        logs.append(extra_log)
    requests = _interleave(rng, logs)
    counts: dict[str, int] = {}
    for r in requests:
        counts[r["op"]] = counts.get(r["op"], 0) + 1
    header = {"kind": "header", "format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": options.seed,
              "cutoff": options.cutoff, "threads": [t.link["name"] for t in threads],
              "dropped_orphans": sum(t.dropped_orphans for t in threads), "requests": counts}
    account_records = [{"kind": "account", "name": a} for a in sorted(accounts - {DELETED})]
    subreddits = sorted({r["subreddit"] for r in seed_records if r["kind"] == "link"})
    hiding = _hiding_subreddit(threads) if options.score_hide_mins > 0 else None
    subreddit_records = [{"kind": "subreddit", "name": s, **({"comment_score_hide_mins": options.score_hide_mins}
                                                              if s == hiding else {})} for s in subreddits]
    return [header, *account_records, *subreddit_records, *seed_records,
            *({"kind": "request", "seq": i, **r} for i, r in enumerate(requests, start=1))]


def _hiding_subreddit(threads: list[_Thread]) -> str:
    """The subreddit that hides scores: the first thread's (by file name), whatever the threads."""
    return str(threads[0].link.get("subreddit", "unknown"))


def _dataset_probes(rng: random.Random, threads: list[_Thread], voters: list[str],
                    first_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Once per dataset, on two synthetic links in the score-hiding subreddit: both sides of every
    threshold (thresholds.py), the repeats and the refusals (probes.write_probes). Link and comment
    ids lie above every real one; `unknown` lies far above what the legacy's sequence will assign."""
    post = threads[0].link
    top_link = max(int(t.link["name"][3:], 36) for t in threads)
    deep, wide = (f"t3_{probes.b36(top_link + k)}" for k in (1, 2))
    t0 = float(post.get("created_utc", 0)) + 120.0
    records: list[dict[str, Any]] = [
        {"kind": "link", "fullname": name, "subreddit": _hiding_subreddit(threads), "author": probes.AUTHOR,
         "title": f"probe: {what}", "url": "", "selftext": "", "created_utc": t0 - 60, "score": 1, "synthetic": True}
        for name, what in ((deep, "thresholds, repeats and refusals"), (wide, "limit clamps"))]
    count = thresholds.NAMES_NEEDED + probes.REFUSAL_NAMES
    names = [f"t1_{probes.b36(first_id + i)}" for i in range(count)]
    unknown = f"t1_{probes.b36(first_id + count + 10**9)}"
    seeds, log = thresholds.threshold_probes(rng, deep, wide, names[:thresholds.NAMES_NEEDED], voters, t0,
                                             probes.AUTHOR, probes.OTHER)
    more_seeds, more_log = probes.write_probes(deep, names[thresholds.NAMES_NEEDED:], unknown, voters, t0 + 600)
    return records + seeds + more_seeds, log + more_log


def _reads(rng: random.Random, link: str, comments: list[dict[str, Any]], existing: list[str]) -> list[dict[str, Any]]:
    """A round of reads naming only comments that exist at this point of the log (`existing`)."""
    if not existing:
        return [{"op": "read_comments", "link": link, "sort": "confidence", "limit": 200, "depth": 10}]
    known = list(existing)
    sort = rng.choice(SORTS)
    reads: list[dict[str, Any]] = [{"op": "read_comments", "link": link, "sort": s, "limit": 200, "depth": 10} for s in SORTS]
    reads.append({"op": "read_comments", "link": link, "sort": sort, "limit": rng.choice((5, 20)), "depth": rng.choice((2, 3))})
    reads.append({"op": "read_info", "ids": rng.sample(known, k=min(3, len(known)))})
    top_level = {c["name"] for c in comments if c["parent_id"] == link}
    tops = [name[3:] for name in known if name in top_level]
    if tops:
        reads.append({"op": "read_morechildren", "link": link, "children": rng.sample(tops, k=min(4, len(tops))), "sort": sort})
    return reads


def _interleave(rng: random.Random, logs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Threads' logs merged like concurrent traffic, each thread keeping its own order."""
    cursors = [0] * len(logs)
    out: list[dict[str, Any]] = []
    while True:
        live = [i for i, log in enumerate(logs) if cursors[i] < len(log)]
        if not live:
            return out
        i = rng.choice(live)
        out.append(logs[i][cursors[i]])
        cursors[i] += 1
