"""Ephemeral PostgreSQL, Memcached and Redis servers from the machine's own binaries.

`LocalStores(root).up()` starts a production and a sister set, each three server processes on free
loopback ports, and records them in `root/state.json`; `down()` stops every one and checks that
neither process nor port is left. `stop_one` / `start_one` / `restart_one` stop (or crash, with
SIGKILL) and restart a single server on its recorded port with its data dir (fault injection);
`durable=True` makes PostgreSQL commit synchronously and Redis fsync an append-only file on every
write, so a kill -9 loses no acknowledged write (Memcached, being a cache, restarts empty).
PostgreSQL refuses to run as root, so as root its files belong to an unprivileged user and its
commands run through `runuser`; memcached gets `-u` likewise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sister_stores.addresses import StoreAddresses
from sister_stores.processes import (
    LocalStoreError,
    find_postgres_bindir,
    free_ports,
    kill_group,
    pid_alive,
    redis_answers,
    port_open,
    reap,
    server_binary,
    service_user,
    wait_for,
)

SET_NAMES = ("production", "sister")
DB_SUPERUSER = "tapcompare"


@dataclass
class ServerRecord:
    kind: str
    port: int
    pid: int
    data_dir: str

    def alive(self) -> bool:
        return pid_alive(self.pid)


@dataclass
class SetRecord:
    name: str
    database: str
    servers: dict[str, ServerRecord] = field(default_factory=dict)

    def addresses(self) -> StoreAddresses:
        pg, mc, rd = (self.servers[k] for k in ("postgres", "memcached", "redis"))
        return StoreAddresses(
            postgres=f"postgresql://{DB_SUPERUSER}@127.0.0.1:{pg.port}/{self.database}",
            memcached=f"127.0.0.1:{mc.port}",
            redis=f"redis://127.0.0.1:{rd.port}/0",
        )


class LocalStores:
    """Start, stop and report on the local production and sister sets under one directory."""

    def __init__(self, root: str | Path, database: str = "comments", durable: bool = False) -> None:
        self.root = Path(root).resolve()
        self.database = database
        self.durable = durable
        self.state_file = self.root / "state.json"

    # -- state -------------------------------------------------------------------------------
    def load_state(self) -> dict[str, SetRecord]:
        if not self.state_file.exists():
            return {}
        raw = json.loads(self.state_file.read_text())
        return {
            name: SetRecord(name, s["database"], {k: ServerRecord(**v) for k, v in s["servers"].items()})
            for name, s in raw.items()
        }

    def _save_state(self, sets: dict[str, SetRecord]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {
            name: {"database": s.database, "servers": {k: vars(v) for k, v in s.servers.items()}}
            for name, s in sets.items()
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_file)

    def addresses(self, name: str) -> StoreAddresses:
        sets = self.load_state()
        if name not in sets:
            raise LocalStoreError(
                f"no local '{name}' store set is running under {self.root}; run 'tapcompare stores up' "
                f"or set stores.{name}.local = false with addresses"
            )
        return sets[name].addresses()

    # -- lifecycle ---------------------------------------------------------------------------
    def up(self, names: tuple[str, ...] = SET_NAMES) -> dict[str, StoreAddresses]:
        """Start the named sets (already running ones are kept); return their addresses."""
        sets = self.load_state()
        for name in names:
            existing = sets.get(name)
            if existing and all(s.alive() and port_open(s.port) for s in existing.servers.values()):
                continue
            if existing:
                self._stop_set(existing)
            sets[name] = self._start_set(name)
            self._save_state(sets)
        return {name: sets[name].addresses() for name in names}

    def down(self) -> list[str]:
        """Stop every recorded server; return what was stopped. Raises if anything survives."""
        sets = self.load_state()
        stopped = []
        for record in sets.values():
            stopped += self._stop_set(record)
        survivors = [
            f"{rec.name}.{kind} (pid {srv.pid}, port {srv.port})"
            for rec in sets.values() for kind, srv in rec.servers.items()
            if srv.alive() or port_open(srv.port)
        ]
        if survivors:
            raise LocalStoreError("still running after stop: " + ", ".join(survivors))
        if self.state_file.exists():
            self.state_file.unlink()
        fallback = self._pg_base()
        if fallback != self.root:
            shutil.rmtree(fallback, ignore_errors=True)
        return stopped

    def status(self) -> dict[str, dict[str, dict[str, object]]]:
        out: dict[str, dict[str, dict[str, object]]] = {}
        for name, rec in self.load_state().items():
            addrs = rec.addresses().as_dict()
            out[name] = {
                kind: {"pid": srv.pid, "port": srv.port, "running": srv.alive() and port_open(srv.port),
                       "address": addrs[kind]}
                for kind, srv in rec.servers.items()
            }
        return out

    # -- one server ----------------------------------------------------------------------------
    def _server(self, set_name: str, kind: str) -> tuple[dict[str, SetRecord], ServerRecord]:
        sets = self.load_state()
        if set_name not in sets or kind not in sets[set_name].servers:
            raise LocalStoreError(f"no local {set_name}.{kind} server is recorded under {self.root}")
        return sets, sets[set_name].servers[kind]

    def stop_one(self, set_name: str, kind: str, *, kill: bool = False) -> ServerRecord:
        """Stop one server of a set, keeping its port and data dir recorded for `start_one`.
        `kill=True` is a crash: SIGKILL to the server's whole process group (PostgreSQL's backends
        too), no shutdown of any kind. Returns when neither process nor port is left."""
        sets, srv = self._server(set_name, kind)
        if kill:
            kill_group(srv.pid)
        else:
            self._stop_set(SetRecord(set_name, sets[set_name].database, {kind: srv}))
        wait_for(lambda: not srv.alive() and not port_open(srv.port), 20, f"{set_name}.{kind} stop")
        reap(srv.pid)
        return srv

    def start_one(self, set_name: str, kind: str) -> ServerRecord:
        """Start a stopped server again on its recorded port with its data dir (its data kept,
        except Memcached's, which lives in memory). Records and returns the new process."""
        sets, srv = self._server(set_name, kind)
        if srv.alive() and port_open(srv.port):
            return srv
        data_dir = Path(srv.data_dir)
        if kind == "postgres":
            # A killed postmaster reparented to a PID 1 that does not reap stays a zombie, which
            # PostgreSQL takes for a live server holding the lock files: they are stale.
            for stale in ("postmaster.pid", f".s.PGSQL.{srv.port}.lock", f".s.PGSQL.{srv.port}"):
                (data_dir / stale).unlink(missing_ok=True)
            started = ServerRecord("postgres", srv.port, self._pg_ctl_start(data_dir, srv.port), srv.data_dir)
        elif kind == "memcached":
            started = self._start_memcached(data_dir, srv.port)
        else:
            started = self._start_redis(data_dir, srv.port)
        sets[set_name].servers[kind] = started
        self._save_state(sets)
        return started

    def restart_one(self, set_name: str, kind: str, *, kill: bool = True) -> ServerRecord:
        self.stop_one(set_name, kind, kill=kill)
        return self.start_one(set_name, kind)

    # -- one set -----------------------------------------------------------------------------
    def _start_set(self, name: str) -> SetRecord:
        set_dir = self.root / name
        if set_dir.exists():
            shutil.rmtree(set_dir)
        set_dir.mkdir(parents=True)
        pg_port, mc_port, rd_port = free_ports(3)
        record = SetRecord(name, self.database)
        try:
            record.servers["postgres"] = self._start_postgres(self._pg_base() / name / "pg", pg_port)
            record.servers["memcached"] = self._start_memcached(set_dir, mc_port)
            record.servers["redis"] = self._start_redis(set_dir / "redis", rd_port)
        except BaseException:
            self._stop_set(record)
            raise
        return record

    def _run_as_service_user(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        user = service_user()
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, **kw)

    def _pg_base(self) -> Path:
        """Where PostgreSQL data lives: under root when the service user can reach it, else (a
        root-only tree such as pytest's tmp dirs or /root) a private folder under /var/tmp."""
        user = service_user()
        if user is None:
            return self.root
        probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(self.root)], check=False)
        if probe.returncode == 0:
            return self.root
        base = Path("/var/tmp/tapcompare-pg") / hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base.parent, 0o755)
        os.chmod(base, 0o755)
        return base

    def _pg_template(self, bindir: Path) -> Path:
        """initdb once per root; each set copies the result (much faster than initdb per set)."""
        template = self._pg_base() / "_pg_template"
        if (template / "PG_VERSION").exists():
            return template
        template.mkdir(parents=True, exist_ok=True)
        user = service_user()
        if user:
            shutil.chown(template, user)
        out = self._run_as_service_user([
            str(bindir / "initdb"), "-D", str(template), "-U", DB_SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        ])
        if out.returncode != 0:
            shutil.rmtree(template, ignore_errors=True)
            raise LocalStoreError(f"initdb failed (exit {out.returncode}): {out.stderr.strip()[-800:]}")
        return template

    def _start_postgres(self, data_dir: Path, port: int) -> ServerRecord:
        bindir = find_postgres_bindir()
        template = self._pg_template(bindir)
        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(template), str(data_dir)], check=True)
        pid = self._pg_ctl_start(data_dir, port)
        created = subprocess.run(
            [str(bindir.parent / "bin" / "createdb") if (bindir / "createdb").exists() else "createdb",
             "-h", "127.0.0.1", "-p", str(port), "-U", DB_SUPERUSER, self.database],
            capture_output=True, text=True, check=False,
        )
        if created.returncode != 0:
            raise LocalStoreError(f"createdb {self.database} on port {port} failed: {created.stderr.strip()}")
        return ServerRecord("postgres", port, pid, str(data_dir))

    def _pg_ctl_start(self, data_dir: Path, port: int) -> int:
        """pg_ctl start on an existing data dir; returns the postmaster's pid."""
        bindir = find_postgres_bindir()
        log = data_dir.parent / "postgres.log"
        log.touch()
        user = service_user()
        if user:
            shutil.chown(log, user)
        # fsync stays off either way: a killed process does not lose the OS page cache.
        commit = "on" if self.durable else "off"
        opts = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {data_dir} -c fsync=off "
            f"-c synchronous_commit={commit} -c full_page_writes=off -c max_connections=300 "
            "-c shared_buffers=64MB"
        )
        out = self._run_as_service_user(
            [str(bindir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]
        )
        if out.returncode != 0:
            raise LocalStoreError(
                f"PostgreSQL on port {port} failed to start: {out.stderr.strip()[-400:]}\n"
                + "\n".join(log.read_text(errors="replace").splitlines()[-10:])
            )
        return int((data_dir / "postmaster.pid").read_text().split()[0])

    def _spawn(self, argv: list[str], log: Path) -> int:
        with open(log, "ab") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        return proc.pid

    def _start_memcached(self, set_dir: Path, port: int) -> ServerRecord:
        argv = [server_binary("memcached", "memcached"), "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "128", "-c", "4096"]
        user = service_user()
        if user:
            argv += ["-u", user]
        log = set_dir / "memcached.log"
        pid = self._spawn(argv, log)
        wait_for(lambda: port_open(port), 15, f"memcached on port {port}", log)
        return ServerRecord("memcached", port, pid, str(set_dir))

    def _start_redis(self, data_dir: Path, port: int) -> ServerRecord:
        data_dir.mkdir(parents=True, exist_ok=True)
        log = data_dir / "redis.log"
        argv = [server_binary("redis-server", "redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--dir", str(data_dir), "--daemonize", "no", "--protected-mode", "no",
                *(["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"])]
        pid = self._spawn(argv, log)
        wait_for(lambda: redis_answers(port), 15, f"redis-server on port {port}", log)
        return ServerRecord("redis", port, pid, str(data_dir))

    def _stop_set(self, record: SetRecord) -> list[str]:
        stopped = []
        for kind, srv in record.servers.items():
            if kind == "postgres":
                if srv.alive():
                    bindir = find_postgres_bindir()
                    self._run_as_service_user([str(bindir / "pg_ctl"), "-D", srv.data_dir, "-m", "fast", "-w", "-t", "30", "stop"])
            elif srv.alive():
                os.kill(srv.pid, signal.SIGTERM)
            try:
                wait_for(lambda: not srv.alive() and not port_open(srv.port), 20, f"{record.name}.{kind} stop")
            except LocalStoreError:
                if srv.alive():
                    os.kill(srv.pid, signal.SIGKILL)
                wait_for(lambda: not srv.alive(), 5, f"{record.name}.{kind} kill")
            reap(srv.pid)
            stopped.append(f"{record.name}.{kind}")
        return stopped
