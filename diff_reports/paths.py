"""Field paths: formatting (`data.children[0].data.score`), generalising and glob matching.

A path is a tuple of tokens: `str` for a mapping key, `int` for a list index. Formatted, keys
are joined with dots, indices are `[n]`, and a key that is not a plain name is written
`["weird.key"]` (JSON-quoted). The whole value is `$`.

Globs (ignore rules, drops, rounding):
- `[*]` matches any index; `[3]` only index 3;
- `*` matches any run of characters, dots and brackets included (`*.created` is every field
  named `created` at any depth below the root), and a leading `*.` also matches the root level,
  so `*.created` matches `created` too; `?` matches one character;
- a pattern that matches a path also matches everything beneath it (`data.replies` covers
  `data.replies.data.children[0].data.body`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

ROOT = "$"
Token = str | int
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$:@-]+\Z")
_INDEX = re.compile(r"\[\d+\]")
_DECODER = json.JSONDecoder()


def _key_text(key: str) -> str:
    return key if _PLAIN_KEY.match(key) and key != ROOT else "[" + json.dumps(key) + "]"


def format_path(tokens: Iterable[Token | _AnyIndex]) -> str:
    """`("data", "children", 0, "data", "score")` -> `data.children[0].data.score`."""
    parts: list[str] = []
    for token in tokens:
        if token is _ANY:
            parts.append("[*]")
        elif isinstance(token, int) and not isinstance(token, bool):
            parts.append(f"[{token}]")
        else:
            text = _key_text(str(token))
            parts.append(text if not parts or text.startswith("[") else "." + text)
    return "".join(parts) or ROOT


def generalise_tokens(tokens: Sequence[Token]) -> tuple[Token | _AnyIndex, ...]:
    """Every list index becomes the wildcard index (formatted `[*]`)."""
    return tuple(_ANY if isinstance(t, int) and not isinstance(t, bool) else t for t in tokens)


class _AnyIndex:
    """Marker token for `[*]` in generalised token tuples."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "[*]"


_ANY = _AnyIndex()


def format_pattern(tokens: Sequence[Token | _AnyIndex]) -> str:
    """Format generalised tokens: wildcard indices become `[*]`."""
    return format_path(tokens)


def generalise(path: str) -> str:
    """`data.children[3].data.score` -> `data.children[*].data.score`."""
    return _INDEX.sub("[*]", path)


def ancestor_patterns(tokens: Sequence[Token]) -> list[str]:
    """The generalised path of `tokens` and of every ancestor, deepest first (root excluded)."""
    general = generalise_tokens(tokens)
    return [format_pattern(general[:n]) for n in range(len(general), 0, -1)]


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a field-path glob (see the module docstring) into an anchored regex."""
    if not pattern or pattern.strip() != pattern:
        raise ValueError(f"not a field-path pattern: {pattern!r} (empty or padded with spaces)")
    out: list[str] = []
    i = 0
    if pattern.startswith("*."):
        out.append(r"(?:.*[.\]])?")  # any parent, or none (the root level); `]` allows `[0].x`
        i = 2
    while i < len(pattern):
        if pattern.startswith('["', i):  # a quoted key: literal, wildcards included
            try:
                _, end = _DECODER.raw_decode(pattern, i + 1)
            except ValueError:
                raise ValueError(f"not a field-path pattern: {pattern!r} (unterminated quoted key)") from None
            if not pattern.startswith("]", end):
                raise ValueError(f"not a field-path pattern: {pattern!r} (expected ] after the quoted key)")
            out.append(re.escape(pattern[i:end + 1]))
            i = end + 1
        elif pattern.startswith("[*]", i):
            out.append(r"\[\d+\]")
            i += 3
        elif pattern[i] == "*":
            out.append(".*")
            i += 1
        elif pattern[i] == "?":
            out.append(".")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile(r"(?:" + "".join(out) + r")(?:[.\[].*)?\Z", re.S)


def glob_matches(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def check_glob(pattern: str) -> str:
    """Validate a pattern, returning it; raise ValueError naming the problem."""
    compile_glob(pattern)
    return pattern
