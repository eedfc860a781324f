"""The seams of the proxy: what it is handed (comparator, sink, write validator, raised hook).

The comparison core, the results store and the 18-path store validation are other packages'
work; the proxy only knows these shapes, so each can be swapped without touching the proxy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from diff_reports.types import Observation, VerdictRecord


@runtime_checkable
class Comparator(Protocol):
    """`diff_reports.comparator.Comparator`: pure and synchronous (the proxy runs it in a thread)."""

    def compare(self, path: str, legacy: Observation, new: Observation, *,
                entity: str | None = None, request_id: str | None = None) -> VerdictRecord: ...


@runtime_checkable
class VerdictSink(Protocol):
    """Where every verdict goes (in memory here; the results store later)."""

    async def record(self, record: VerdictRecord) -> None: ...


@dataclass(frozen=True)
class ShadowedWrite:
    """One write the legacy accepted and the new service was sent, with the identity carried over."""

    endpoint: str                 # create | update | increment
    request_id: str
    entity: str                   # fullname written: the created comment, the edited/voted one
    link: str                     # the sticky key (the thread's t3_ fullname when known)
    form: dict[str, str]          # the parsed form fields (first value of each)
    auth_user: str | None         # X-Auth-User as sent to both sides
    request_time: str             # the legacy's X-Request-Time, sent as X-Tap-Request-Time
    thing_id: int | None          # the legacy-assigned decimal id (creates only)
    legacy: Observation           # {"status", "body"} of the legacy response
    new: Observation              # the new service's response (or its error)
    response_verdict: VerdictRecord
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class WriteValidator(Protocol):
    """After a shadowed write: compare what each side stored (the 18 paths); return the verdicts."""

    async def validate(self, write: ShadowedWrite) -> list[VerdictRecord]: ...


# Scientist's `raised(operation, error)`: every exception on the shadow side ends here, nowhere else.
RaisedHook = Callable[[str, BaseException], None]



class NoWriteValidation:
    """Default: store validation is a later issue; the response comparison still runs."""

    async def validate(self, write: ShadowedWrite) -> list[VerdictRecord]:
        return []
