"""The one error type of configuration: it always names the key, the bad value and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    value: object
    expected: str

    def __str__(self) -> str:
        return f"{self.key}: got {self.value!r}, expected {self.expected}"


@dataclass
class ConfigError(Exception):
    source: str
    problems: list[ConfigProblem] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"invalid configuration in {self.source}:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)
