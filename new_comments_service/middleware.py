"""The API middleware: tap-header check, write identity, SQL statement counting, error bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram

from new_comments_service.errors import ApiError
from new_comments_service.responses import json_response
from new_comments_service.sql import start_counting
from new_comments_service.state import CLOCK, IDENTITY, SETTINGS, TAPPED
from new_comments_service.tap import check_tap_headers, write_identity
from telemetry.logs import get_logger
from telemetry.metrics import counter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WRITE_ROUTES = frozenset({"comment", "editusertext", "vote"})
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)
log = get_logger("new_comments_service")


def api_middleware(registry: CollectorRegistry) -> Callable:
    per_request = Histogram("new_service_sql_statements_per_request", "SQL statements one request issued",
                            labelnames=("endpoint",), buckets=STATEMENT_BUCKETS, registry=registry)
    total = counter(registry, "new_service_sql_statements", "SQL statements issued, by endpoint and store",
                    ("endpoint", "store"))

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = request.match_info.route.name
        if endpoint is None:  # /health, /metrics, unmatched routes
            return await handler(request)
        settings = request.app[SETTINGS].new_service
        count = start_counting()
        identity = None
        try:
            tapped = check_tap_headers(request, settings.mode, settings.tap_secret)
            request[TAPPED] = tapped
            if endpoint in WRITE_ROUTES:
                identity = write_identity(request, tapped, request.app[CLOCK]())
                request[IDENTITY] = identity
            return await handler(request)
        except ApiError as exc:
            headers = {"X-Request-Time": identity.request_time.text} if identity is not None else None
            return json_response(exc.body(), status=exc.status, headers=headers)
        except Exception:
            log.exception("request_failed", endpoint=endpoint)
            return json_response({"json": {"errors": [["INTERNAL", "internal error", None]]}}, status=500)
        finally:
            per_request.labels(endpoint).observe(count.total)
            for store, n in count.by_store.items():
                total.labels(endpoint, store).inc(n)

    return middleware
