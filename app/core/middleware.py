"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path)."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import BASELINE_HEADERS, InvalidInput, invalid_response, problem_response

_BASELINE = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in BASELINE_HEADERS.items()
]
_ACCEPT_ENCODING = b"Accept-Encoding"


class ResponseHeaders:
    """``Cache-Control: no-store`` unless a route chose otherwise (patient data must not be
    cached by proxies or browsers), a few security headers, and ``Vary: Accept-Encoding``
    (a body may come gzipped; see :class:`Compression`), on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_baseline_headers(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_baseline_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``raw`` (an ASGI header list) with each baseline header it lacks, and with
    ``Accept-Encoding`` in its ``Vary``; one pass over raw bytes (``MutableHeaders`` takes a
    case-folded scan per header)."""
    headers = list(raw)
    present = set()
    vary = None
    for i, (raw_name, _) in enumerate(headers):
        name = raw_name.lower()
        present.add(name)
        if name == b"vary" and vary is None:
            vary = i
    headers.extend(header for header in _BASELINE if header[0] not in present)
    if vary is None:
        headers.append((b"vary", _ACCEPT_ENCODING))
    else:
        name, value = headers[vary]
        folded = value.lower()
        if b"accept-encoding" not in folded and b"*" not in folded:
            headers[vary] = (name, value + b", " + _ACCEPT_ENCODING)
    return headers


class Compression(GZipMiddleware):
    """Starlette's gzip for a client that accepts it; any other request goes straight through.

    Starlette sends the others through a responder that inspects each response only to add
    ``Vary: Accept-Encoding`` to the large ones: :class:`ResponseHeaders` adds it to every
    response instead.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _accepts_gzip(scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _accepts_gzip(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Starlette's test: ``gzip`` in the first ``Accept-Encoding`` header."""
    for name, value in headers:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException, so that body parsing passes it on to our handler.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, self._detail(), slug="payload-too-large")
        await response(scope, receive, send)

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."


NUL_MESSAGE = "must not contain the NUL character (U+0000)"
# A JSON \u0000 escape, not an escaped backslash followed by the text "u0000".
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class NoNulCharacters:
    """Refuse U+0000 in query strings and request bodies with 422.

    PostgreSQL text cannot hold NUL (SQLite can): refusing it here, before any route or
    query, answers the same on both databases and for every field, the ones stored and the
    ones only looked up (a sign-in email). A raw NUL byte is never part of UTF-8 JSON or of
    a form, so it is refused too: this also refuses UTF-16 and UTF-32 JSON (RFC 8259: UTF-8).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await invalid_response(_form_nul_errors(query, "query"))(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        chunks: list[bytes] = []

        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    errors = _nul_errors(b"".join(chunks), content_type)
                    chunks.clear()
                    if errors:
                        # An HTTPException, so that body parsing passes it on to our handler.
                        raise InvalidInput(errors)
            return message

        await self.app(scope, checked_receive, send)


def _nul_errors(body: bytes, content_type: str) -> list[dict[str, Any]]:
    if b"\x00" in body:
        return [{"loc": ["body"], "msg": "must be UTF-8 text without NUL bytes"}]
    if content_type == "application/x-www-form-urlencoded" and b"%00" in body:
        return _form_nul_errors(body, "body")
    is_json = (
        not content_type
        or content_type == "application/json"
        or (content_type.startswith("application/") and content_type.endswith("+json"))
    )
    if is_json and b"\\u0000" in body and _JSON_NUL.search(body):
        return [
            {"loc": [str(p) for p in loc], "msg": NUL_MESSAGE} for loc in _json_nul_locations(body)
        ]
    return []


def _form_nul_errors(encoded: bytes, where: str) -> list[dict[str, Any]]:
    """One error per URL-encoded field whose name or value holds NUL (``where`` is
    ``query`` or ``body``); the whole of it when no field does (a NUL outside any)."""
    fields = parse_qsl(encoded.decode("latin-1"), keep_blank_values=True)
    names = [k for k, v in fields if "\x00" in k + v]
    return [{"loc": [where, name], "msg": NUL_MESSAGE} for name in names] or [
        {"loc": [where], "msg": NUL_MESSAGE}
    ]


def _json_nul_locations(body: bytes) -> list[list[str | int]]:
    """Where the document holds NUL: the path of each such value, or of the object whose
    field name holds it; just ``body`` when the document does not parse."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return [["body"]]
    found: list[list[str | int]] = []
    pending: deque[tuple[list[str | int], Any]] = deque([(["body"], document)])
    while pending:  # breadth first, without recursion: the document may be deeply nested
        loc, value = pending.popleft()
        if isinstance(value, str) and "\x00" in value:
            found.append(loc)
        elif isinstance(value, dict):
            if any("\x00" in key for key in value):
                found.append(loc)
            pending.extend(([*loc, k], v) for k, v in value.items() if "\x00" not in k)
        elif isinstance(value, list):
            pending.extend(([*loc, i], v) for i, v in enumerate(value))
    return found or [["body"]]


#: CORS (used only when ``cors_origins`` is set): what a browser front end may send and read.
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
)
CORS_EXPOSED_HEADERS = ("ETag", "Location", "Retry-After", "X-Request-ID")


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem like every error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }
        return problem_response(
            400, f"This cross-origin request is not allowed (its {refused}).", headers=headers
        )
