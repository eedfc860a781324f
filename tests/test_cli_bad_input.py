"""Bad input at start-up, through the real console script: unprepared stores, a wrong address, a
sister set that is production, default secrets on a public address. Each is one line naming the
key or the command that fixes it, a non-zero exit, no traceback, and nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest

from config import Settings, load_settings
from config.safety import default_secrets_in_use, is_loopback_host
from legacy_adapter.schema import schema_sql
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import ensure_readonly_role
from sister_stores.processes import free_ports, port_open, wait_for
from tapcompare.preflight import COMPONENTS, require_ready
from tests.support.stores import run
from tests.test_prepare import TAPCOMPARE, Target, assert_one_line_error, cli, snapshot, sql, target  # noqa: F401

FIX = "run `tapcompare stores prepare`"


def _with_secrets(t: Target, name: str) -> Path:
    """The target's config plus secrets of our own (the [new_service]/[reports] keys merged by hand)."""
    text = t.config().read_text()
    text = text.replace("[new_service]\n", '[new_service]\ntap_secret = "a-tap-secret-of-ours"\n')
    text = text.replace("[reports]\n", '[reports]\ntoken = "a-report-token-of-ours"\n')
    path = t.dir / name
    path.write_text(text + '[proxy]\nadmin_token = "an-admin-token-of-ours"\n')
    return path


def test_new_serve_tap_on_unprepared_stores_names_each_piece_in_turn(target: Target) -> None:
    config = target.config()
    before = snapshot(target)
    result = cli(config, "new", "serve", "--mode", "tap")
    assert_one_line_error(result, "production.postgres legacy schema is missing", FIX)
    assert snapshot(target) == before

    # Fixed one piece at a time by hand, the next missing piece is named.
    sql(target.production.postgres, schema_sql())
    before = snapshot(target)
    assert_one_line_error(cli(config, "new", "serve", "--mode", "tap"),
                          f"production.postgres read-only role {target.role} is missing (does not exist)", FIX)
    assert snapshot(target) == before

    run(ensure_readonly_role(target.production.postgres, target.role))
    before = snapshot(target)
    assert_one_line_error(cli(config, "new", "serve", "--mode", "tap"), "sister.postgres schema is missing", FIX)
    assert snapshot(target) == before


@pytest.mark.parametrize("command, component_missing", [
    (("legacy", "serve"), "production.postgres legacy schema is missing"),
    (("new", "serve", "--mode", "primary"), "production.postgres legacy schema is missing"),
    (("report", "serve"), "results database"),
])
def test_other_serve_commands_on_unprepared_stores(target: Target, command: tuple[str, ...],
                                                   component_missing: str) -> None:
    before = snapshot(target)
    assert_one_line_error(cli(target.config(), *command), component_missing, FIX)
    assert snapshot(target) == before


def test_new_serve_tap_starts_on_prepared_stores(target: Target) -> None:
    """The control: with `stores prepare` done, the same command serves."""
    config = target.config()
    assert cli(config, "stores", "prepare").returncode == 0
    (port,) = free_ports(1)
    proc = subprocess.Popen([TAPCOMPARE, "--config", str(config), "new", "serve", "--mode", "tap", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=target.dir)
    try:
        wait_for(lambda: port_open(port) or proc.poll() is not None, 60, "new serve listening")
        assert proc.poll() is None, proc.communicate()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _closed_port() -> int:
    (port,) = free_ports(1)
    return port


def _wrong(t: Target, kind: str) -> StoreAddresses:
    p, port = t.production, _closed_port()
    if kind == "postgres":
        return StoreAddresses(f"postgresql://legacy:s3cret@127.0.0.1:{port}/comments", p.memcached, p.redis)
    if kind == "memcached":
        return StoreAddresses(p.postgres, f"127.0.0.1:{port}", p.redis)
    return StoreAddresses(p.postgres, p.memcached, f"redis://127.0.0.1:{port}/0")


@pytest.mark.parametrize("kind, command", [
    ("postgres", ("stores", "prepare")),
    ("postgres", ("stores", "prepare", "--check")),
    ("postgres", ("new", "serve", "--mode", "tap")),
    ("postgres", ("legacy", "serve")),
    ("memcached", ("legacy", "serve")),
    ("redis", ("legacy", "consume")),
    ("redis", ("new", "serve", "--mode", "primary")),
])
def test_a_wrong_address_names_the_key(target: Target, kind: str, command: tuple[str, ...]) -> None:
    sql(target.production.postgres, schema_sql())  # so only the wrong address can stop it
    wrong = _wrong(target, kind)
    config = target.config(production=wrong)
    before = snapshot(target)
    result = cli(config, *command)
    expected = {"postgres": "a reachable PostgreSQL server", "memcached": "a reachable Memcached server",
                "redis": "a reachable Redis server"}[kind]
    if command[:2] == ("stores", "prepare"):
        # prepare names every address that does not answer, one line each, then one summary line
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert f"stores.production.{kind} = " in result.stderr and "connection refused" in result.stderr
        assert "nothing was changed" in result.stderr
    else:
        line = assert_one_line_error(result, f"stores.production.{kind} = ", "connection refused", expected)
        if kind == "postgres":
            assert "s3cret" not in line and "legacy:***@" in line
    assert snapshot(target) == before


def test_a_wrong_results_dsn_names_the_key(target: Target) -> None:
    config = target.config(f'results_dsn = "postgresql://tapcompare@127.0.0.1:{_closed_port()}/results"\n')
    before = snapshot(target)
    assert_one_line_error(cli(config, "report", "serve"), "reports.results_dsn = ", "connection refused",
                          "a reachable PostgreSQL server")
    assert snapshot(target) == before


@pytest.mark.parametrize("command", [
    ("new", "serve", "--mode", "tap"),
    ("legacy", "serve"),
    ("report", "serve"),
    ("stores", "prepare"),
])
def test_a_sister_set_equal_to_production_is_refused(target: Target, command: tuple[str, ...]) -> None:
    config = target.config(sister=target.production)
    before = snapshot(target)
    assert_one_line_error(cli(config, *command), "stores.sister.postgres", "stores.sister.memcached",
                          "stores.sister.redis", "is the production store")
    assert snapshot(target) == before


# Which hosts count as public is test_loopback_hosts' business; here each command meets one.
@pytest.mark.parametrize("command, key, host", [
    (("new", "serve", "--mode", "tap"), "new_service.tap_secret", "0.0.0.0"),
    (("new", "serve", "--mode", "tap"), "new_service.tap_secret", "10.11.12.13"),
    (("report", "serve"), "reports.token", "::"),
])
def test_default_secrets_on_a_public_address_are_refused(target: Target, host: str, command: tuple[str, ...],
                                                         key: str) -> None:
    before = snapshot(target)
    line = assert_one_line_error(cli(target.config(), *command, "--host", host), key, repr(host))
    assert "TAPCOMPARE_" + key.upper().replace(".", "__") in line
    assert snapshot(target) == before
    # With secrets of our own the same command passes the rule (and stops at the unprepared stores).
    result = cli(_with_secrets(target, "own.toml"), *command, "--host", host)
    assert_one_line_error(result, FIX)
    assert key not in result.stderr


def test_default_secrets_on_loopback_are_fine(target: Target) -> None:
    result = cli(target.config(), "new", "serve", "--mode", "tap", "--host", "127.0.0.1")
    assert_one_line_error(result, FIX)  # past the rule, stopped by the unprepared stores
    assert "tap_secret" not in result.stderr


# -- the proxy's and the worker's checks, called as their commands will call them ------------------

def _settings(config: Path) -> Settings:
    return load_settings(config, environ={})


def _error(settings: Settings, component: str, host: str | None = None, **kw: bool) -> str:
    with pytest.raises(click.ClickException) as info:
        require_ready(settings, component, host, **kw)
    message = info.value.format_message()
    assert "\n" not in message
    return message


def test_proxy_and_worker_checks(target: Target) -> None:
    settings = _settings(target.config())
    assert FIX in _error(settings, "proxy")
    assert FIX in _error(settings, "worker")
    message = _error(settings, "proxy", "0.0.0.0")
    assert "proxy.admin_token" in message and "new_service.tap_secret" in message
    # A named admin token set to a built-in default is no secret either.
    leaky = settings.model_copy(update={"proxy": settings.proxy.model_copy(update={
        "admin_token": "an-admin-token-of-ours", "admin_tokens": {"ci": "change-me-report-token"}})})
    assert "proxy.admin_tokens.ci" in _error(leaky, "proxy", "0.0.0.0")

    assert cli(target.config(), "stores", "prepare").returncode == 0
    for component in COMPONENTS:
        require_ready(settings, component)  # every piece there: no error
    require_ready(settings, "worker", "0.0.0.0")  # the worker serves no secret
    stream = settings.model_copy(update={"proxy": settings.proxy.model_copy(update={
        "compare_mode": "stream", "jobs_redis": f"redis://127.0.0.1:{_closed_port()}/0"})})
    message = _error(stream, "proxy")
    assert "proxy.jobs_redis = " in message and "connection refused" in message
    assert "proxy.jobs_redis" in _error(stream, "worker")


def test_proxy_check_names_a_missing_results_database(target: Target) -> None:
    settings = _settings(target.config())
    assert cli(target.config(), "stores", "prepare").returncode == 0
    sql(target.sister.with_database("postgres").postgres, f'DROP DATABASE "{target.results_db}" WITH (FORCE)')
    assert f"results database {target.results_db} is missing" in _error(settings, "proxy")
    assert f"results database {target.results_db} is missing" in _error(settings, "report")
    # responses only, in stream mode: the proxy stores nothing itself
    stream = settings.model_copy(update={"proxy": settings.proxy.model_copy(update={"compare_mode": "stream"})})
    require_ready(stream, "proxy")


# -- the safe-defaults rule itself ------------------------------------------------------------------

@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("10.0.0.7", False), ("192.168.1.20", False),
    ("2001:db8::1", False), ("no-such-host.invalid", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_default_secrets_in_use_per_component() -> None:
    defaults = Settings()
    assert default_secrets_in_use(defaults, "proxy", "0.0.0.0") == ["proxy.admin_token", "new_service.tap_secret"]
    assert default_secrets_in_use(defaults, "new-tap", "0.0.0.0") == ["new_service.tap_secret"]
    assert default_secrets_in_use(defaults, "report", "::") == ["reports.token"]
    for component in ("legacy", "consume", "new-primary", "worker"):
        assert default_secrets_in_use(defaults, component, "0.0.0.0") == []
    for component in COMPONENTS:
        assert default_secrets_in_use(defaults, component, "127.0.0.1") == []
        assert default_secrets_in_use(defaults, component, None) == []
    own = load_settings(None, environ={"TAPCOMPARE_NEW_SERVICE__TAP_SECRET": "ours-and-long",
                                       "TAPCOMPARE_PROXY__ADMIN_TOKEN": "ours-and-long-too"})
    assert default_secrets_in_use(own, "proxy", "0.0.0.0") == []
    with pytest.raises(ValueError, match="unknown component"):
        default_secrets_in_use(defaults, "proxyy", "0.0.0.0")


# -- token checks: constant-time, and a header of non-UTF-8 bytes is a refusal, not a 500 ----------

async def _raw_get(app, path: str, header: bytes) -> int:
    import asyncio

    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + header + b"\r\nConnection: close\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        return int(status_line.split()[1])
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("header", [b"Authorization: Bearer \xff\xfe", b"Authorization: Bearer caf\xc3\xa9",
                                    b"Authorization: Bearer wrong-token"])
async def test_admin_api_refuses_odd_tokens_with_401(header: bytes) -> None:
    from aiohttp import web

    from shadow_proxy.admin import AdminApi
    from shadow_proxy.audit import RampKeys

    app = web.Application()
    AdminApi({"admin": "an-admin-token-of-ours"}, RampKeys()).mount(app)
    assert await _raw_get(app, "/admin/ramp", header) == 401


@pytest.mark.parametrize("header", [b"X-Tap-Secret: \xff\xfe", b"X-Tap-Secret: caf\xc3\xa9", b"X-Tap-Secret: wrong"])
async def test_tap_secret_check_refuses_odd_secrets(header: bytes) -> None:
    from aiohttp import web

    from new_comments_service.tap import check_tap_headers

    async def handler(request: web.Request) -> web.Response:
        try:
            check_tap_headers(request, "tap", "a-tap-secret-of-ours")
        except Exception as exc:  # noqa: BLE001 - the refusal is an ApiError; anything else fails below
            return web.Response(status=403 if type(exc).__name__ == "ApiError" else 500)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get("/", handler)
    assert await _raw_get(app, "/", header) == 403
