"""HAR 1.2 files (JSON: `log.entries[]`) -> HttpRequests.

Per entry: `request.method`, `request.url` (absolute; path and query are taken from it),
`request.headers[]` ({name, value}), `request.postData` (`text` as sent, else `params[]` form-encoded
in order, with `mimeType` as the Content-Type when no header says it). `response.status` (0 means
no response was received) and `response.content.text` (base64 when `encoding` says so) give the
id the legacy assigned to a create. Entries are imported in file order.

A file that is not HAR (not JSON, no `log.entries` list) fails. An entry that breaks the spec (not
an object, no request, no method or url, headers not a list of name/value) fails naming the entry
(0-based, as in `log.entries[i]`) and the reason by default; `strict=False` skips and counts it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from multidict import CIMultiDict

from datasets.scrub import Scrubber
from datasets.imports.common import HttpRequest, ImportFormatError, ImportResult, convert


class EntryError(ValueError):
    pass


def _pairs(value: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise EntryError(f"{where} must be a list of {{name, value}} objects")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("value", ""), str):
            raise EntryError(f"{where}[{i}] must be an object with string name and value")
        out.append((item["name"], item.get("value", "")))
    return out


def _headers(value: Any, where: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, val in _pairs(value if value is not None else [], where):
        if not name.startswith(":"):  # HTTP/2 pseudo-headers (:method, :path...) are not headers
            headers.add(name, val)
    return headers


def _request_body(request: dict[str, Any], headers: CIMultiDict[str]) -> bytes:
    post = request.get("postData")
    if post is None:
        return b""
    if not isinstance(post, dict):
        raise EntryError("request.postData must be an object")
    mime = post.get("mimeType")
    if mime and "Content-Type" not in headers:
        headers["Content-Type"] = str(mime)
    if isinstance(post.get("text"), str) and post["text"]:
        return post["text"].encode("utf-8")
    if "params" in post:
        return urlencode(_pairs(post["params"], "request.postData.params")).encode("ascii")
    return b""


def _response(entry: dict[str, Any]) -> tuple[int | None, CIMultiDict[str], bytes | None]:
    response = entry.get("response")
    if response is None:
        return None, CIMultiDict(), None
    if not isinstance(response, dict) or not isinstance(response.get("status"), int):
        raise EntryError("response.status must be an integer")
    if response["status"] == 0:  # HAR: no response received
        return None, CIMultiDict(), None
    headers = _headers(response.get("headers"), "response.headers")
    headers.popall("Content-Encoding", None)  # HAR content.text is already decoded
    content = response.get("content") or {}
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return response["status"], headers, None
    if content.get("encoding") == "base64":
        try:
            return response["status"], headers, base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise EntryError("response.content.text is not valid base64") from None
    return response["status"], headers, text.encode("utf-8", "surrogatepass")


def parse_entry(entry: Any) -> HttpRequest:
    if not isinstance(entry, dict):
        raise EntryError(f"expected an object, got {type(entry).__name__}")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise EntryError("no request object")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not method:
        raise EntryError("request.method missing")
    if not isinstance(url, str) or not url:
        raise EntryError("request.url missing")
    headers = _headers(request.get("headers"), "request.headers")
    body = _request_body(request, headers)
    status, resp_headers, resp_body = _response(entry)
    return HttpRequest(method.upper(), url, headers, body, status, resp_headers, resp_body)


def read_har(path: str | Path, scrubber: Scrubber, *, strict: bool = True) -> ImportResult:
    """Every request of a HAR file as dataset request records (PII scrubbed), skips counted."""
    source = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFormatError(source, 0, f"not a HAR file: invalid JSON ({exc})", what="file") from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        raise ImportFormatError(source, 0, "not a HAR file: expected an object with a log.entries list", what="file")
    result = ImportResult()

    def requests() -> Iterator[HttpRequest]:
        for i, entry in enumerate(entries):
            try:
                yield parse_entry(entry)
            except EntryError as exc:
                error = ImportFormatError(source, i, str(exc), what="entry")
                if strict:
                    raise error from None
                result.skipped["malformed"] += 1
                result.malformed.append(str(error))

    return convert(requests(), scrubber, result)
