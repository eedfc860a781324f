"""Token access for the reviewer UI: a login form that sets a cookie, `?token=`, or a Bearer header.

The cookie holds an HMAC of the token (never the token itself), is HttpOnly and SameSite=Strict.
State-changing POSTs need a CSRF field derived from the token, a same-origin Origin header when
the browser sends one, and no cross-site Sec-Fetch-Site. Bearer-authenticated requests (scripts)
need none of these. Every token and MAC comparison is constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from results.html.templating import page

COOKIE = "tapcompare_report"
TOKEN_KEY = web.AppKey("report_token", str)
PUBLIC = ("/login",)


def _mac(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def session_value(token: str) -> str:
    return _mac(token, "session")


def csrf_value(token: str) -> str:
    return _mac(token, "csrf")


def _page(template: str, title: str, status: int = 200, **context: Any) -> web.Response:
    html, csp = page(template, title, **context)
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={"Content-Security-Policy": csp + "; frame-ancestors 'none'",
                                 "X-Content-Type-Options": "nosniff"})


def login_page(next_url: str = "/", error: str = "", status: int = 200) -> web.Response:
    return _page("login.html", "Sign in", status, links=False, error=error, next_url=next_url)


def _equal(given: str, expected: str) -> bool:
    """Constant-time comparison (on UTF-8 bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/"


def _authenticated(request: web.Request, token: str) -> str | None:
    """How the request proved it holds the token: 'bearer', 'cookie' or 'query'; None if it did not."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and _equal(auth[7:].strip(), token):
        return "bearer"
    cookie = request.cookies.get(COOKIE, "")
    if cookie and _equal(cookie, session_value(token)):
        return "cookie"
    given = request.query.get("token", "")
    if given and _equal(given, token):
        return "query"
    return None


def set_session(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="Strict", secure=secure, path="/")


def redirect(location: str, token: str, secure: bool) -> web.Response:
    response = web.Response(status=303, headers={"Location": location})
    set_session(response, token, secure)
    return response


def same_origin(request: web.Request) -> bool:
    """No sign of a cross-site request: Origin (when sent) is this host, and Sec-Fetch-Site (when
    sent) is same-origin or none (typed, bookmarked)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    if request.path in PUBLIC:
        return await handler(request)
    how = _authenticated(request, token)
    if how is None:
        if request.path.startswith("/api/"):
            return web.json_response({"error": "a report token is required"}, status=401)
        return login_page(request.path_qs, status=401)
    if request.method == "POST" and how != "bearer":
        form = await request.post()
        if not same_origin(request) or not _equal(str(form.get("csrf", "")), csrf_value(token)):
            return _page("message.html", "Forbidden", 403, heading="Forbidden", text="Cross-site request refused.")
    if how == "query":
        # Trade the token in the URL for a cookie, and drop it from the address bar.
        query = {k: v for k, v in request.query.items() if k != "token"}
        target = request.rel_url.with_query(query)
        return redirect(str(target), token, request.secure)
    return await handler(request)


async def login_get(request: web.Request) -> web.Response:
    return login_page(_safe_next(request.query.get("next", "/")))


async def login_post(request: web.Request) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    form = await request.post()
    next_url = _safe_next(str(form.get("next", "/")))
    if not same_origin(request):  # no login CSRF: a cross-site form cannot sign a browser in
        return _page("message.html", "Forbidden", 403, heading="Forbidden", text="Cross-site request refused.")
    if not _equal(str(form.get("token", "")), token):
        return login_page(next_url, "Wrong token.", status=401)
    return redirect(next_url, token, request.secure)
