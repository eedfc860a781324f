"""Which paths judge each ramp endpoint, and its name in the results table (pure)."""

from __future__ import annotations

from diff_reports.types import ALL_WRITE_PATHS, READ_ENDPOINTS, WRITE_ENDPOINTS, read_response_path, write_response_path

RAMP_ENDPOINTS: tuple[str, ...] = READ_ENDPOINTS + WRITE_ENDPOINTS  # shadow_proxy.ramp.ENDPOINTS, same order


def check_endpoint(endpoint: str) -> str:
    if endpoint not in RAMP_ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(RAMP_ENDPOINTS)}")
    return endpoint


def endpoint_paths(endpoint: str) -> list[str]:
    """A read: its response; a write: its response and its six store paths."""
    check_endpoint(endpoint)
    if endpoint in READ_ENDPOINTS:
        return [read_response_path(endpoint)]
    return [write_response_path(endpoint)] + [p.name for p in ALL_WRITE_PATHS if p.endpoint == endpoint]


def response_path(endpoint: str) -> str:
    """The one path whose records time the HTTP exchange (store paths carry no latency)."""
    check_endpoint(endpoint)
    return read_response_path(endpoint) if endpoint in READ_ENDPOINTS else write_response_path(endpoint)
