"""The shadowed request: one type from the proxy's handler to the stored verdict.

The proxy builds it once the rewrite has answered (`shadow_proxy.shadower`); the judge compares
its two responses and, for a write, hands the same object to the write validation; a stream-mode
proxy publishes it as bytes (`judge.codec`) for a worker to judge. Frozen: no stage adds to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from diff_reports.types import Observation, VerdictRecord

JobKind = Literal["read", "write", "record"]
# An Observation whose error starts with this was over proxy.max_shadow_response_bytes: the judge
# records it as `skipped` (too_large), never compared cut.
TOO_LARGE_ERROR = "ResponseTooLarge"


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    raw_path: str
    headers: tuple[tuple[str, str], ...]   # end-to-end headers as sent to the legacy
    body: bytes | None


@dataclass(frozen=True)
class ComparisonJob:
    """Everything needed to judge one shadowed request, as plain data."""

    job_id: str                             # stable per exchange: a redelivery is stored once
    kind: JobKind                           # read | write | record (verdicts the proxy decided: skips)
    endpoint: str
    request_id: str
    path: str                               # the response path (read.<e>.response | <e>.response)
    entity: str                             # the fullname read or written (a create: the new comment)
    link: str                               # the sticky key (the thread's t3_ fullname when known)
    request: CapturedRequest
    legacy: Observation                     # {"status", "body"} of the legacy's answer
    new: Observation | None = None          # the rewrite's answer or its error (records: none)
    request_time: str | None = None         # writes: the legacy's X-Request-Time
    auth_user: str | None = None            # X-Auth-User as sent to both sides
    records: tuple[VerdictRecord, ...] = ()  # kind "record": the verdicts themselves
    legacy_status: int = 0
    legacy_at: float = 0.0                  # wall time the legacy's answer reached the proxy
    published_at: float = 0.0              # stream mode: when the proxy published it (0: inline)


@dataclass(frozen=True)
class RecheckReads:
    """One round of a read-mismatch recheck (judge.recheck): both sides read again."""

    legacy: Observation                 # the legacy read again, after the rewrite's re-read
    new: Observation | None = None      # the rewrite read again (None: not configured)
    at: float = field(default_factory=time.monotonic)  # when the round's reads were done
