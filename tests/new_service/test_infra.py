"""Plumbing: Memcached cancellation safety, the no-legacy-import rule, SQL statement metrics."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from new_comments_service.memcached import MemcachedPool
from tests.new_service.support import LINK36, SEQUENCE_FLOOR, FakeClock, meta_get, wait_for
from tests.support.stores import StoreSets

PACKAGE = Path(__file__).resolve().parents[2] / "new_comments_service"


def test_new_service_imports_nothing_from_legacy_adapter() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("__import__", "import_module"):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "legacy_adapter"]
    assert offenders == []
    # and importing the whole service loads no legacy module transitively
    code = ("import sys, new_comments_service.app, tapcompare.commands.new_service; "
            "print([m for m in sys.modules if m.startswith('legacy_adapter')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_cancelled_call_does_not_poison_the_connection(stores: StoreSets) -> None:
    pool = MemcachedPool(stores.production.memcached_host_port, threads=1)
    try:
        big = bytes(range(256)) * 3500  # ~900 kB (under the 1 MB item limit): a reply read in many chunks
        assert await pool.set("big", big, 0, 1)
        await pool.set("small", b"small", 0, 1)
        # 1) cancelled while the worker is blocked between two commands on its connection
        started, release = threading.Event(), threading.Event()

        def two_gets(client):
            client.get("big")
            started.set()
            release.wait(5)
            return client.get("big")

        task = asyncio.ensure_future(pool.run(two_gets))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        assert await pool.get("small") == b"small"
        # 2) cancelled with the worker inside the call, which then reads the whole big reply
        loop = asyncio.get_running_loop()
        for _ in range(5):
            in_call, gate = threading.Event(), threading.Event()
            task = asyncio.ensure_future(pool.run(lambda c: (in_call.set(), gate.wait(5), c.get("big"))[2]))
            await loop.run_in_executor(None, in_call.wait, 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            gate.set()
            assert await pool.get("small") == b"small"
        # 3) timeouts landing anywhere in a big get (whether or not they win the race)
        for _ in range(20):
            try:
                await asyncio.wait_for(pool.get("big"), timeout=0.0002)
            except asyncio.TimeoutError:
                pass
            assert await pool.get("small") == b"small"
        assert await pool.get("big") == big
        # 4) a lock acquisition cancelled mid-add does not leave the lock behind
        for _ in range(5):
            in_call, gate = threading.Event(), threading.Event()
            blocker = asyncio.ensure_future(pool.run(lambda c: (in_call.set(), gate.wait(5))))
            await loop.run_in_executor(None, in_call.wait, 5)
            attempt = asyncio.ensure_future(pool._try_add_lock("lock:comment:1"))  # queued behind the blocker
            await asyncio.sleep(0)
            attempt.cancel()
            gate.set()
            await blocker
            with pytest.raises(asyncio.CancelledError):
                await attempt

            async def lock_free() -> bool:
                return await pool.get("lock:comment:1") is None
            await wait_for(lock_free)
        async with pool.lock("lock:comment:1"):
            assert meta_get(stores.production, "lock:comment:1").ttl <= 10
        assert await pool.get("lock:comment:1") is None
    finally:
        pool.close()


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not in metrics")


async def test_sql_statement_counts_per_endpoint(primary: TestClient, clock: FakeClock) -> None:
    from new_comments_service.ids import to36
    first = f"t1_{to36(SEQUENCE_FLOOR + 1)}"
    for i in range(5):
        resp = await primary.post("/api/comment", data={"thing_id": f"t3_{LINK36}" if i < 2 else first, "text": "x"},
                                  headers={"X-Auth-User": "alice"})
        assert resp.status == 200
    await primary.post("/api/vote", data={"id": first, "dir": "-1"}, headers={"X-Auth-User": "bob"})
    await primary.post("/api/editusertext", data={"thing_id": first, "text": "y"}, headers={"X-Auth-User": "alice"})
    for _ in range(2):
        assert (await primary.get(f"/comments/{LINK36}")).status == 200
    await primary.get(f"/api/morechildren?link_id=t3_{LINK36}&children={first[3:]}")
    await primary.get(f"/api/info?id={first},t3_{LINK36}")
    text = await (await primary.get("/metrics")).text()
    per_request = "new_service_sql_statements_per_request"
    # a thread is two statements however many comments it has (no N+1)
    expected = {"comment": 6, "vote": 4, "editusertext": 5, "comments": 2, "morechildren": 2, "info": 2}
    for endpoint, statements in expected.items():
        count = _metric(text, per_request + "_count", endpoint=endpoint)
        assert _metric(text, per_request + "_sum", endpoint=endpoint) == statements * count, endpoint
    assert _metric(text, "new_service_sql_statements_total", endpoint="comments", store="production") == 4
    assert _metric(text, "new_service_request_seconds_count", route="/comments/{link36}", status="200") == 2


def test_cli_serve_refuses_a_sister_that_is_production(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tapcompare.commands.new_service import new

    same = ('local = false\npostgres = "postgresql://app@127.0.0.1:5999/comments"\n'
            'memcached = "127.0.0.1:5998"\nredis = "redis://127.0.0.1:5997/0"\n')
    config = tmp_path / "same.toml"
    config.write_text(f"[stores.production]\n{same}\n[stores.sister]\n{same}")
    runner = CliRunner()
    assert "Serve the comments API" in runner.invoke(new, ["serve", "--help"]).output
    result = runner.invoke(new, ["serve", "--mode", "tap"], obj={"config_path": str(config)})
    assert result.exit_code == 1 and "127.0.0.1" in result.output and "Traceback" not in result.output
