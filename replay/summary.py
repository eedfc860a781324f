"""The replay's console summary: verdicts per path (inconclusive ones marked), the behaviour-coverage
table, the failing groups with an example, the ramp advisor's decision for the run, the gate."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config.settings import RampPolicySettings
from diff_reports.types import ALL_WRITE_PATHS, READ_ENDPOINTS, VerdictKind, read_response_path, write_response_path
from replay.coverage import BRANCHES
from results.advice.decision import Advice, Evidence, GroupEvidence, PathEvidence, advise
from results.advice.endpoints import RAMP_ENDPOINTS, endpoint_paths
from replay.run import ReplayResult

VERDICTS = [v.value for v in VerdictKind]
ALL_PATHS = ([read_response_path(e) for e in READ_ENDPOINTS]
             + [write_response_path(e) for e in ("create", "update", "increment")]
             + [p.name for p in ALL_WRITE_PATHS])


def coverage_table(rows: list[dict[str, Any]], required: Set[str] = frozenset()) -> Table:
    """Which legacy branches the replay exercised (counted from the legacy's answers)."""
    table = Table(title="behaviour coverage (legacy branches exercised, from its answers)")
    table.add_column("branch")
    table.add_column("count", justify="right")
    table.add_column("what")
    for row in rows:
        n = row["count"]
        style = "green" if n else ("red" if row["branch"] in required else "yellow")
        table.add_row(f"[{style}]{row['branch']}[/{style}]", f"[{style}]{n}[/{style}]", escape(row["what"]))
    return table


def verdict_table(counts: dict[str, dict[str, int]], inconclusive: dict[str, str] | None = None) -> Table:
    inconclusive = inconclusive or {}
    table = Table(title="verdicts per path", show_footer=True)
    table.add_column("path", footer="total")
    totals = {v: sum(c.get(v, 0) for c in counts.values()) for v in VERDICTS}
    for v in VERDICTS:
        table.add_column(v, justify="right", footer=str(totals[v]))
    for path in ALL_PATHS + sorted(set(counts) - set(ALL_PATHS)):
        row = counts.get(path, {})
        cells = []
        for v in VERDICTS:
            n = row.get(v, 0)
            style = ("red" if n and v in ("mismatch", "shadow_error")
                     else ("yellow" if n and v in ("unavailable", "raced") else ""))
            cells.append(f"[{style}]{n}[/{style}]" if style else str(n))
        name = path if row else f"[red]{path} (no verdict)[/red]"
        if path in inconclusive:
            name = f"[yellow]{path} (inconclusive)[/yellow]"
        table.add_row(name, *cells)
    return table


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def run_advice(counts: dict[str, dict[str, int]], groups: list[GroupEvidence],
               policy: RampPolicySettings = RampPolicySettings()) -> list[Advice]:
    """The ramp advisor on a replay's verdicts, per endpoint, as if the run were a ramp step (no
    time at a step; the run's review groups count as open)."""
    return [advise(Evidence(e, [PathEvidence(p, counts.get(p, {})) for p in endpoint_paths(e)],
                            [g for g in groups if g.path in endpoint_paths(e)]), policy)
            for e in RAMP_ENDPOINTS]


def print_advice(advices: list[Advice], console: Console) -> None:
    styles = {"go": "green", "hold": "yellow", "roll back": "red"}
    console.print(escape("ramp advice for this run ([ramp.policy], as if it were a ramp step):"))
    for a in advices:
        style = styles[a.decision]
        console.print(f"  [{style}]{a.endpoint}: {escape(a.reasons[0])}[/{style}]")
        for reason in a.reasons[1:]:
            console.print(f"  [{style}]{' ' * len(a.endpoint)}  {escape(reason)}[/{style}]")


def print_summary(result: ReplayResult, console: Console) -> None:
    drive, seed = result.drive, result.seed
    console.print(f"dataset {result.dataset.path}: {len(result.dataset.requests)} requests {result.dataset.ops()}")
    if seed is not None:
        console.print(f"seeded (production and sister alike): {seed.links} links, {seed.comments} comments, "
                      f"{seed.accounts} accounts")
    statuses = ", ".join(f"{op} {status}: {n}" for (op, status), n in sorted(drive.statuses.items()))
    console.print(f"sent {drive.sent} requests in {drive.seconds:.1f}s ({drive.sent / max(drive.seconds, 1e-6):.0f}/s); "
                  f"legacy statuses: {statuses}")
    gate = result.gate
    console.print(verdict_table(result.counts, getattr(gate, "inconclusive", {})))
    counts = result.counts
    writes = sum(1 for p in ALL_WRITE_PATHS if counts.get(p.name))
    reads = sum(1 for e in READ_ENDPOINTS if counts.get(read_response_path(e)))
    style = "green" if (writes, reads) == (len(ALL_WRITE_PATHS), len(READ_ENDPOINTS)) else "red"
    console.print(f"[{style}]coverage: {writes}/{len(ALL_WRITE_PATHS)} write validation paths, "
                  f"{reads}/{len(READ_ENDPOINTS)} read endpoints[/{style}]; {sum(sum(c.values()) for c in counts.values())} "
                  f"verdicts for {result.drive.expected_verdicts} expected")
    rows = result.drive.coverage.rows()
    required = set(getattr(gate, "uncovered", []))
    console.print(coverage_table(rows, required))
    hit = sum(1 for r in rows if r["count"] and r["branch"] in BRANCHES)
    console.print(f"behaviour coverage: {hit}/{len(BRANCHES)} legacy branches exercised")
    for path, why in getattr(gate, "inconclusive", {}).items():
        console.print(f"[yellow]inconclusive:[/yellow] {path}: {escape(why)}")
    for defect in getattr(gate, "harness_defects", []):
        console.print(f"[red]harness defect:[/red] {escape(defect)}")
    for fp, group in sorted(result.stack.sink.groups.items(), key=lambda kv: -kv[1].count):
        ex = group.examples[0]
        console.print(f"[red]group {fp}[/red] {group.signature.path} {group.signature.verdict} x{group.count}: "
                      f"{escape(group.signature.title)}")
        console.print(escape(f"  e.g. request {ex.request_id} entity {ex.entity}: {ex.reason or ''}"))
        for d in ex.differences[:8]:
            console.print(escape(f"    {d.kind} {d.path}: legacy={_short(d.legacy)} new={_short(d.new)}"))
    groups = [GroupEvidence(fp, g.signature.path, g.signature.verdict, "open", g.signature.title, g.count)
              for fp, g in result.stack.sink.groups.items()]
    print_advice(run_advice(result.counts, groups, result.stack.settings.ramp.policy), console)
    for reason in result.incomplete:
        console.print(f"[red]incomplete:[/red] {escape(reason)}")
    for fmt, path in result.reports.items():
        console.print(f"report ({fmt}): {path}")
    t = result.timings
    console.print(f"timings: prepare+seed {t.get('prepare_and_seed_s', 0):.1f}s, drive {t.get('drive_s', 0):.1f}s, "
                  f"settle {t.get('settle_s', 0):.1f}s, total {t.get('total_s', 0):.1f}s")
    if gate.passed:
        console.print(f"[green]gate --fail-on {gate.policy}: pass[/green]"
                      + (f" ({len(gate.known_groups)} baseline group(s) seen)" if gate.known_groups else ""))
    else:
        console.print(f"[red]gate --fail-on {gate.policy}: FAIL[/red] (exit {gate.exit_code})")
        for reason in gate.reasons:
            console.print(f"  {escape(reason)}")
