"""Typed settings: every error names the key, the bad value and what was expected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tapcompare.toml"
    path.write_text(text)
    return path


def test_defaults_load_without_a_file() -> None:
    settings = load_settings(None, environ={})
    assert settings.stores.production.local and settings.stores.sister.local
    assert settings.new_service.mode == "tap"


def test_file_and_env_override(tmp_path: Path) -> None:
    path = _write(tmp_path, "[proxy]\nport = 9100\n[new_service]\nmode = 'primary'\n")
    settings = load_settings(path, environ={"TAPCOMPARE_PROXY__PORT": "9200", "TAPCOMPARE_REPORTS__REDACT_BODIES": "false"})
    assert settings.proxy.port == 9200
    assert settings.new_service.mode == "primary"
    assert settings.reports.redact_bodies is False


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        ("[proxy]\nport = 'eighty'\n", "proxy.port", "'eighty'"),
        ("[proxy]\nport = 70000\n", "proxy.port", "70000"),
        ("[proxy]\nprot = 80\n", "proxy.prot", "unknown setting"),
        ("[new_service]\nmode = 'shadow'\n", "new_service.mode", "'tap' or 'primary'"),
        ("[stores.sister]\nlocal = false\npostgres = 'postgresql://h/db'\nmemcached = 'h:1'\n", "stores.sister.redis", "an address"),
        ("[proxy\nport = 1\n", "(syntax)", "valid TOML"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), environ={})
    message = str(info.value)
    assert key in message and fragment in message, message
    assert str(tmp_path) in message  # the source is named


def test_bad_env_value_names_the_variable_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"TAPCOMPARE_PROXY__QUEUE_SIZE": "-3"})
    assert "proxy.queue_size" in str(info.value) and "-3" in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", environ={})
    assert "nope.toml" in str(info.value) and "existing TOML file" in str(info.value)


def test_check_config_command(tmp_path: Path) -> None:
    good = _write(tmp_path, "[proxy]\nport = 9100\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPCOMPARE_")}
    ok = subprocess.run([sys.executable, "-m", "tapcompare", "check-config", str(good)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[reports]\nretention_days = 0\n")
    out = subprocess.run([sys.executable, "-m", "tapcompare", "check-config", str(bad)], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "reports.retention_days" in out.stderr and "greater than or equal to 1" in out.stderr


def test_tool_variables_under_the_prefix_are_not_settings() -> None:
    # The demo's own hint says to set TAPCOMPARE_THREADS_DIR; Settings once refused it as unknown.
    environ = {"TAPCOMPARE_THREADS_DIR": "/somewhere/threads", "TAPCOMPARE_PROXY__PORT": "9300"}
    assert load_settings(None, environ=environ).proxy.port == 9300
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"TAPCOMPARE_THREADS_DIRS": "/x"})
    assert "threads_dirs" in str(info.value) and "unknown setting" in str(info.value)


def test_demo_without_the_threads_names_the_directory_and_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPCOMPARE_")}
    env["TAPCOMPARE_THREADS_DIR"] = str(tmp_path / "absent")
    out = subprocess.run([sys.executable, "-m", "tapcompare", "demo", "--no-serve"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"bundled threads not found at {tmp_path / 'absent'}" in out.stderr
    assert "TAPCOMPARE_THREADS_DIR" in out.stderr and "unknown setting" not in out.stderr
