"""The real `tapcompare` CLI with one bug planted in the rewrite (tests/validation/refusal_mutants.py):

    python -m tests.support.planted NAME [tapcompare arguments...]

The bug is patched into this process's rewrite modules before the command runs, so `new serve`
serves the bugged rewrite and `replay` replays through it; everything else is the shipped code.
"""

from __future__ import annotations

import sys

import pytest

from tapcompare.cli import main
from tests.validation.refusal_mutants import PLANTED


def run(argv: list[str]) -> None:
    if not argv or argv[0] not in PLANTED:
        raise SystemExit(f"usage: python -m tests.support.planted NAME [tapcompare args]; NAME one of {sorted(PLANTED)}")
    PLANTED[argv[0]].apply(pytest.MonkeyPatch())
    args = argv[1:]
    if args[:1] == ["replay"] and not {"--processes", "--one-process"} & set(args):
        args.append("--one-process")  # the bug is patched into this process: the rewrite must serve from it
    main.main(args=args, prog_name="tapcompare")


if __name__ == "__main__":
    run(sys.argv[1:])
