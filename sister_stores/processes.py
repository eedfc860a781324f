"""Processes and ports: finding server binaries, running as an unprivileged user, waiting for a
port, stopping a process group. The lifecycle of whole store sets is local_servers.py's."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential


class LocalStoreError(RuntimeError):
    """A local server could not be found, started or stopped; the message says which and why."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def redis_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Redis answers PING with PONG: its port opens before it has loaded its append-only file, and
    until then every command is refused with LOADING."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Poll `predicate` (pauses from 10 ms doubling to 200 ms) until it holds, else LocalStoreError
    naming `what` with the tail of its log."""
    ready = Retrying(stop=stop_after_delay(timeout), wait=wait_exponential(multiplier=0.01, max=0.2),
                     retry=retry_if_result(lambda ok: not ok), retry_error_callback=lambda state: False)(predicate)
    if ready:
        return
    tail = ""
    if log and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise LocalStoreError(f"{what} did not become ready within {timeout:.0f}s{tail}")


def find_postgres_bindir() -> Path:
    """Where Debian keeps initdb/pg_ctl/postgres: pg_config --bindir, else /usr/lib/postgresql/*/bin."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for cand in candidates:
        if (cand / "pg_ctl").exists() and (cand / "initdb").exists() and (cand / "postgres").exists():
            return cand
    raise LocalStoreError(
        "PostgreSQL server binaries not found (looked at pg_config --bindir and /usr/lib/postgresql/*/bin); "
        "install the Debian package 'postgresql' (make test does this) or point the sets at existing servers"
    )


def server_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if not path:
        raise LocalStoreError(f"'{name}' not found on PATH; install the Debian package '{package}'")
    return path


def service_user() -> str | None:
    """The unprivileged user servers run as when we are root (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise LocalStoreError("running as root but found neither a 'postgres' nor a 'nobody' user to run servers as")


def kill_group(pid: int) -> None:
    """SIGKILL a server and everything in its process group (every server here leads its own:
    memcached and redis start in a new session, pg_ctl's postmaster calls setsid)."""
    try:
        group = os.getpgid(pid)
        if group == os.getpgrp():  # never our own group: that would kill the caller too
            os.kill(pid, signal.SIGKILL)
        else:
            os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGKILL)


def reap(pid: int) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
