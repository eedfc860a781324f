"""GoReplay capture files (`.gor`) -> HttpRequests.

Format (GoReplay's file output): payloads separated by the line `🐵🙈🙉` (the payload separator is
"\\n🐵🙈🙉\\n"). Each payload starts with a meta line `<type> <id> <timestamp-ns> [<latency>]`
(type 1 request, 2 original response, 3 replayed response), then the raw HTTP/1.1 message. Requests
are imported in file order; an original response (same id, anywhere in the file) gives the status
and, for creates, the id the legacy assigned. Replayed responses are ignored.

A record whose meta line or HTTP message cannot be parsed is malformed: by default the import
fails naming the record (1-based) and the reason; `strict=False` skips it, counts it
(`malformed`) and keeps the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from multidict import CIMultiDict

from datasets.scrub import Scrubber
from datasets.imports.common import HttpRequest, ImportFormatError, ImportResult, convert

SEPARATOR = "🐵🙈🙉".encode()
_META_RE = re.compile(rb"([123]) ([0-9A-Za-z]+) (\d+)(?: (-?\d+))?")
_REQUEST_LINE_RE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
_STATUS_LINE_RE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: .*)?")


class MessageError(ValueError):
    pass


@dataclass(frozen=True)
class GorRecord:
    index: int          # 1-based position in the file
    type: int           # 1 request, 2 original response, 3 replayed response
    id: str
    timestamp_ns: int
    message: bytes      # the raw HTTP message


def split_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based index, payload) of every non-empty payload."""
    index = 0
    for line_block in re.split(rb"(?:^|\n)" + re.escape(SEPARATOR) + rb"(?:\r?\n|$)", data):
        if not line_block.strip():
            continue
        index += 1
        yield index, line_block


def parse_record(source: str, index: int, payload: bytes) -> GorRecord:
    meta, nl, message = payload.lstrip(b"\r\n").partition(b"\n")
    m = _META_RE.fullmatch(meta.rstrip(b"\r"))
    if not m:
        shown = meta[:60].decode("utf-8", "replace")
        raise ImportFormatError(source, index, f"bad meta line {shown!r} (expected '<type 1|2|3> <id> <timestamp-ns> [<latency>]')")
    if not nl:
        raise ImportFormatError(source, index, "no HTTP message after the meta line")
    return GorRecord(index, int(m.group(1)), m.group(2).decode(), int(m.group(3)), message)


def _head(message: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(start line, header lines, body); CRLF as HTTP says, bare LF tolerated."""
    m = re.search(rb"\r?\n\r?\n", message)
    if m is None:
        head, body = message, b""
    else:
        head, body = message[:m.start()], message[m.end():]
    lines = re.split(rb"\r?\n", head)
    return lines[0], lines[1:], body


def _headers(lines: list[bytes]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name.strip() or name != name.strip():
            raise MessageError(f"malformed header line {line[:60].decode('latin-1')!r}")
        headers.add(name.decode("latin-1"), value.strip().decode("latin-1"))
    return headers


def _dechunk(body: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = body.find(b"\n", pos)
        if end < 0:
            raise MessageError("truncated chunked body")
        size_text = body[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise MessageError(f"bad chunk size {size_text[:20]!r}") from None
        pos = end + 1
        if size == 0:
            return bytes(out)
        if pos + size > len(body):
            raise MessageError("truncated chunked body")
        out += body[pos:pos + size]
        pos += size
        pos += 2 if body[pos:pos + 2] == b"\r\n" else 1 if body[pos:pos + 1] == b"\n" else 0


def _body(headers: CIMultiDict[str], body: bytes) -> bytes:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return _dechunk(body)
    length = headers.get("Content-Length")
    if length is None:
        return body
    if not length.strip().isdigit():
        raise MessageError(f"bad Content-Length {length!r}")
    n = int(length)
    if len(body) < n:
        raise MessageError(f"body has {len(body)} bytes, Content-Length says {n}")
    return body[:n]


def parse_request_message(message: bytes) -> tuple[str, str, CIMultiDict[str], bytes]:
    start, lines, rest = _head(message)
    m = _REQUEST_LINE_RE.fullmatch(start)
    if not m:
        raise MessageError(f"bad request line {start[:80].decode('latin-1')!r} (expected 'METHOD target HTTP/1.1')")
    headers = _headers(lines)
    return m.group(1).decode(), m.group(2).decode("latin-1"), headers, _body(headers, rest)


def parse_response_message(message: bytes) -> tuple[int, CIMultiDict[str], bytes]:
    start, lines, rest = _head(message)
    m = _STATUS_LINE_RE.fullmatch(start)
    if not m:
        raise MessageError(f"bad status line {start[:80].decode('latin-1')!r} (expected 'HTTP/1.1 <status> <reason>')")
    headers = _headers(lines)
    return int(m.group(1)), headers, _body(headers, rest)


def read_goreplay(path: str | Path, scrubber: Scrubber, *, strict: bool = True) -> ImportResult:
    """Every request of a .gor file as dataset request records (PII scrubbed), skips counted."""
    source = str(path)
    result = ImportResult()
    requests: list[tuple[GorRecord, tuple[str, str, CIMultiDict[str], bytes]]] = []
    responses: dict[str, tuple[int, CIMultiDict[str], bytes]] = {}

    def malformed(index: int, reason: str) -> None:
        error = ImportFormatError(source, index, reason)
        if strict:
            raise error
        result.skipped["malformed"] += 1
        result.malformed.append(str(error))

    for index, payload in split_records(Path(path).read_bytes()):
        try:
            record = parse_record(source, index, payload)
        except ImportFormatError as exc:
            malformed(index, exc.reason)
            continue
        try:
            if record.type == 1:
                requests.append((record, parse_request_message(record.message)))
            elif record.type == 2:
                responses.setdefault(record.id, parse_response_message(record.message))
        except MessageError as exc:
            malformed(index, f"{'request' if record.type == 1 else 'response'} {record.id}: {exc}")

    def http_requests() -> Iterator[HttpRequest]:
        for record, (method, target, headers, body) in requests:
            status, resp_headers, resp_body = responses.get(record.id, (None, CIMultiDict(), None))
            yield HttpRequest(method, target, headers, body, status, resp_headers, resp_body)

    return convert(http_requests(), scrubber, result)
