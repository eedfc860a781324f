"""Legacy vs new (issue 4): the same write load on the legacy and on the rewrite in primary mode.

Run: `python benchmarks/legacy_vs_new.py [--quick]` (make bench runs it). Not part of the test suite.

Set-up (127.0.0.1 only; every process ours and stopped at the end): one LocalStores root in a temp dir
gives two fresh, identical store sets, each seeded through the legacy model with thread t3_haucpf and
the benchmark accounts. The legacy (`tapcompare legacy serve`, no in-process CDC consumer) runs on
one; the rewrite (`tapcompare new serve --mode primary`) on the other. Both PostgreSQL servers are
restarted with `shared_preload_libraries = pg_stat_statements`, so SQL statements per request are
counted the same way for both: `pg_stat_statements_reset()` before each phase, the sum of `calls`
in the database after it (transaction control, i.e. BEGIN/COMMIT/ROLLBACK, reported separately),
divided by the requests sent. The rewrite's own `new_service_sql_statements_per_request` histogram
(its count excludes transaction control) is reported next to it as a cross-check, and so are the
committed transactions per request (`pg_stat_database.xact_commit` deltas).

Load: our open-loop generator (`harness/loadgen.py`, separate process) at a fixed moderate rate per
phase: create (replies to the thread and to seeded comments), edit (the comments that phase created,
by their author), vote (20 voters x the seeded comments, directions cycling 1/-1/0). Phases run
interleaved: create legacy, create new, edit legacy, edit new, vote legacy, vote new.
Contended phase (issue 15): what a popular thread does. Creates on one hot link, then one mixed run
of votes and edits on two hot comments (each voter votes once per comment, so the end state does
not depend on arrival order), both at CONTENDED_RATE with many connections. The legacy pays r2's
lock (`commit_<fullname>` in Memcached, random 0.1-1 s back-off while it is held: the link's lock
for creates, the comment's for edits and votes); the rewrite needs none (row locks, a lock-free
version-guarded cache write). After the phase, parity under load is checked on the stores: per hot
comment ups, downs and version equal on both sides and each side's cached object at its database
version (no stale cache, no lost update); the hot link's comment count and num_comments equal.
Writes results/legacy_vs_new.{json,md}. The anchor: Reddit's rewrite halved p99 write latency.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.common import (  # noqa: E402
    TAPCOMPARE, Proc, fmt, free_ports, http_get, measured, prepare_legacy_db, run_async,
    run_loadgen, start_stores, toml_stores, write_result,
)

THREAD = "t3_haucpf"
WRITER = "bench_writer"
VOTERS = tuple(f"bench_voter{i:02d}" for i in range(20))
HOT_VOTERS = tuple(f"bench_hot{i:03d}" for i in range(200))
CONTENDED_RATE = 60
HOT_COMMENTS = 2
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TXN = ("BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION", "SAVEPOINT", "RELEASE")
# asyncpg's reset query on every pool release: pool housekeeping, not the application's statements.
POOL_RESET = ("UNLISTEN *", "SELECT pg_advisory_unlock_all()", "RESET ALL", "CLOSE ALL")


def enable_pg_stat_statements(local: Any, set_name: str, dsn: str) -> None:
    """ALTER SYSTEM + restart this set's PostgreSQL with pg_stat_statements preloaded."""
    import asyncpg

    from sister_stores.local_servers import find_postgres_bindir

    async def alter() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        finally:
            await conn.close()

    run_async(alter())
    state = local.load_state()
    srv = state[set_name].servers["postgres"]
    data = Path(srv.data_dir)
    out = local._run_as_service_user([str(find_postgres_bindir() / "pg_ctl"), "-D", str(data), "-l",
                                      str(data.parent / "postgres.log"), "-m", "fast", "-w", "-t", "60", "restart"])
    if out.returncode != 0:
        raise RuntimeError(f"pg_ctl restart failed: {out.stderr[-500:]}")
    srv.pid = int((data / "postmaster.pid").read_text().split()[0])
    local._save_state(state)  # so LocalStores.down() stops the restarted server

    async def extension() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        finally:
            await conn.close()

    run_async(extension())


async def _sql(dsn: str, query: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


def reset_counts(dsn: str, pg_stat: bool) -> dict[str, int]:
    if pg_stat:
        run_async(_sql(dsn, "SELECT pg_stat_statements_reset()"))
    row = run_async(_sql(dsn, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))[0]
    return {"xact_commit": row["xact_commit"]}


def read_counts(dsn: str, before: dict[str, int], pg_stat: bool) -> dict[str, Any]:
    rows = [] if not pg_stat else run_async(_sql(dsn, "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                               "WHERE d.datname = current_database()"))
    txn = other = reset = 0
    top: list[tuple[int, str]] = []
    for r in rows:
        q = " ".join(r["query"].split())
        if "pg_stat_statements" in q or "pg_stat_database" in q:
            continue
        if q.upper().startswith(TXN):
            txn += r["calls"]
        elif q in POOL_RESET:
            reset += r["calls"]
        else:
            other += r["calls"]
            top.append((r["calls"], q[:120]))
    xact = run_async(_sql(dsn, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))[0]
    return {"statements": other, "transaction_control": txn, "pool_reset": reset, "xact_commit": xact["xact_commit"] - before["xact_commit"],
            "top": sorted(top, reverse=True)[:8]}


def new_metric(port: int) -> dict[str, tuple[float, float]]:
    """{endpoint: (sum, count)} of new_service_sql_statements_per_request."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    out: dict[str, list[float]] = {}
    for line in body.decode().splitlines():
        for suffix, idx in (("_sum", 0), ("_count", 1)):
            prefix = f"new_service_sql_statements_per_request{suffix}{{"
            if line.startswith(prefix):
                labels, value = line[len(prefix):].split("}")
                endpoint = labels.split('endpoint="')[1].split('"')[0]
                out.setdefault(endpoint, [0.0, 0.0])[idx] = float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


class WriteBench:
    def __init__(self, quick: bool) -> None:
        self.rate = 40
        self.seconds = 5 if quick else 8
        self.results: dict[str, dict[str, Any]] = {}

    def setup(self) -> None:
        self.stack = stack = start_stores("writes")
        self.work = stack.tmp
        accounts = (WRITER, *VOTERS, *HOT_VOTERS)
        for addrs in (stack.production, stack.sister):
            report = run_async(prepare_legacy_db(addrs, [THREAD], accounts))
            assert report.comments > 0
        self.pg = {"legacy": stack.production.postgres, "new": stack.sister.postgres}
        self.pg_stat = True
        try:
            enable_pg_stat_statements(stack.local, "production", stack.production.postgres)
            enable_pg_stat_statements(stack.local, "sister", stack.sister.postgres)
        except Exception as exc:  # noqa: BLE001 - fall back to transactions only, and say so
            print(f"pg_stat_statements unavailable ({exc}); counting committed transactions only", flush=True)
            self.pg_stat = False
        self.comments = [r["thing_id"] for r in run_async(_sql(
            stack.production.postgres, "SELECT thing_id FROM reddit_thing_comment ORDER BY thing_id"))]
        self.legacy_port, self.new_port = free_ports(2)
        legacy_cfg = self.work / "legacy.toml"
        legacy_cfg.write_text(toml_stores(stack) + f"\n[legacy]\nport = {self.legacy_port}\n")
        # The rewrite in primary mode reads and writes its "production" set: here the second fresh set.
        new_cfg = self.work / "new.toml"
        new_cfg.write_text(toml_stores(stack, production=stack.sister, sister=stack.production)
                           + f'\n[new_service]\nport = {self.new_port}\nmode = "primary"\n')
        Proc("legacy", [TAPCOMPARE, "--config", str(legacy_cfg), "legacy", "serve", "--port", str(self.legacy_port)],
             self.work, port=self.legacy_port)
        Proc("new", [TAPCOMPARE, "--config", str(new_cfg), "new", "serve", "--mode", "primary", "--port",
                     str(self.new_port), "--log-level", "WARNING"], self.work, port=self.new_port)
        self.ports = {"legacy": self.legacy_port, "new": self.new_port}

    def n(self) -> int:
        return int(self.rate * (self.seconds + 1))

    def creates(self, tag: str) -> list[dict[str, Any]]:
        from legacy_adapter.codec import to36

        out = []
        for i in range(self.n()):
            parent = THREAD if i % 2 == 0 else f"t1_{to36(self.comments[(i * 7) % len(self.comments)])}"
            out.append({"method": "POST", "path": "/api/comment", "label": "create", "headers": {**FORM, "X-Auth-User": WRITER},
                        "body": urlencode({"thing_id": parent, "text": f"benchmark comment {tag} {i}: " + "lorem ipsum " * 8})})
        return out

    def edits(self, names: list[str]) -> list[dict[str, Any]]:
        assert names, "the create phase returned no comment names"
        return [{"method": "POST", "path": "/api/editusertext", "label": "edit", "headers": {**FORM, "X-Auth-User": WRITER},
                 "body": urlencode({"thing_id": names[i % len(names)], "text": f"edited {i}: " + "dolor sit amet " * 8})}
                for i in range(self.n())]

    def votes(self) -> list[dict[str, Any]]:
        from legacy_adapter.codec import to36

        out = []
        dirs = ("1", "-1", "0")
        for i in range(self.n()):
            comment = self.comments[i % len(self.comments)]
            voter = VOTERS[(i // len(self.comments)) % len(VOTERS)]
            direction = dirs[(i // (len(self.comments) * len(VOTERS))) % 3]
            out.append({"method": "POST", "path": "/api/vote", "label": "vote", "headers": {**FORM, "X-Auth-User": voter},
                        "body": urlencode({"id": f"t1_{to36(comment)}", "dir": direction})})
        return out

    def hot_creates(self, tag: str) -> list[dict[str, Any]]:
        return [{"method": "POST", "path": "/api/comment", "label": "create", "headers": {**FORM, "X-Auth-User": WRITER},
                 "body": urlencode({"thing_id": THREAD, "text": f"hot thread comment {tag} {i}"})}
                for i in range(int(CONTENDED_RATE * (self.seconds + 1)))]

    def hot_votes_and_edits(self, hot: list[str]) -> list[dict[str, Any]]:
        """As many edits as votes on `hot`; every (voter, comment) pair votes once, up or down."""
        out: list[dict[str, Any]] = []
        n = int(CONTENDED_RATE * (self.seconds + 1))
        votes = edits = 0
        for i in range(n):
            if i % 2 == 1:
                out.append({"method": "POST", "path": "/api/editusertext", "label": "edit",
                            "headers": {**FORM, "X-Auth-User": WRITER},
                            "body": urlencode({"thing_id": hot[edits % len(hot)], "text": f"hot edit {edits}"})})
                edits += 1
            else:
                voter = HOT_VOTERS[votes // len(hot)]
                out.append({"method": "POST", "path": "/api/vote", "label": "vote", "headers": {**FORM, "X-Auth-User": voter},
                            "body": urlencode({"id": hot[votes % len(hot)], "dir": "1" if votes % 4 else "-1"})})
                votes += 1
        assert votes // len(hot) <= len(HOT_VOTERS), "not enough hot voters for one vote per pair"
        return out

    def phase(self, endpoint: str, service: str, requests: list[dict[str, Any]], capture: bool = False,
              rate: int | None = None, connections: int = 64) -> dict[str, Any]:
        dsn, port = self.pg[service], self.ports[service]
        before = reset_counts(dsn, self.pg_stat)
        metric_before = new_metric(port) if service == "new" else {}
        spec = {"base": f"http://127.0.0.1:{port}", "requests": requests, "rate": rate or self.rate,
                "duration_s": self.seconds, "warmup_s": 1.0, "drain_s": 40.0, "timeout_s": 45.0,
                "connections": connections, "max_requests": len(requests), "capture_names": capture}
        res = run_loadgen(spec, self.work, f"{endpoint}-{service}")
        time.sleep(0.3)
        counts = read_counts(dsn, before, self.pg_stat)
        sent = res["sent"]
        out: dict[str, Any] = {
            "overall": res["overall"], "ok": res["ok"], "measured": res["measured"], "sent": sent,
            "statuses": res["statuses"], "created_names": res["created_names"],
            "sql_per_request": counts["statements"] / sent if self.pg_stat else None,
            "txn_control_per_request": counts["transaction_control"] / sent if self.pg_stat else None,
            "pool_reset_per_request": counts["pool_reset"] / sent if self.pg_stat else None,
            "xact_commit_per_request": counts["xact_commit"] / sent, "top_statements": counts["top"],
            "by_label": res.get("by_label", {}),
        }
        if service == "new" and endpoint in ("create", "edit", "vote"):
            route = {"create": "comment", "edit": "editusertext", "vote": "vote"}[endpoint]
            after = new_metric(port)
            s0, c0 = metric_before.get(route, (0.0, 0.0))
            s1, c1 = after.get(route, (0.0, 0.0))
            out["own_metric_per_request"] = (s1 - s0) / (c1 - c0) if c1 > c0 else None
        o = res["overall"]
        print(f"  {endpoint:6s} {service:6s} p50 {o['p50_ms']:7.2f} ms  p99 {o['p99_ms']:8.2f} ms  ok {res['ok']}/{res['measured']}"
              f"  sql/req {fmt(out['sql_per_request'])}  {res['statuses']}", flush=True)
        return out

    def run(self) -> dict[str, Any]:
        print(f"legacy vs new: writes at {self.rate} req/s, {self.seconds} s per phase (+1 s warm-up)", flush=True)
        r = self.results
        for service in ("legacy", "new"):
            r.setdefault(service, {})["create"] = self.phase("create", service, self.creates(service), capture=True)
        for service in ("legacy", "new"):
            r[service]["edit"] = self.phase("edit", service, self.edits(r[service]["create"]["created_names"]))
        for service in ("legacy", "new"):
            r[service]["vote"] = self.phase("vote", service, self.votes())
        print(f"contended: {CONTENDED_RATE} req/s on one hot link and {HOT_COMMENTS} hot comments", flush=True)
        hot: dict[str, list[str]] = {}
        for service in ("legacy", "new"):
            r[service]["hot_create"] = self.phase("hot_create", service, self.hot_creates(service), capture=True,
                                                  rate=CONTENDED_RATE, connections=256)
            hot[service] = r[service]["hot_create"]["created_names"][:HOT_COMMENTS]
        for service in ("legacy", "new"):
            r[service]["hot_vote_edit"] = self.phase("hot_vote_edit", service, self.hot_votes_and_edits(hot[service]),
                                                     rate=CONTENDED_RATE, connections=256)
        r["parity_under_load"] = self.parity(hot)
        for service in ("legacy", "new"):
            for ph in r[service].values():
                ph["created"] = len(ph.pop("created_names"))
        return r

    def smoke(self) -> dict[str, Any]:
        """The set-up's bounded check (tests/benchmarks): a few creates on each side; nothing written to results/."""
        self.seconds = 1
        out = {}
        for service in ("legacy", "new"):
            ph = self.phase("create", service, self.creates(service)[:40], capture=True, rate=20)
            out[service] = {"ok": ph["ok"], "measured": ph["measured"], "statuses": ph["statuses"],
                            "created": len(ph["created_names"]), "sql_per_request": ph["sql_per_request"]}
        return out

    def parity(self, hot: dict[str, list[str]]) -> dict[str, Any]:
        """The contended phase's end state, compared across services and against each side's cache."""
        import pickle

        from pymemcache.client.base import Client

        from legacy_adapter.codec import from36

        caches = {"legacy": self.stack.production.memcached_host_port, "new": self.stack.sister.memcached_host_port}
        rows: dict[str, list[dict[str, Any]]] = {}
        stale: dict[str, int] = {}
        for service in ("legacy", "new"):
            ids = [from36(n[3:]) for n in hot[service]]
            got = run_async(_sql(self.pg[service], "SELECT thing_id, ups, downs, version FROM reddit_thing_comment "
                                 f"WHERE thing_id IN ({','.join(str(i) for i in ids)}) ORDER BY thing_id"))
            rows[service] = [{"ups": g["ups"], "downs": g["downs"], "version": g["version"]} for g in got]
            client = Client(caches[service])
            stale[service] = 0
            for g in got:
                cached = client.get(f"comment:{g['thing_id']}")
                obj = pickle.loads(cached) if cached else None
                if obj is None or (obj["_version"], obj["_ups"], obj["_downs"]) != (g["version"], g["ups"], g["downs"]):
                    stale[service] += 1
            client.close()
        link = from36(THREAD[3:])
        counts = {s: run_async(_sql(self.pg[s], "SELECT (SELECT count(*) FROM reddit_data_comment WHERE key = 'link_id' "
                                    f"AND value = '{link}') AS comments, (SELECT value FROM reddit_data_link WHERE "
                                    f"thing_id = {link} AND key = 'num_comments') AS num"))[0] for s in ("legacy", "new")}
        out = {"hot_rows": rows, "stale_cache_entries": stale,
               "thread_counts": {s: {"comments": c["comments"], "num_comments": c["num"]} for s, c in counts.items()},
               "statuses": {s: self.results.get(s, {}).get("hot_vote_edit", {}).get("statuses") for s in ("legacy", "new")}}
        out["match"] = (rows["legacy"] == rows["new"] and stale == {"legacy": 0, "new": 0}
                        and out["thread_counts"]["legacy"] == out["thread_counts"]["new"])
        print(f"  parity under load: {'match' if out['match'] else 'MISMATCH'} {out}", flush=True)
        return out


def markdown(result: dict[str, Any]) -> str:
    r, m = result["run"], result["machine"]
    lines = [
        "# Legacy vs new: write latency and SQL statements per request",
        "",
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['date_utc']}. Each service on its own fresh, "
        f"identically seeded store set (thread {THREAD}); the rewrite in primary mode. Open-loop fixed rate "
        f"{result['rate']} req/s per phase, {result['seconds']} s after a 1 s warm-up (latency from the due time). "
        "SQL statements/request: pg_stat_statements calls in the service's database during the phase / requests "
        "sent, without transaction control (BEGIN/COMMIT, `txn ctl`) and without asyncpg's pool-release reset "
        "(`UNLISTEN *; SELECT pg_advisory_unlock_all(); RESET ALL; CLOSE ALL`, 4 statements per connection "
        "checkout, `pool reset`), both shown separately; warm-up requests included. `own metric` is the rewrite's "
        "`new_service_sql_statements_per_request` (which excludes transaction control); `xact/req` = "
        "`pg_stat_database.xact_commit` delta per request.",
        "",
        "| write | legacy p50 (ms) | new p50 (ms) | legacy p99 (ms) | new p99 (ms) | new/legacy p99 | legacy SQL/req | new SQL/req | new own metric | txn ctl/req (legacy, new) | pool reset/req (legacy, new) | xact/req (legacy, new) | ok legacy, new |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for ep in ("create", "edit", "vote"):
        a, b = r["legacy"][ep], r["new"][ep]
        ratio = b["overall"]["p99_ms"] / a["overall"]["p99_ms"] if a["overall"]["p99_ms"] else float("nan")
        lines.append(
            f"| {ep} | {a['overall']['p50_ms']:.2f} | {b['overall']['p50_ms']:.2f} | {a['overall']['p99_ms']:.2f} | "
            f"{b['overall']['p99_ms']:.2f} | {ratio:.2f}x | {fmt(a['sql_per_request'])} | {fmt(b['sql_per_request'])} | "
            f"{fmt(b.get('own_metric_per_request'))} | {fmt(a['txn_control_per_request'])}, {fmt(b['txn_control_per_request'])} | "
            f"{fmt(a['pool_reset_per_request'])}, {fmt(b['pool_reset_per_request'])} | "
            f"{fmt(a['xact_commit_per_request'])}, {fmt(b['xact_commit_per_request'])} | {a['ok']}/{a['measured']}, "
            f"{b['ok']}/{b['measured']} |"
        )
    lines += ["", f"## Contended phase ({CONTENDED_RATE} req/s: creates on one hot link, then votes and edits mixed "
              f"on {HOT_COMMENTS} hot comments)", "",
              "The legacy takes r2's `commit_<fullname>` Memcached lock with its random 0.1-1 s back-off; the "
              "rewrite takes no lock (row locks and a version-guarded cache write).", "",
              "| write | legacy p50 (ms) | new p50 (ms) | legacy p99 (ms) | new p99 (ms) | new/legacy p99 | target <= 0.5x |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for ep, phase, label in (("create", "hot_create", "create"), ("edit", "hot_vote_edit", "edit"),
                             ("vote", "hot_vote_edit", "vote")):
        a, b = r["legacy"][phase]["by_label"].get(label, {}), r["new"][phase]["by_label"].get(label, {})
        if not a or not b:
            continue
        ratio = b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else float("nan")
        lines.append(f"| {ep} | {a['p50_ms']:.2f} | {b['p50_ms']:.2f} | {a['p99_ms']:.2f} | {b['p99_ms']:.2f} | "
                     f"{ratio:.2f}x | {'met' if ratio <= 0.5 else 'not met'} |")
    par = r.get("parity_under_load", {})
    lines += ["", f"Parity under load: **{'match' if par.get('match') else 'MISMATCH'}** (hot comments' ups/downs/version "
              f"equal on both sides: {par.get('hot_rows', {}).get('legacy') == par.get('hot_rows', {}).get('new')}; "
              f"stale cache entries {par.get('stale_cache_entries')}; thread counts {par.get('thread_counts')}).", ""]
    lines += ["", "Anchor: Reddit's comments rewrite halved p99 write latency (new/legacy p99 <= 0.5x). "
              + "; ".join(f"{ep}: {r['new'][ep]['overall']['p99_ms'] / r['legacy'][ep]['overall']['p99_ms']:.2f}x "
                          f"({'halved' if r['new'][ep]['overall']['p99_ms'] <= 0.5 * r['legacy'][ep]['overall']['p99_ms'] else 'not halved'})"
                          for ep in ("create", "edit", "vote")) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="set-up check only: a few creates per side, print JSON; "
                        "writes no results")
    args = parser.parse_args()
    bench = WriteBench(args.quick)
    if args.smoke:
        import json

        bench.run = bench.smoke  # type: ignore[method-assign]
        print(json.dumps(measured(bench)[1]))
        return
    started, run = measured(bench)
    result = {"machine": started, "rate": bench.rate, "seconds": bench.seconds, "pg_stat_statements": bench.pg_stat,
              "run": run}
    write_result("legacy_vs_new", result, markdown(result))


if __name__ == "__main__":
    main()
