"""A comparison job (traffic.shadowed.ComparisonJob) as bytes on the jobs stream.

`encode`/`decode` turn it into orjson bytes and back; a body orjson refuses (lone surrogates from
the legacy, integers beyond 64 bits) falls back to the stdlib json, which round-trips both.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import orjson

from diff_reports.types import Observation, VerdictRecord
from traffic.shadowed import CapturedRequest, ComparisonJob

VERSION = 1


def job_id_for(request_id: str, endpoint: str, request: CapturedRequest, legacy: Observation) -> str:
    """`<request id>:<endpoint>:<digest>`. Stable for one exchange (a re-publish or a redelivery
    dedupes); the digest keeps two different requests that reuse a client's X-Request-Id apart."""
    h = hashlib.blake2b(digest_size=6)
    h.update(request.method.encode() + b" " + request.raw_path.encode("utf-8", "surrogatepass") + b"\n")
    h.update(request.body or b"")
    h.update(_dumps({"status": (legacy.value or {}).get("status") if isinstance(legacy.value, dict) else None}))
    return f"{request_id}:{endpoint}:{h.hexdigest()}"


def _dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # lone surrogates, ints beyond 64 bits: stdlib json escapes both
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode()


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode())


def _obs(o: Observation | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"side": o.side, "value": o.value, "error": o.error, "duration_s": o.duration_s}


def _obs_back(d: dict[str, Any] | None) -> Observation | None:
    return None if d is None else Observation(d["side"], d.get("value"), d.get("error"), d.get("duration_s", 0.0))


def to_dict(job: ComparisonJob) -> dict[str, Any]:
    r = job.request
    return {
        "v": VERSION, "job_id": job.job_id, "kind": job.kind, "endpoint": job.endpoint,
        "request_id": job.request_id, "path": job.path, "entity": job.entity, "link": job.link,
        "request": {"method": r.method, "raw_path": r.raw_path, "headers": [list(h) for h in r.headers],
                    "body": None if r.body is None else base64.b64encode(r.body).decode()},
        "legacy": _obs(job.legacy), "new": _obs(job.new), "request_time": job.request_time,
        "auth_user": job.auth_user,
        "records": [rec.to_dict() for rec in job.records], "legacy_status": job.legacy_status,
        "published_at": job.published_at, "legacy_at": job.legacy_at,
    }


def from_dict(d: dict[str, Any]) -> ComparisonJob:
    if d.get("v") != VERSION:
        raise ValueError(f"comparison job version {d.get('v')!r} is not {VERSION}")
    r = d["request"]
    legacy = _obs_back(d["legacy"])
    assert legacy is not None
    return ComparisonJob(
        job_id=d["job_id"], kind=d["kind"], endpoint=d["endpoint"], request_id=d["request_id"], path=d["path"],
        entity=d["entity"], link=d["link"],
        request=CapturedRequest(r["method"], r["raw_path"], tuple((k, v) for k, v in r["headers"]),
                                None if r["body"] is None else base64.b64decode(r["body"])),
        legacy=legacy, new=_obs_back(d.get("new")), request_time=d.get("request_time"),
        auth_user=d.get("auth_user"),
        records=tuple(VerdictRecord.from_dict(x) for x in d.get("records") or ()),
        legacy_status=int(d.get("legacy_status") or 0), published_at=float(d.get("published_at") or 0.0),
        legacy_at=float(d.get("legacy_at") or 0.0),
    )


def encode(job: ComparisonJob) -> bytes:
    return _dumps(to_dict(job))


def decode(raw: bytes) -> ComparisonJob:
    return from_dict(_loads(raw))
