"""The comparison core imports no network or store client (statically and at run time)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import diff_reports

FORBIDDEN = ("aiohttp", "asyncpg", "redis", "pymemcache")
PACKAGE = Path(diff_reports.__file__).parent


def core_modules() -> list[str]:
    """Every module of diff_reports (subpackages included): the results store, UI and exports that
    used to live here are the `results` package now, so all of it is the pure core."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        parts = ["diff_reports", *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out.append(".".join(parts))
    return out


def test_the_core_modules_exist() -> None:
    modules = core_modules()
    for name in ("normalise", "value_diff", "rules", "noise", "redact", "comparator", "types", "paths"):
        assert f"diff_reports.{name}" in modules


def test_no_forbidden_import_statement_anywhere_in_the_core() -> None:
    bad = []
    for module in core_modules():
        rel = module.split(".")[1:]
        path = PACKAGE.joinpath(*rel).with_suffix(".py") if rel else PACKAGE / "__init__.py"
        if not path.exists():
            path = PACKAGE.joinpath(*rel, "__init__.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("import_module", "__import__"):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            bad += [f"{module}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_importing_the_core_loads_no_forbidden_module() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {core_modules()!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, check=True)
    assert json.loads(out.stdout) == []


def test_the_guard_would_catch_a_forbidden_import(tmp_path: Path) -> None:
    # Guard the guard: the same subprocess check sees a store client when one is imported.
    code = f"import json, sys, diff_reports.comparator, redis\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, check=True)
    assert "redis" in json.loads(out.stdout)
