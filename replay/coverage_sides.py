"""The coverage rows of thresholds and refusals (replay/coverage.py's BehaviourCoverage has these):
the side of a threshold a state sat on, and the refusal a write got, each read from the legacy's
answer (an error code, a stub showing where a listing was cut, a rendered score or
controversiality) and the vote counts the legacy confirmed, never from what the request meant."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from datasets import thresholds as th
from datasets.probes import refusal_kind


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


class Sides:
    counts: Counter[str]
    counts_of: dict[str, list[int]]
    deleted: set[str]
    children: Counter[str]
    hide_mins: dict[str, int]
    young: set[str]

    def _confirmed(self, data: dict[str, Any]) -> tuple[int, int] | None:
        raise NotImplementedError

    def _side(self, name: str, x: float) -> None:
        side = th.side(name, x)
        if side:
            self.counts[f"threshold.{name}.{side}"] += 1

    def _refused(self, endpoint: str, target: str, user: str | None, status: int, body: Any) -> None:
        """A refusal by the legacy's error code (a vote on a deleted comment is its own row)."""
        codes = _errors(body)
        kind = refusal_kind(codes[0], user) if codes and 400 <= status < 500 else None
        if kind and not (kind == "unknown_id" and target in self.deleted):
            self.counts[f"refusal.{endpoint}.{kind}"] += 1

    def _length(self, name: str, text: str, ok: bool, body: Any) -> None:
        """The body length threshold, when the legacy's answer shows it judged the length."""
        if ok or "TOO_LONG" in _errors(body):
            self._side(name, len(text))

    def _cuts(self, req: Mapping[str, Any], stubs: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> None:
        """Depth and limit thresholds, where the answer shows the legacy cut (a depth or limit stub)."""
        depth_stubs = [m for m in stubs if not m.get("children")]
        depth, limit = req.get("depth"), req.get("limit")
        if depth_stubs and isinstance(depth, int):
            self._side("depth_param_max", depth)
            self._side("depth_param_min", depth)
        if any(m.get("children") and m.get("parent_id") == req["link"] for m in stubs) and isinstance(limit, int):
            self._side("limit_max", limit)
            self._side("limit_min", limit)
        cut = {m.get("depth") for m in depth_stubs}
        if cut != {th.BY_NAME["depth_limit"].value}:
            return  # the answer does not show the listing was cut at the depth limit
        levels = int(th.BY_NAME["depth_limit"].value)
        self.counts["threshold.depth_limit.above"] += 1  # a comment at the last level with replies
        for data in nodes:  # branches ending one level short of the limit, or at it
            if data.get("replies") == "" and not self.children[data.get("name", "")] and data.get("depth") in (
                    levels - 2, levels - 1):
                self.counts[f"threshold.depth_limit.{'below' if data['depth'] == levels - 2 else 'at'}"] += 1

    def _hiding(self, name: str, data: dict[str, Any]) -> None:
        """Score hiding in a subreddit that hides scores, read by someone else than the author: hidden
        when shown as 1 (r2's one up-vote) while the votes make another score, not when shown as it is."""
        counts = self.counts_of.get(name)
        if not self.hide_mins.get(data.get("subreddit", "")) or counts is None or counts[0] - counts[1] == 1:
            return
        if data.get("score_hidden") is True or (data.get("score") == 1 and data.get("ups") == 1):
            self.counts["listing.score_hidden"] += 1
            self.counts["threshold.score_hide.below"] += 1
        elif data.get("score") == counts[0] - counts[1]:
            self.counts["threshold.score_hide.above"] += 1

    def _controversy(self, name: str, data: dict[str, Any]) -> None:
        counts = self._confirmed(data)
        if counts is None or "controversiality" not in data or (name in self.young and self.hide_mins.get(
                data.get("subreddit", ""))):
            return  # unknown votes, or a young comment whose score may be hidden (rendered from 1, 0)
        ups, votes = counts[0], sum(counts)
        low, high = th.BY_NAME["controversy_share_low"].value, th.BY_NAME["controversy_share_high"].value
        if votes and low <= ups / votes <= high:
            self._side("controversy_floor", votes)
        if votes >= th.BY_NAME["controversy_floor"].value:
            for bound in ("controversy_share_low", "controversy_share_high"):
                side = th.share_side(bound, ups, votes)
                if side:
                    self.counts[f"threshold.{bound}.{side}"] += 1
