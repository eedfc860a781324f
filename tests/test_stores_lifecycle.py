"""`tapcompare stores up|status|down` through the real console script: nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sister_stores.processes import pid_alive, port_open


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TAPCOMPARE_STORES__LOCAL_DIR=str(tmp_path / "stores"))
    return subprocess.run([sys.executable, "-m", "tapcompare", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_up_status_down_leaves_no_process_or_port(tmp_path: Path) -> None:
    up = _cli(tmp_path, "stores", "up")
    assert up.returncode == 0, up.stderr
    for name in ("production", "sister"):
        for kind in ("postgres", "memcached", "redis"):
            assert f"{name}.{kind} = " in up.stdout

    status = _cli(tmp_path, "stores", "status", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    servers = [info for s in state.values() for info in s.values()]
    assert len(servers) == 6 and all(info["running"] for info in servers)
    assert len({info["port"] for info in servers}) == 6

    # `up` again is safe: the same servers are kept
    again = _cli(tmp_path, "stores", "up")
    assert again.returncode == 0 and again.stdout == up.stdout

    down = _cli(tmp_path, "stores", "down")
    assert down.returncode == 0, down.stderr
    assert "stopped 6 servers" in down.stdout
    for info in servers:
        assert not pid_alive(info["pid"]), f"pid {info['pid']} survived stores down"
        assert not port_open(info["port"]), f"port {info['port']} still open after stores down"
    assert "no local store servers" in _cli(tmp_path, "stores", "status").stdout
