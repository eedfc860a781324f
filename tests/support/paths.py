"""Where the shared, production-derived data lives relative to a clone (../shared beside it)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def reddit_threads_dir() -> Path:
    """../shared/datasets/reddit/threads, or $TAPCOMPARE_THREADS_DIR."""
    env = os.environ.get("TAPCOMPARE_THREADS_DIR")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "datasets" / "reddit" / "threads"
    if not path.is_dir():
        raise FileNotFoundError(f"real threads not found at {path}; set TAPCOMPARE_THREADS_DIR")
    return path
