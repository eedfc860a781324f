"""Token access for the reviewer UI: a login form that sets a cookie, `?token=`, or a Bearer header.

The cookie holds an HMAC of the token (never the token itself), is HttpOnly and SameSite=Strict.
State-changing POSTs need a CSRF field derived from the token and, when the browser sends an
Origin header, a same-origin one. Bearer-authenticated requests (scripts) need neither.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from diff_reports.ui.render import esc, layout

COOKIE = "tapcompare_report"
TOKEN_KEY = web.AppKey("report_token", str)
PUBLIC = ("/login",)


def _mac(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def session_value(token: str) -> str:
    return _mac(token, "session")


def csrf_value(token: str) -> str:
    return _mac(token, "csrf")


def login_page(next_url: str = "/", error: str = "") -> str:
    body = (f'<div class="login"><h1>tapcompare reports</h1><p class="meta">Enter the report token '
            f'(<code>[reports] token</code>).</p><form method="post" action="/login">'
            f'<input type="hidden" name="next" value="{esc(next_url)}">'
            f'<input type="password" name="token" placeholder="token" autofocus required>'
            f'<button type="submit">Sign in</button></form></div>')
    return layout("Sign in", body, links=False, error=error)


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/"


def _authenticated(request: web.Request, token: str) -> str | None:
    """How the request proved it holds the token: 'bearer', 'cookie' or 'query'; None if it did not."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip(), token):
        return "bearer"
    cookie = request.cookies.get(COOKIE, "")
    if cookie and hmac.compare_digest(cookie, session_value(token)):
        return "cookie"
    given = request.query.get("token", "")
    if given and hmac.compare_digest(given, token):
        return "query"
    return None


def set_session(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="Strict", secure=secure, path="/")


def redirect(location: str, token: str, secure: bool) -> web.Response:
    response = web.Response(status=303, headers={"Location": location})
    set_session(response, token, secure)
    return response


def same_origin(request: web.Request) -> bool:
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
        return web.Response(text=login_page(request.path_qs), status=401, content_type="text/html")
    if request.method == "POST" and how != "bearer":
        form = await request.post()
        if not same_origin(request) or not hmac.compare_digest(str(form.get("csrf", "")), csrf_value(token)):
            return web.Response(text=layout("Forbidden", "<h1>Forbidden</h1><p>Cross-site request refused.</p>"),
                                status=403, content_type="text/html")
    if how == "query":
        # Trade the token in the URL for a cookie, and drop it from the address bar.
        query = {k: v for k, v in request.query.items() if k != "token"}
        target = request.rel_url.with_query(query)
        return redirect(str(target), token, request.secure)
    return await handler(request)


async def login_get(request: web.Request) -> web.Response:
    return web.Response(text=login_page(_safe_next(request.query.get("next", "/"))), content_type="text/html")


async def login_post(request: web.Request) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    form = await request.post()
    next_url = _safe_next(str(form.get("next", "/")))
    if not hmac.compare_digest(str(form.get("token", "")), token):
        return web.Response(text=login_page(next_url, "Wrong token."), status=401, content_type="text/html")
    return redirect(next_url, token, request.secure)
