"""Planted bugs, live: the walkthrough's stack (`proxy serve` inline, real processes, the real
CLI), with the rewrite restarted once per bug of tests/validation/refusal_mutants.py (the bug's fresh
comments are all written first, through the correct rewrite).

Each bug forgets one refusal or counts one repeat. Its trigger (sent twice, on two entities) must
give mismatches on its paths only, one group per path in the exported report; the write after it
on the same entity must be judged `match` (its sister copy was re-synchronised); and with the
correct rewrite back in place, refused writes are judged `match` on all seven paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.e2e.prometheus import free_port
from tests.e2e.test_live_walkthrough import BIN, SCRIPT, _config, _walk
from tests.support.waiting import until
from tests.validation.refusal_mutants import PLANTED

pytestmark = pytest.mark.timeout(900)
# Every bug here mismatches on purpose, and every verdict is counted: the kill switch, which would
# rightly stop shadowing the endpoint, is off.
NO_KILL_SWITCH = "guard_enabled = false"


class Live:
    def __init__(self, env: dict[str, str], walk: Path, proxy: str) -> None:
        self.env, self.walk, self.proxy = env, walk, proxy
        self.sent = 0
        self.n = 0

    def post(self, path: str, user: str | None, **form: str) -> tuple[str, int, dict]:
        self.n += 1
        rid = f"live-{self.n}"
        headers = {"X-Request-Id": rid, "Content-Type": "application/x-www-form-urlencoded"}
        if user is not None:  # None: no auth header at all; "" an empty one
            headers["X-Auth-User"] = user
        req = urllib.request.Request(self.proxy + path, data=urllib.parse.urlencode(form).encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        self.sent += 1
        return rid, status, json.loads(raw or b"{}")

    def create(self, user: str, parent: str, text: str) -> str:
        _, status, body = self.post("/api/comment", user, thing_id=parent, text=text)
        assert status == 200, body
        return str(body["json"]["data"]["things"][0]["data"]["name"])

    def report(self, since: str | None = None) -> dict:
        out = self.walk / "planted-report.json"
        args = [str(BIN / "tapcompare"), "report", "export", "--format", "json", "--out", str(out)]
        subprocess.run(args + (["--since", since] if since else []), env=self.env, check=True, capture_output=True)
        return json.loads(out.read_text())

    def judged(self, expected: int) -> dict:
        """The whole report once it holds `expected` verdicts (every sent request's)."""
        return until(self.report, lambda r: r["total"] >= expected, timeout=120,
                          what=f"{expected} verdicts in the results store")


def _seed_records(walk: Path) -> list[dict]:
    return [json.loads(line) for line in (walk / "seed.jsonl").read_text().splitlines()]


Send = Callable[["Live", dict[str, str]], list[str]]  # sends requests, returns their request ids


def _each(fn: Callable[[str], list[str]]) -> Send:
    """`fn` on both fresh comments ("a", then "b"): every bug must count once per path, not per entity."""
    return lambda live, c: fn(c["a"]) + fn(c["b"])


def _none(live: "Live", c: dict[str, str]) -> list[str]:
    return []


def _triggers(deleted: tuple[str, str]) -> dict[str, tuple[Send, Send]]:
    """Per bug: what triggers it, and the follow-up writes to the same entities (judged once the
    trigger's verdicts are in: the entity has been re-synchronised by then)."""
    dele, author = deleted

    def edit(live: Live, user: str | None, thing: str, text: str) -> str:
        return live.post("/api/editusertext", user, thing_id=thing, text=text)[0]

    def vote(live: Live, user: str | None, thing: str, d: str) -> str:
        return live.post("/api/vote", user, id=thing, dir=d)[0]

    def on(live: Live, fn: Callable[[Live, str], list[str]]) -> Callable[[str], list[str]]:
        return lambda x: fn(live, x)

    return {
        "refusal.edit.not_author": (lambda live, c: _each(on(live, lambda lv, x: [edit(lv, "bob", x, "not bob's")]))(live, c),
                                    lambda live, c: _each(on(live, lambda lv, x: [edit(lv, "alice", x, "alice's edit")]))(live, c)),
        "refusal.edit.deleted": (lambda live, c: [edit(live, author, dele, "edit of a deleted comment"),
                                                  edit(live, author, dele, "and again")], _none),
        # two voters, one direction: an upvote and a downvote would change different fields (two groups)
        "refusal.vote.deleted": (lambda live, c: [vote(live, "bob", dele, "1"), vote(live, "alice", dele, "1")], _none),
        "refusal.create.reply_to_deleted": (lambda live, c: [
            live.post("/api/comment", u, thing_id=dele, text="a reply to a deleted comment")[0] for u in ("bob", "alice")],
            _none),
        "refusal.missing_auth": (lambda live, c: _each(on(live, lambda lv, x: [vote(lv, None, x, "1")]))(live, c),
                                 lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x, "1")]))(live, c)),
        "refusal.empty_auth": (lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "", x, "1")]))(live, c),
                               lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x, "1")]))(live, c)),
        "refusal.unknown_user": (lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "mallory", x, "1")]))(live, c),
                                 lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x, "1")]))(live, c)),
        "refusal.malformed_id": (lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x.upper(), "1")]))(live, c),
                                 lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x, "-1")]))(live, c)),
        "refusal.vote.unknown_id": (lambda live, c: [vote(live, "bob", "t1_zzzzzzzz", "1"),
                                                     vote(live, "bob", "t1_zzzzzzzy", "1")], _none),
        "repeat.vote_twice": (lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x, "1"),
                                                                            vote(lv, "bob", x, "1")]))(live, c),
                              # another voter: the bug also miscounts bob's own later change of mind
                              lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "carol", x, "-1")]))(live, c)),
        "repeat.edit_twice": (lambda live, c: _each(on(live, lambda lv, x: [edit(lv, "alice", x, "said twice"),
                                                                            edit(lv, "alice", x, "said twice")]))(live, c),
                              lambda live, c: _each(on(live, lambda lv, x: [vote(lv, "bob", x, "1")]))(live, c)),
        "repeat.create_twice": (lambda live, c: [live.post("/api/comment", "alice", thing_id=c["a"],
                                                           text="double click")[0] for _ in range(2)], _none),
    }


def _restart_new(env: dict[str, str], bug: str | None) -> None:
    planted = {"WALK_NEW_TC": f"{sys.executable} -m tests.support.planted {bug}"} if bug else {"WALK_NEW_TC": ""}
    _walk({**env, **planted}, "restart-new")


def test_each_planted_bug_is_caught_live_once_per_path(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("legacy", "new", "proxy", "ui", "worker")}
    walk = tmp_path / "walk"
    env = dict(os.environ, TAPCOMPARE_CONFIG=str(_config(tmp_path, "inline", ports, NO_KILL_SWITCH)), WALK_DIR=str(walk),
               TAPCOMPARE=str(BIN / "tapcompare"), PYTHON=sys.executable)
    try:
        _walk(env, "up")
        live = Live(env, walk, f"http://127.0.0.1:{ports['proxy']}")
        seed = _seed_records(walk)
        thread = next(r["link"] for r in seed if r.get("kind") == "comment")
        dele = next(r for r in seed if r.get("kind") == "comment" and r.get("deleted") and r["author"] != "[deleted]")
        triggers = _triggers((dele["fullname"], dele["author"]))
        # TAPCOMPARE_PLANTED_ONLY=name,name runs some of them (while debugging one bug)
        bugs_run = [b for b in PLANTED if b in os.environ.get("TAPCOMPARE_PLANTED_ONLY", b).split(",")]
        # Fresh comments by alice for each bug, all written first through the correct rewrite (one
        # restart per bug, not two): no bug's requests touch another bug's comments.
        fresh = {bug: {k: live.create("alice", thread, f"a comment for {bug} ({k})") for k in ("a", "b")}
                 for bug in bugs_run}
        expected = 2 * 7 * len(bugs_run)
        live.judged(expected)
        for bug in bugs_run:
            comments = fresh[bug]
            _restart_new(env, bug)
            started = datetime.now(timezone.utc)
            since = started.isoformat()
            send_bugs, send_follows = triggers[bug]
            bugs = send_bugs(live, comments)
            expected += 7 * len(bugs)  # every one a write the legacy answered (accepted or refused)
            live.judged(expected)
            follows = send_follows(live, comments)
            expected += 7 * len(follows)
            live.judged(expected)
            report = live.report(since)
            mismatches = [g for g in report["groups"] if g["verdict"] == "mismatch"]
            assert mismatches, (bug, report["totals"])
            paths = [g["path"] for g in mismatches]
            assert len(paths) == len(set(paths)), (bug, "one group per path", paths)
            # A group may hold an earlier bug's examples too (the same divergence): only this bug's window counts.
            shown = {ex["request_id"] for g in mismatches for ex in g["examples"]
                     if datetime.fromisoformat(ex["at"].replace("Z", "+00:00")) >= started}
            assert shown <= set(bugs), (bug, "only the bug's requests mismatch", shown - set(bugs), *[
                (g["path"], g["title"], g["examples"][0]["record"]["reason"]) for g in mismatches])
            assert report["totals"].get("mismatch", 0) == sum(g["occurrences"] for g in mismatches)
            others = {k: v for k, v in report["totals"].items() if v and k not in ("match", "mismatch", "ignored")}
            assert not others, (bug, report["totals"], *[(g["path"], g["verdict"], g["reason_pattern"], g["title"])
                                                        for g in report["groups"]])
        # The correct rewrite again: refused writes are judged and match on all seven paths.
        _restart_new(env, None)
        since = datetime.now(timezone.utc).isoformat()
        c = live.create("alice", thread, "a comment for the refusals")
        refused = [live.post("/api/editusertext", "bob", thing_id=c, text="not bob's"),
                   live.post("/api/vote", None, id=c, dir="1"),
                   live.post("/api/vote", "", id=c, dir="1"),
                   live.post("/api/vote", "mallory", id=c, dir="1"),
                   live.post("/api/comment", "bob", thing_id=dele["fullname"], text="reply to deleted")]
        assert all(400 <= status < 500 for _, status, _ in refused), refused
        expected += 7 * (1 + len(refused))
        live.judged(expected)
        totals = live.report(since)["totals"]
        assert totals.get("mismatch", 0) == 0 and totals["match"] + totals.get("ignored", 0) == 7 * (1 + len(refused)), totals
    finally:
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, timeout=120)
