"""Server-side SVG plots of a ramp timeline: plain data (coordinates as strings, labels) that the
templates turn into <svg> (results/html/templates/plots.html, autoescaped; no script, no network).
Each series carries its values, so tests and people can read what a line shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from results.advice.timeline import Timeline

WIDTH, HEIGHT = 760, 190
PAD_L, PAD_R, PAD_T, PAD_B = 52, 30, 14, 26
DECISION_CLASS = {"go": "go", "hold": "hold", "roll back": "rollback"}


@dataclass
class Series:
    name: str
    cls: str                                   # colour class (CSS variables: legible light and dark)
    points: list[tuple[float, float]]          # SVG coordinates
    values: list[float | None]                 # one per bucket (None: no data there)

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)

    @property
    def data(self) -> str:
        return " ".join("" if v is None else f"{v:.6g}" for v in self.values)


@dataclass
class Plot:
    id: str
    title: str
    unit: str
    series: list[Series] = field(default_factory=list)
    yticks: list[tuple[float, str]] = field(default_factory=list)
    xticks: list[tuple[float, str]] = field(default_factory=list)
    marks: list[tuple[float, str, str]] = field(default_factory=list)   # (x, decision, when)
    empty: str = ""                                                     # why there is nothing to draw
    width: int = WIDTH
    height: int = HEIGHT


class _Scale:
    def __init__(self, tl: Timeline, ymax: float, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.t0, self.t1 = tl.start, tl.start + len(tl.buckets) * tl.width_s
        self.ymax = ymax if ymax > 0 else 1.0
        self.width, self.height = width, height

    def x(self, t: float) -> float:
        return PAD_L + (t - self.t0) / max(self.t1 - self.t0, 1e-9) * (self.width - PAD_L - PAD_R)

    def y(self, v: float) -> float:
        return self.height - PAD_B - v / self.ymax * (self.height - PAD_T - PAD_B)


def _nice(v: float) -> float:
    for step in (1, 2, 2.5, 5, 10):
        for exp in range(-4, 7):
            top = step * 10 ** exp
            if top >= v:
                return top
    return v


def _time_label(t: float, span: float) -> str:
    d = dt.datetime.fromtimestamp(t, tz=dt.timezone.utc)
    return d.strftime("%H:%M:%S" if span < 600 else ("%H:%M" if span < 2 * 86400 else "%m-%d %H:%M"))


def _axes(plot: Plot, sc: _Scale, fmt: str) -> None:
    plot.yticks = [(sc.y(sc.ymax * f), fmt.format(sc.ymax * f)) for f in (0, 0.5, 1)]
    span = sc.t1 - sc.t0
    plot.xticks = [(sc.x(sc.t0 + span * f), _time_label(sc.t0 + span * f, span)) for f in (0, 0.25, 0.5, 0.75, 1)]


def _centre(tl: Timeline, i: int) -> float:
    return tl.buckets[i] + tl.width_s / 2


def _line(tl: Timeline, sc: _Scale, name: str, cls: str, values: list[float | None]) -> Series:
    pts = [(sc.x(_centre(tl, i)), sc.y(v)) for i, v in enumerate(values) if v is not None]
    return Series(name, cls, pts, values)


def _marks(plot: Plot, tl: Timeline, sc: _Scale) -> None:
    span = sc.t1 - sc.t0
    plot.marks = [(sc.x(t), DECISION_CLASS.get(d, d), _time_label(t, span) + f" {d}") for t, d in tl.marks]


def ramp_plots(tl: Timeline) -> list[Plot]:
    plots = []
    # the shadow percentage: a step function from the audit trail
    pct = Plot("pct", "shadow percentage", "%")
    sc = _Scale(tl, 100)
    _axes(pct, sc, "{:.0f}%")
    if tl.steps is None:
        pct.empty = "no ramp trail connected to this UI: percentages unknown"
    else:
        pts: list[tuple[float, float]] = []
        for a, b, v in tl.steps:
            pts += [(sc.x(a), sc.y(v)), (sc.x(b), sc.y(v))]
        pct.series.append(Series("shadow %", "s-pct", pts, [v for _, _, v in tl.steps]))
    _marks(pct, tl, sc)
    plots.append(pct)
    # the match rate over every path of the endpoint, with the advisor's decisions
    match = Plot("match", "match rate, all paths", "%")
    sc = _Scale(tl, 100)
    _axes(match, sc, "{:.0f}%")
    match.series.append(_line(tl, sc, "match rate", "s-match", [None if r is None else 100 * r for r in tl.match_rate()]))
    _marks(match, tl, sc)
    plots.append(match)
    # verdict rates per path: the failing share (mismatch + shadow error), and the inconclusive share
    rates = {p: tl.verdict_rate(p, ("mismatch", "shadow_error")) for p in tl.paths}
    inconclusive = {p: tl.verdict_rate(p, ("raced", "unavailable")) for p in tl.paths}
    top = max([v for vs in list(rates.values()) + list(inconclusive.values()) for v in vs if v is not None] or [0.0])
    per = Plot("paths", "mismatch and shadow-error rate per path (dashed: raced + unavailable)", "%")
    sc = _Scale(tl, _nice(max(top * 100, 1.0)))
    _axes(per, sc, "{:g}%")
    for i, p in enumerate(tl.paths):
        per.series.append(_line(tl, sc, p, f"s{i}", [None if v is None else 100 * v for v in rates[p]]))
        if any(inconclusive[p]):
            per.series.append(_line(tl, sc, p + " inconclusive", f"s{i} dashed",
                                    [None if v is None else 100 * v for v in inconclusive[p]]))
    plots.append(per)
    # latency, legacy vs rewrite
    keys = [("legacy_p50", "legacy p50", "s-legacy"), ("new_p50", "rewrite p50", "s-new"),
            ("legacy_p99", "legacy p99", "s-legacy dashed"), ("new_p99", "rewrite p99", "s-new dashed")]
    series_values = {k: [b.get(k) for b in tl.latency] for k, _, _ in keys}
    top = max([v for vs in series_values.values() for v in vs if v is not None] or [0.0])
    lat = Plot("latency", "latency, legacy vs rewrite (response path)", "ms")
    sc = _Scale(tl, _nice(top or 1.0))
    _axes(lat, sc, "{:g} ms")
    if not top:
        lat.empty = "no timed responses in this window"
    for k, name, cls in keys:
        lat.series.append(_line(tl, sc, name, cls, series_values[k]))
    plots.append(lat)
    # SQL statements per request
    sql_values = {k: [b.get(k) for b in tl.latency] for k in ("legacy_sql", "new_sql")}
    top = max([v for vs in sql_values.values() for v in vs if v is not None] or [0.0])
    sql = Plot("sql", "SQL statements per request", "")
    sc = _Scale(tl, _nice(top or 1.0))
    _axes(sql, sc, "{:g}")
    if not top:
        sql.empty = "SQL statements not measured for this endpoint"
    sql.series += [_line(tl, sc, "legacy", "s-legacy", sql_values["legacy_sql"]),
                   _line(tl, sc, "rewrite", "s-new", sql_values["new_sql"])]
    plots.append(sql)
    return plots


def sparkline(values: list[float | None], width: int = 90, height: int = 20) -> Series:
    """A small trend line of rates (0..1) for the overview, scaled to the values' own range."""
    known = [v for v in values if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = max(len(values) - 1, 1)
    pts = [(2 + i / n * (width - 4), height - 2 - (v - lo) / (hi - lo) * (height - 4))
           for i, v in enumerate(values) if v is not None]
    return Series("match rate", "s-match", pts, values)
