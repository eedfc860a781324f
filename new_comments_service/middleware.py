"""The API middleware: tap-header check, write identity, SQL statement counting, error bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram

from new_comments_service.errors import ApiError
from new_comments_service.model import RequestTime
from new_comments_service.params import query_params, wants_raw_json
from new_comments_service.paths import ALLOWED_METHODS, WRITE_ENDPOINTS, api_path
from new_comments_service.responses import json_response
from new_comments_service.sql import start_counting
from new_comments_service.state import API_PATH, CLOCK, IDENTITY, RAW_JSON, READ_TIME, SETTINGS, TAPPED
from new_comments_service.tap import REQUEST_TIME_HEADER, check_tap_headers, write_identity
from telemetry.logs import get_logger
from telemetry.metrics import counter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)
log = get_logger("new_comments_service")


def api_middleware(registry: CollectorRegistry) -> Callable:
    per_request = Histogram("new_service_sql_statements_per_request", "SQL statements one request issued",
                            labelnames=("endpoint",), buckets=STATEMENT_BUCKETS, registry=registry)
    total = counter(registry, "new_service_sql_statements", "SQL statements issued, by endpoint and store",
                    ("endpoint", "store"))

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route_name = request.match_info.route.name
        if route_name is None or not route_name.startswith("api-"):  # /health, /metrics
            return await handler(request)
        resolved = api_path(request.path)
        if resolved is None:
            raise web.HTTPNotFound()
        if request.method not in ALLOWED_METHODS[resolved.endpoint]:
            raise web.HTTPMethodNotAllowed(request.method, ALLOWED_METHODS[resolved.endpoint])
        endpoint = resolved.endpoint
        request[API_PATH] = resolved
        try:
            request[RAW_JSON] = wants_raw_json(query_params(request))
        except ApiError:
            request[RAW_JSON] = False
        settings = request.app[SETTINGS].new_service
        count = start_counting()
        identity = None
        when: RequestTime | None = None  # the request's time, sent back as X-Request-Time like the legacy does
        try:
            tapped = check_tap_headers(request, settings.mode, settings.tap_secret)
            request[TAPPED] = tapped
            if endpoint in WRITE_ENDPOINTS:
                identity = write_identity(request, tapped, request.app[CLOCK]())
                request[IDENTITY] = identity
                when = identity.request_time
            else:
                when = _read_time(request, tapped)
                request[READ_TIME] = when.seconds
            response = await handler(request)
            if "X-Request-Time" not in response.headers:
                response.headers["X-Request-Time"] = when.text
            return response
        except ApiError as exc:
            headers = {"X-Request-Time": when.text} if when is not None else None
            return json_response(exc.body(), status=exc.status, headers=headers, raw_json=request[RAW_JSON])
        except Exception:
            log.exception("request_failed", endpoint=endpoint)
            return json_response({"json": {"errors": [["INTERNAL", "internal error", None]]}}, status=500,
                                 raw_json=request[RAW_JSON])
        finally:
            per_request.labels(endpoint).observe(count.total)
            for store, n in count.by_store.items():
                total.labels(endpoint, store).inc(n)

    return middleware


def _read_time(request: web.Request, tapped: bool) -> RequestTime:
    """A tap may carry the legacy's time of the read; otherwise our clock's."""
    raw = request.headers.get(REQUEST_TIME_HEADER) if tapped else None
    parsed = RequestTime.parse(raw) if raw is not None else None
    return parsed if parsed is not None else RequestTime.from_clock(request.app[CLOCK]())
