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
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any

from datasets import thresholds as th
from datasets.probes import WRITE_BRANCHES
from replay.coverage_sides import Sides, _controversy, _errors, _id36, _things, wilson_float64

EDIT_WINDOW_S = int(th.BY_NAME["edit_window"].value)
MORECHILDREN_CAP = int(th.BY_NAME["morechildren_cap"].value)
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
    "listing.score_hidden": "a comment of a score-hiding subreddit shown with the hidden score 1 while its votes make another",
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
    **WRITE_BRANCHES,
    **{row: f"{t.name} ({t.rule}; {t.value:g} {t.unit}): the state at the {row.rsplit('.', 1)[1]} side"
       for t in th.TABLE for row in t.rows()},
}


@dataclass
class BehaviourCoverage(Sides):
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
    hide_mins: dict[str, int] = field(default_factory=dict)      # subreddit -> its score-hiding minutes
    young: set[str] = field(default_factory=set)                 # comments created in this replay
    last_edit: dict[str, tuple[str, str]] = field(default_factory=dict)   # fullname -> (user, text)
    creates: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (user, parent, text) -> first

    def seed(self, records: Sequence[Mapping[str, Any]]) -> None:
        for rec in records:
            if rec.get("kind") == "subreddit" and rec.get("comment_score_hide_mins"):
                self.hide_mins[rec["name"]] = int(rec["comment_score_hide_mins"])
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
                self._vote(req, names, status, ok, body)
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
        self._refused("create", parent, req.get("user"), status, body)
        self._length("body_length_create", req["text"], ok, body)
        self._check_text(req["text"], ok, status, body)
        created = names.get("created")
        if ok and created:
            self.young.add(created)
            if parent in self.spam:
                self.counts["create.reply_to_removed_accepted"] += 1
            if self.creates.setdefault((req["user"], parent, req["text"]), created) != created:
                self.counts["repeat.create"] += 1
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
        self._refused("edit", thing, req.get("user"), status, body)
        self._length("body_length_edit", text, ok, body)
        self._check_text(text, ok, status, body)
        if not ok:
            return
        if self.text.get(thing) == text:
            self.counts["edit.noop"] += 1
        if thing in self.spam:
            self.counts["edit.removed_accepted"] += 1
        repeat, self.last_edit[thing] = self.last_edit.get(thing) == (req["user"], text), (req["user"], text)
        self.text[thing] = text
        things = _things(body)
        if things:
            data = things[0].get("data", {})
            edited, created = data.get("edited"), data.get("created_utc")
            in_window = edited is False
            if edited is False:
                self.counts["edit.in_window_silent"] += 1
            elif isinstance(edited, (int, float)) and isinstance(created, (int, float)):
                in_window = edited - created <= EDIT_WINDOW_S
                self.counts["edit.in_window_voted" if in_window else "edit.after_window"] += 1
            if repeat and (edited is False or isinstance(edited, (int, float))):
                self.counts["repeat.edit_silent" if edited is False else "repeat.edit_timed"] += 1
            if edited is False or isinstance(edited, (int, float)):
                self.counts[f"threshold.edit_window.{'below' if in_window else 'above'}"] += 1
            counts = self._confirmed(data)
            if in_window and counts is not None:
                self._side("edit_votes", sum(counts))

    def _vote(self, req: Mapping[str, Any], names: dict[str, Any], status: int, ok: bool, body: Any) -> None:
        thing, user, direction = names.get("thing", req["thing"]), req["user"], int(req["dir"])
        if thing in self.deleted and status == 404:
            self.counts["vote.deleted_refused"] += 1
        self._refused("vote", thing, req.get("user"), status, body)
        if not ok:
            return
        old = self.votes.get((user, thing), 0)
        if thing in self.spam:
            self.counts["vote.removed_accepted"] += 1
        if (user, thing) in self.votes and old == direction:
            self.counts["repeat.vote"] += 1
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
        if op == "read_info" and (status == 200 or "INVALID_OPTION" in _errors(body)):
            self._side("info_ids", len(req["ids"]))
        if status != 200:
            return
        if op == "read_comments" and req.get("lenient"):
            self.counts["params.lenient"] += 1
        t1s = [t for t in _things(body) if t.get("kind") == "t1"]
        if op == "read_morechildren":
            # comments only: the answer also holds a `more` stub for the children left out
            if len(req["children"]) > MORECHILDREN_CAP and len(t1s) <= MORECHILDREN_CAP:
                self.counts["morechildren.capped"] += 1
            stubbed = sum(int((t.get("data") or {}).get("count") or 0) for t in _things(body) if t.get("kind") == "more")
            self._side("morechildren_cap", len(t1s) + stubbed)  # the comments there were to pick
        raw = bool(req.get("raw_json"))
        sort = req.get("sort") if op == "read_comments" and req.get("sort") in SORTS and not req.get("lenient") else None
        shown: set[str] = set()
        stubs: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        if op == "read_comments":
            for part in body if isinstance(body, list) else [body]:
                self._walk(part, sort, raw, shown, stubs, nodes)
            if not stubs:  # a complete listing: every comment the legacy lists is in it
                for name in self.deleted:
                    if not self.children[name] and name not in shown and self._in_link(name, req["link"]):
                        self.counts["listing.deleted_leaf_dropped"] += 1
            self._cuts(req, stubs, nodes)
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
        self._hiding(name, data)
        self._controversy(name, data)
        text = self.text.get(name)
        if text and any(ch in text for ch in "<>&") and name not in self.deleted:
            if raw and data.get("body") == text:
                self.counts["json.raw"] += 1
            elif not raw and data.get("body") == html.escape(text, quote=False):
                self.counts["json.escaped"] += 1
        return data

    def _walk(self, part: Any, sort: str | None, raw: bool, shown: set[str], stubs: list[dict[str, Any]],
              nodes: list[dict[str, Any]]) -> None:
        if not isinstance(part, dict) or part.get("kind") != "Listing":
            return
        siblings: list[dict[str, Any]] = []
        for child in (part.get("data") or {}).get("children") or []:
            if not isinstance(child, dict):
                continue
            if child.get("kind") == "more":
                more = child.get("data") or {}
                stubs.append(more)
                self.counts["listing.more_limit" if more.get("children") else "listing.more_depth"] += 1
                continue
            data = self._node(child, raw, shown)
            if data is None:
                continue
            siblings.append(data)
            nodes.append(data)
            replies = data.get("replies")
            if data.get("body") == "[deleted]" and data.get("author") == "[deleted]" and isinstance(replies, dict) \
                    and (replies.get("data") or {}).get("children"):
                self.counts["listing.deleted_with_replies"] += 1
            self._walk(replies, sort, raw, shown, stubs, nodes)
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
