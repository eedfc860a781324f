"""Shared benchmark plumbing: processes we start (and always stop), store sets, config, load runs.

Every server a benchmark starts is a subprocess in its own session, registered in `PROCS`; `Proc.stop`
signals that process group only (by its id), and `cleanup()` runs from `finally`, `atexit` and on
SIGTERM/SIGINT. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
HARNESS = BENCH / "harness"
BIN = Path(sys.executable).parent
TAPCOMPARE = str(BIN / "tapcompare")
THREADS_DIR = ROOT.parent / "shared" / "datasets" / "reddit" / "threads"
READONLY_ROLE = "tapcompare_ro"
TAP_SECRET = "bench-tap-secret-0123"
ADMIN_TOKEN = "bench-admin-token-0123"

sys.path.insert(0, str(ROOT))

PROCS: list["Proc"] = []


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def http_json(method: str, url: str, payload: Any, headers: dict[str, str] | None = None, timeout: float = 5.0) -> Any:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


class Proc:
    """One subprocess we started, in its own session; stop() ends that process group only."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None,
                 port: int | None = None, ready_path: str | None = "/health", ready_timeout: float = 30.0) -> None:
        self.name, self.argv, self.port = name, argv, port
        self.log = log_dir / f"{name}.log"
        fh = open(self.log, "ab")
        self.popen = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env={**os.environ, **(env or {})}, start_new_session=True, cwd=ROOT)
        fh.close()
        PROCS.append(self)
        if port is not None:
            self.wait_ready(ready_path, ready_timeout)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, path: str | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}: {self.tail()}")
            if port_open(self.port):
                if path is None:
                    return
                try:
                    status, _ = http_get(f"http://127.0.0.1:{self.port}{path}", timeout=2)
                    if status < 500:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready on port {self.port} within {timeout}s: {self.tail()}")

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def peak_rss_kb(self) -> int | None:
        """VmHWM of the process itself (the console script execs no child: it is the server)."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self, timeout: float = 10.0) -> None:
        if self in PROCS:
            PROCS.remove(self)
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        else:
            self.popen.wait()


_CLEANUPS: list[Any] = []


def on_cleanup(fn: Any) -> None:
    _CLEANUPS.append(fn)


def cleanup() -> None:
    for proc in list(reversed(PROCS)):
        try:
            proc.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            print(f"cleanup: {proc.name}: {exc}", file=sys.stderr)
    while _CLEANUPS:
        fn = _CLEANUPS.pop()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            print(f"cleanup: {exc}", file=sys.stderr)


def _on_signal(signum: int, _frame: Any) -> None:
    cleanup()
    sys.exit(128 + signum)


def install_cleanup() -> None:
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def measured(bench: Any) -> tuple[dict[str, Any], Any]:
    """(the machine as the run began, `bench.run()`), after `bench.setup()`; whatever the bench
    started is stopped on every exit path (signals included)."""
    install_cleanup()
    started = machine()
    try:
        bench.setup()
        return started, bench.run()
    finally:
        cleanup()


# -- store sets ----------------------------------------------------------------------------------

@dataclass
class Stack:
    tmp: Path
    local: Any  # LocalStores
    production: Any  # StoreAddresses
    sister: Any


def start_stores(prefix: str) -> Stack:
    from sister_stores.local_servers import LocalStores

    tmp = Path(tempfile.mkdtemp(prefix=f"tapcompare-{prefix}-"))
    os.chmod(tmp, 0o755)
    local = LocalStores(tmp / "stores")

    def down() -> None:
        try:
            local.down()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    on_cleanup(down)
    addrs = local.up()
    return Stack(tmp, local, addrs["production"], addrs["sister"])


async def prepare_legacy_db(addrs: Any, threads: list[str], accounts: tuple[str, ...], stream: str = "comments:cdc") -> Any:
    """Apply the legacy schema and seed threads through the legacy model (builds projections too)."""
    from legacy_adapter.schema import schema_sql
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores
    from sister_stores.databases import apply_sql

    await apply_sql(addrs.postgres, schema_sql())
    st = await LegacyStores.open(addrs.postgres, addrs.memcached_host_port, addrs.redis, stream)
    try:
        return await seed(st, THREADS_DIR, threads, accounts)
    finally:
        await st.close()


def stores_prepare(config: Path) -> str:
    """`tapcompare stores prepare` on the benchmark's config, as a user readies stores before any serve
    command: the read-only role, the sister schema, the results database. Its lines, or RuntimeError."""
    proc = subprocess.run([TAPCOMPARE, "--config", str(config), "stores", "prepare"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"tapcompare stores prepare failed (exit {proc.returncode}): {proc.stdout[-1500:]}"
                           f"{proc.stderr[-1500:]}")
    return proc.stdout


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def toml_stores(stack: Stack, production: Any = None, sister: Any = None) -> str:
    """The [stores] part: local sets from the stack, or explicit addresses (local = false)."""
    out = [f'[stores]\nlocal_dir = "{stack.local.root}"\n']
    for name, addrs in (("production", production), ("sister", sister)):
        if addrs is not None:
            out.append(f'[stores.{name}]\nlocal = false\npostgres = "{addrs.postgres}"\n'
                       f'memcached = "{addrs.memcached}"\nredis = "{addrs.redis}"\n')
    return "\n".join(out)


# -- load --------------------------------------------------------------------------------------

def run_loadgen(spec: dict[str, Any], work: Path, name: str) -> dict[str, Any]:
    """Our open-loop (fixed-rate) generator as a separate process; returns its JSON summary."""
    spec_path, out_path = work / f"{name}.spec.json", work / f"{name}.out.json"
    spec_path.write_text(json.dumps(spec))
    limit = spec.get("duration_s", 10) + spec.get("drain_s", 5) + spec.get("warmup_s", 0) + 30
    proc = subprocess.run([sys.executable, str(HARNESS / "loadgen.py"), str(spec_path), str(out_path)],
                          capture_output=True, text=True, timeout=limit, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {name} failed: {proc.stderr[-2000:]}")
    return json.loads(out_path.read_text())


def run_wrk(url_base: str, paths: list[str], duration_s: int, connections: int, work: Path, name: str) -> dict[str, Any]:
    """wrk (Debian) at max throughput: one thread, `connections` keep-alive connections, a Lua path rotation."""
    lua = work / f"{name}.lua"
    quoted = ",\n".join(json.dumps(p) for p in paths)
    lua.write_text(
        "local paths = {\n" + quoted + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "5s", "--latency", "-s", str(lua), url_base]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 30)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk {name} failed: {proc.stderr}")
    return parse_wrk(proc.stdout)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    res: dict[str, Any] = {"raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = _ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*timeout (\d+)", out)
    res["timeouts"] = int(m.group(1)) if m else 0
    return res


# -- machine and output ----------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1), "cpu": cpu,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": platform.python_version(), "platform": platform.platform(),
        "loadavg": os.getloadavg(),
    }


def write_result(name: str, result: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    (RESULTS / f"{name}.md").write_text(markdown, encoding="utf-8")
    print(f"wrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.md')}", flush=True)


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)
