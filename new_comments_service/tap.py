"""Tap-mode identity headers: honoured only in tap mode with the right secret, refused otherwise."""

from __future__ import annotations

import hmac

from aiohttp import web

from new_comments_service.backend import WriteIdentity
from new_comments_service.errors import ApiError
from new_comments_service.model import RequestTime

TAP_PREFIX = "x-tap-"
SECRET_HEADER = "X-Tap-Secret"
THING_ID_HEADER = "X-Tap-Thing-Id"
REQUEST_TIME_HEADER = "X-Tap-Request-Time"
REQUEST_ID_HEADER = "X-Request-Id"


def check_tap_headers(request: web.Request, mode: str, secret: str) -> bool:
    """True when the request is a valid tap (identity headers to be honoured); raises TAP_REFUSED
    for any X-Tap-* header outside tap mode or without the right secret."""
    if not any(name.lower().startswith(TAP_PREFIX) for name in request.headers):
        return False
    given = request.headers.get(SECRET_HEADER, "")
    # surrogateescape: a header of non-UTF-8 bytes compares as those bytes (refused, not a 500)
    if mode != "tap" or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                secret.encode("utf-8", "surrogateescape")):
        raise ApiError("TAP_REFUSED")
    return True


def write_identity(request: web.Request, tapped: bool, now: float) -> WriteIdentity:
    request_id = request.headers.get(REQUEST_ID_HEADER, "")
    if not tapped:
        return WriteIdentity(RequestTime.from_clock(now), request_id)
    when = RequestTime.from_clock(now)
    raw_time = request.headers.get(REQUEST_TIME_HEADER)
    if raw_time is not None:
        parsed = RequestTime.parse(raw_time)
        if parsed is None:
            raise ApiError("TAP_REFUSED", REQUEST_TIME_HEADER)
        when = parsed
    thing_id = None
    raw_id = request.headers.get(THING_ID_HEADER)
    if raw_id is not None:
        if not raw_id.isascii() or not raw_id.isdigit() or not 0 < int(raw_id) < 2**63:
            raise ApiError("TAP_REFUSED", THING_ID_HEADER)
        thing_id = int(raw_id)
    return WriteIdentity(when, request_id, thing_id, tapped=True)
