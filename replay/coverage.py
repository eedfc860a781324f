"""Behaviour coverage: which of the legacy's branches a replay exercised, counted from its answers.

"18/18 paths" says every path produced a verdict; it does not say the edit window or a vote
change was ever reached. This module watches every legacy answer the replay driver receives
(the proxy returns the legacy's response untouched) and counts a branch only when the answer
shows the legacy took it: an edit answered with `edited: false` is a silent in-window edit, a
`[deleted]` comment rendered with replies is a reply to a deleted comment, and so on. What the
dataset meant to probe counts for nothing; a branch the legacy does not have stays at 0.

Scores need ups and downs, which the API does not show (`downs` is always 0). They are tracked
from the seed (the seeder's documented split of a score) and the votes the legacy accepted, and
used only for comments whose rendered score the legacy confirms (ups - downs equals its `score`).
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any

EDIT_WINDOW_S = 180
MORECHILDREN_CAP = 20
SORTS = ("confidence", "top", "new", "old", "controversial")
BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

BRANCHES: dict[str, str] = {
    "edit.in_window_silent": "edit within 3 minutes of a comment with at most 2 votes: answered with edited = false",
    "edit.in_window_voted": "edit within 3 minutes of a comment with more than 2 votes: edit time set",
    "edit.after_window": "edit more than 3 minutes after creation: edit time set",
    "edit.noop": "edit whose text equals the comment's current text, accepted",
    "edit.deleted_refused": "edit of a deleted comment, refused with 403",
    "vote.self": "vote by the author on their own comment, accepted",
    "vote.change": "vote reversing the same voter's earlier vote, accepted",
    "vote.unvote": "dir 0 after a vote by the same voter, accepted",
    "vote.deleted_refused": "vote on a deleted comment, refused with 404",
    "create.reply_to_deleted_refused": "reply to a deleted comment, refused",
    "listing.deleted_with_replies": "a comment rendered [deleted] with its replies shown",
    "listing.deleted_leaf_dropped": "a deleted comment without replies left out of a complete listing",
    "listing.spam_removed": "a spam comment rendered as [removed]",
    "listing.more_limit": "a 'more' stub for children beyond the limit",
    "listing.more_depth": "a 'more' stub for replies beyond the depth",
    "listing.controversial": "a comment rendered with controversiality 1",
    "listing.score_hidden": "a comment rendered with score_hidden true",
    **{f"ties.{s}": f"adjacent siblings with equal {s} sort keys in a listing sorted by {s}" + (
        " (the same creation second)" if s in ("new", "old") else "") for s in SORTS},
    "confidence.float32_order": "siblings the legacy ordered against their float64 confidence order (float32 rounding)",
    "text.non_nfc": "non-NFC text accepted and returned unchanged",
    "text.bidi": "text with bidi controls accepted and returned unchanged",
    "text.whitespace_refused": "whitespace-only text refused with NO_TEXT",
    "json.escaped": "a body with <, > or & served HTML-escaped (no raw_json)",
    "json.raw": "a body with <, > or & served as written with raw_json=1",
    "params.lenient": "a listing asked with a malformed or out-of-range sort, limit or depth, answered 200",
    "morechildren.capped": f"more-children asked for over {MORECHILDREN_CAP} children, answered with at most {MORECHILDREN_CAP} comments",
}


def _id36(data: dict[str, Any]) -> int:
    try:
        return int(str(data.get("id", "")), 36)
    except ValueError:
        return -1


def wilson_float64(ups: int, downs: int) -> float:
    """The textbook Wilson lower bound in float64 (r2 stores float32; the difference decides order)."""
    n = ups + downs
    if n == 0:
        return 0.0
    z = 1.281551565545
    p = ups / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def _controversy(ups: int, downs: int) -> float:
    if ups <= 0 or downs <= 0:
        return 0.0
    return float((ups + downs) ** (downs / ups if ups > downs else ups / downs))


def _things(body: Any) -> list[dict[str, Any]]:
    """The things of a write's or more-children's answer (`json.data.things`) or of /api/info's
    listing (`data.children`)."""
    try:
        things = body["json"]["data"]["things"]
    except (KeyError, TypeError):
        try:
            things = body["data"]["children"]
        except (KeyError, TypeError):
            return []
    return [t for t in things if isinstance(t, dict)] if isinstance(things, list) else []


def _errors(body: Any) -> list[str]:
    try:
        return [str(e[0]) for e in body["json"]["errors"] if e]
    except (KeyError, TypeError, IndexError):
        return []


@dataclass
class BehaviourCoverage:
    """Counts per branch. Feed it with `seed()` once and `observe()` per legacy answer."""

    counts: Counter[str] = field(default_factory=Counter)
    author: dict[str, str] = field(default_factory=dict)       # fullname -> author account
    counts_of: dict[str, list[int]] = field(default_factory=dict)  # fullname -> [ups, downs]
    votes: dict[tuple[str, str], int] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)           # fullname -> last accepted text
    deleted: set[str] = field(default_factory=set)
    spam: set[str] = field(default_factory=set)
    children: Counter[str] = field(default_factory=Counter)      # parent fullname -> known children
    link_of: dict[str, str] = field(default_factory=dict)        # comment fullname -> its link

    def seed(self, records: Sequence[Mapping[str, Any]]) -> None:
        for rec in records:
            if rec.get("kind") != "comment":
                continue
            name, score = rec["fullname"], int(rec.get("score", 1))
            self.author[name] = rec.get("author", "")
            self.counts_of[name] = [score, 0] if score >= 1 else [1, 1 - score]  # the seeder's split
            self.votes[(rec.get("author", ""), name)] = 1
            self.text[name] = rec.get("body", "")
            self.children[rec["parent"]] += 1
            self.link_of[name] = rec["link"]
            if rec.get("deleted"):
                self.deleted.add(name)
            if rec.get("spam"):
                self.spam.add(name)

    # -- answers -------------------------------------------------------------------------------
    def observe(self, req: Mapping[str, Any], names: dict[str, Any], status: int, body: Any) -> None:
        """One legacy answer. `names` holds the replayed fullnames the request used: `thing`,
        `parent`, `created` (a create's new comment)."""
        op, ok = req["op"], 200 <= status < 300 and not _errors(body)
        try:
            if op == "create":
                self._create(req, names, status, ok, body)
            elif op == "update":
                self._update(req, names, status, ok, body)
            elif op == "increment":
                self._vote(req, names, status, ok)
            else:
                self._read(req, status, body)
        except Exception:  # an answer of an unexpected shape never fails a replay; visible in the table
            self.counts["(unreadable answer)"] += 1

    def _text_kept(self, text: str, data: dict[str, Any]) -> bool:
        return data.get("body") in (text, html.escape(text, quote=False))

    def _check_text(self, text: str, ok: bool, status: int, body: Any) -> None:
        if not text.strip():
            if not ok and ("NO_TEXT" in _errors(body) or status >= 400):
                self.counts["text.whitespace_refused"] += 1
            return
        things = _things(body)
        if not ok or not things:
            return
        data = things[0].get("data", {})
        if text != unicodedata.normalize("NFC", text) and self._text_kept(text, data):
            self.counts["text.non_nfc"] += 1
        if BIDI & set(text) and self._text_kept(text, data):
            self.counts["text.bidi"] += 1

    def _create(self, req: Mapping[str, Any], names: dict[str, Any], status: int, ok: bool, body: Any) -> None:
        parent = names.get("parent", req["parent"])
        if parent in self.deleted and not ok:
            self.counts["create.reply_to_deleted_refused"] += 1
        self._check_text(req["text"], ok, status, body)
        created = names.get("created")
        if ok and created:
            self.author[created] = req["user"]
            self.counts_of[created] = [1, 0]
            self.votes[(req["user"], created)] = 1
            self.text[created] = req["text"]
            self.children[parent] += 1
            self.link_of[created] = parent if parent.startswith("t3_") else self.link_of.get(parent, "")

    def _update(self, req: Mapping[str, Any], names: dict[str, Any], status: int, ok: bool, body: Any) -> None:
        thing, text = names.get("thing", req["thing"]), req["text"]
        if thing in self.deleted and status == 403:
            self.counts["edit.deleted_refused"] += 1
        self._check_text(text, ok, status, body)
        if not ok:
            return
        if self.text.get(thing) == text:
            self.counts["edit.noop"] += 1
        self.text[thing] = text
        things = _things(body)
        if things:
            data = things[0].get("data", {})
            edited, created = data.get("edited"), data.get("created_utc")
            if edited is False:
                self.counts["edit.in_window_silent"] += 1
            elif isinstance(edited, (int, float)) and isinstance(created, (int, float)):
                self.counts["edit.in_window_voted" if edited - created <= EDIT_WINDOW_S else "edit.after_window"] += 1

    def _vote(self, req: Mapping[str, Any], names: dict[str, Any], status: int, ok: bool) -> None:
        thing, user, direction = names.get("thing", req["thing"]), req["user"], int(req["dir"])
        if thing in self.deleted and status == 404:
            self.counts["vote.deleted_refused"] += 1
        if not ok:
            return
        old = self.votes.get((user, thing), 0)
        if self.author.get(thing) == user:
            self.counts["vote.self"] += 1
        if old and direction and old != direction:
            self.counts["vote.change"] += 1
        if old and not direction:
            self.counts["vote.unvote"] += 1
        counts = self.counts_of.get(thing)
        if counts is not None and old != direction:
            counts[0] += (direction == 1) - (old == 1)
            counts[1] += (direction == -1) - (old == -1)
        self.votes[(user, thing)] = direction

    # -- reads ---------------------------------------------------------------------------------
    def _read(self, req: Mapping[str, Any], status: int, body: Any) -> None:
        op = req["op"]
        if status != 200:
            return
        if op == "read_comments" and req.get("lenient"):
            self.counts["params.lenient"] += 1
        # comments only: the answer also holds a `more` stub for the children left out
        if op == "read_morechildren" and len(req["children"]) > MORECHILDREN_CAP and \
                len([t for t in _things(body) if t.get("kind") == "t1"]) <= MORECHILDREN_CAP:
            self.counts["morechildren.capped"] += 1
        raw = bool(req.get("raw_json"))
        sort = req.get("sort") if op == "read_comments" and req.get("sort") in SORTS and not req.get("lenient") else None
        shown: set[str] = set()
        stubs = [0]
        if op == "read_comments":
            for part in body if isinstance(body, list) else [body]:
                self._walk(part, sort, raw, shown, stubs)
            if not stubs[0]:  # a complete listing: every comment the legacy lists is in it
                for name in self.deleted:
                    if not self.children[name] and name not in shown and self._in_link(name, req["link"]):
                        self.counts["listing.deleted_leaf_dropped"] += 1
        else:
            for thing in _things(body):
                self._node(thing, raw, shown)

    def _in_link(self, name: str, link: str) -> bool:
        return self.link_of.get(name) == link

    def _node(self, node: dict[str, Any], raw: bool, shown: set[str]) -> dict[str, Any] | None:
        if node.get("kind") != "t1":
            return None
        data = node.get("data") or {}
        name = data.get("name", "")
        shown.add(name)
        if name in self.spam and data.get("body") == "[removed]":
            self.counts["listing.spam_removed"] += 1
        if data.get("controversiality") == 1:
            self.counts["listing.controversial"] += 1
        if data.get("score_hidden") is True:
            self.counts["listing.score_hidden"] += 1
        text = self.text.get(name)
        if text and any(ch in text for ch in "<>&") and name not in self.deleted:
            if raw and data.get("body") == text:
                self.counts["json.raw"] += 1
            elif not raw and data.get("body") == html.escape(text, quote=False):
                self.counts["json.escaped"] += 1
        return data

    def _walk(self, part: Any, sort: str | None, raw: bool, shown: set[str], stubs: list[int]) -> None:
        if not isinstance(part, dict) or part.get("kind") != "Listing":
            return
        siblings: list[dict[str, Any]] = []
        for child in (part.get("data") or {}).get("children") or []:
            if not isinstance(child, dict):
                continue
            if child.get("kind") == "more":
                stubs[0] += 1
                more = child.get("data") or {}
                self.counts["listing.more_limit" if more.get("children") else "listing.more_depth"] += 1
                continue
            data = self._node(child, raw, shown)
            if data is None:
                continue
            siblings.append(data)
            replies = data.get("replies")
            if data.get("body") == "[deleted]" and data.get("author") == "[deleted]" and isinstance(replies, dict) \
                    and (replies.get("data") or {}).get("children"):
                self.counts["listing.deleted_with_replies"] += 1
            self._walk(replies, sort, raw, shown, stubs)
        if sort:
            self._order(siblings, sort)

    def _confirmed(self, data: dict[str, Any]) -> tuple[int, int] | None:
        counts = self.counts_of.get(data.get("name", ""))
        if counts is None or counts[0] - counts[1] != data.get("score"):
            return None
        return counts[0], counts[1]

    def _order(self, siblings: list[dict[str, Any]], sort: str) -> None:
        for a, b in zip(siblings, siblings[1:]):
            if sort == "top":
                tie = a.get("score") == b.get("score")
            elif sort in ("new", "old"):
                tie = a.get("created_utc") == b.get("created_utc")
            else:
                ca, cb = self._confirmed(a), self._confirmed(b)
                if ca is None or cb is None:
                    continue
                if sort == "confidence":
                    tie = ca == cb
                    wa, wb = wilson_float64(*ca), wilson_float64(*cb)
                    # The legacy put a first against the float64 order (ties by ascending id there).
                    if wa < wb or (wa == wb and ca != cb and _id36(a) > _id36(b)):
                        self.counts["confidence.float32_order"] += 1
                else:
                    tie = _controversy(*ca) == _controversy(*cb)
            if tie:
                self.counts[f"ties.{sort}"] += 1

    # -- the table -----------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """One row per known branch (zero included), then anything else counted."""
        rows = [{"branch": b, "what": w, "count": self.counts.get(b, 0)} for b, w in BRANCHES.items()]
        rows += [{"branch": b, "what": "", "count": n} for b, n in sorted(self.counts.items()) if b not in BRANCHES]
        return rows


def coverage_for(seed: Sequence[Mapping[str, Any]]) -> BehaviourCoverage:
    cov = BehaviourCoverage()
    cov.seed(seed)
    return cov


def missing_branches(rows: list[dict[str, Any]], required: list[str]) -> list[str]:
    """The required branches (names, or "all") the run did not exercise."""
    wanted = list(BRANCHES) if "all" in required else required
    counted = {r["branch"]: r["count"] for r in rows}
    return [b for b in wanted if not counted.get(b)]


def attach_to_reports(reports: dict[str, Any], rows: list[dict[str, Any]], required: list[str],
                      thresholds: Any = None) -> None:
    """Add the coverage table (and, given `thresholds`, the run's inconclusive thresholds) to the
    replay's report files: re-rendered from report.json, so every format says the same; plus
    coverage.json beside them."""
    import json
    from pathlib import Path

    from results.export.write import render
    from results.store.report import rejudge

    wanted = set(BRANCHES) if "all" in required else set(required)
    table = [dict(r, required=r["branch"] in wanted) for r in rows]
    if "json" not in reports:
        return
    path = Path(reports["json"])
    report = json.loads(path.read_text(encoding="utf-8"))
    if thresholds is not None:
        report = rejudge(report, thresholds)
    report["behaviour_coverage"] = table
    for fmt, out in reports.items():
        Path(out).write_text(render(report, fmt), encoding="utf-8")
    (path.parent / "coverage.json").write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
