"""Load Settings from a TOML file and TAPCOMPARE_* environment overrides.

Environment keys use double underscores between levels: TAPCOMPARE_PROXY__PORT=9000,
TAPCOMPARE_STORES__SISTER__LOCAL=false. Values are parsed as TOML scalars when they parse,
so numbers and booleans keep their type; anything else is taken as a string.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config.errors import ConfigError, ConfigProblem
from config.settings import Settings

ENV_PREFIX = "TAPCOMPARE_"
# TAPCOMPARE_* variables that tools read themselves and that are not settings: where the config file
# is, where the bundled threads are, and two test switches. Everything else under the prefix is one.
NOT_SETTINGS = frozenset({"CONFIG", "THREADS_DIR", "UPDATE_GOLDEN", "PLANTED_ONLY"})


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name[len(ENV_PREFIX):] in NOT_SETTINGS:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__") if part]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment {name}", [ConfigProblem(name, raw, "a leaf key")])
        node[path[-1]] = _parse_env_value(raw)
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe_error(err: ErrorDetails) -> ConfigProblem:
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    kind = err["type"]
    if kind == "extra_forbidden":
        expected = "no such key (unknown setting; check the spelling against README's configuration table)"
    elif kind == "missing":
        expected = "a value (this key is required)"
    elif kind == "value_error":
        expected = err["msg"].removeprefix("Value error, ")
    else:
        expected = err["msg"][0].lower() + err["msg"][1:]
    return ConfigProblem(key, err.get("input"), expected)


def settings_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> Settings:
    """Validate an already-parsed mapping; raise ConfigError listing every bad key."""
    try:
        settings = Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(source, [_describe_error(e) for e in exc.errors()]) from None
    _check_store_sets(settings, source)
    _check_compare_rules(settings, source)
    return settings


def _check_compare_rules(settings: Settings, source: str) -> None:
    first: dict[str, int] = {}
    problems = []
    for i, rule in enumerate(settings.compare.rules):
        if rule.name in first:
            problems.append(ConfigProblem(
                f"compare.rules.{i}.name", rule.name,
                f"a name not used by another rule (compare.rules.{first[rule.name]}.name has it)",
            ))
        first.setdefault(rule.name, i)
    if problems:
        raise ConfigError(source, problems)


def _check_store_sets(settings: Settings, source: str) -> None:
    problems = []
    for name in ("production", "sister"):
        store_set = getattr(settings.stores, name)
        if store_set.local:
            continue
        for field in ("postgres", "memcached", "redis"):
            if not getattr(store_set, field):
                problems.append(ConfigProblem(
                    f"stores.{name}.{field}", None,
                    "an address, because stores." + name + ".local is false",
                ))
    if problems:
        raise ConfigError(source, problems)


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (or $TAPCOMPARE_CONFIG, or defaults alone), apply env overrides, validate."""
    environ = os.environ if environ is None else environ
    path = path or environ.get(ENV_PREFIX + "CONFIG")
    data: dict[str, Any] = {}
    source = "defaults"
    if path:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(source, [ConfigProblem("(file)", str(path), "an existing TOML file")]) from None
        except UnicodeDecodeError:
            raise ConfigError(source, [ConfigProblem("(file)", str(path), "UTF-8 text")]) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [ConfigProblem("(syntax)", str(exc), "valid TOML")]) from None
    overrides = _env_overrides(environ)
    if overrides:
        data = _merge(data, overrides)
        source += " + TAPCOMPARE_* environment"
    return settings_from_mapping(data, source)
