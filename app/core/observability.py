"""Request ids, Prometheus metrics and structured logs.

One pure ASGI middleware, placed outside every other layer (even the one that turns a crash
into a 500), gives each request an id (``X-Request-ID``), counts and times it by its route
*template* and writes one access line. Nothing here records a raw path, a query string, a
body, a header value other than the request id, or an exception's message: those can hold
personal data (ids, emails, notes, tokens).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import sys
import time
import traceback
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import lru_cache
from itertools import accumulate
from time import perf_counter
from types import TracebackType
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import Unauthorized, problem_responses

#: The id of the request being served, for every log line written while serving it.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
#: Any other method is counted as "other", so that clients cannot invent label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

access_logger = logging.getLogger("paindiary.access")


# --- metrics ----------------------------------------------------------------------------


class PoolCollector(Collector):
    """The SQLAlchemy connection pool's state, read when Prometheus scrapes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        pool = self.engine.pool  # read each time: dispose() replaces the pool
        if not isinstance(pool, QueuePool):
            return
        gauges = (
            ("size", "Connections the pool keeps open.", pool.size()),
            ("max_overflow", "Connections allowed beyond the pool size.", pool._max_overflow),
            ("checked_out", "Connections in use by requests.", pool.checkedout()),
            ("checked_in", "Open connections idle in the pool.", pool.checkedin()),
            # SQLAlchemy counts overflow from -size; only connections beyond the size count.
            ("overflow", "Connections open beyond the pool size.", max(pool.overflow(), 0)),
        )
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(f"paindiary_db_pool_{name}", documentation, value=value)


class HttpMetrics(Collector):
    """Requests, durations and requests in flight, in this app's own registry (several apps
    may live in one process, as in the tests), with the pool and process collectors.

    Plain dicts rather than prometheus_client's Counter and Histogram, whose locks and checks
    on every update are not needed: updates (the middleware) and reads (the async
    ``/metrics`` route) all run on the event loop's one thread.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.in_flight = 0
        self.requests: dict[tuple[str, str, int], int] = {}
        #: Per (method, route): a count per bucket (non-cumulative), the +Inf bucket, the sum.
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)
        self.registry.register(PoolCollector(engine))
        ProcessCollector(registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.durations.get((method, route))
        if histogram is None:
            histogram = self.durations[(method, route)] = [0.0] * (len(DURATION_BUCKETS) + 2)
        histogram[bisect_left(DURATION_BUCKETS, seconds)] += 1  # the first bound >= seconds
        histogram[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "paindiary_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in self.requests.items():
            requests.add_metric([method, route, str(status)], count)
        yield requests
        durations = HistogramMetricFamily(
            "paindiary_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response.",
            labels=["method", "route"],
        )
        bounds = [floatToGoString(bound) for bound in DURATION_BUCKETS] + ["+Inf"]
        for (method, route), histogram in self.durations.items():
            cumulative = accumulate(histogram[:-1])
            durations.add_metric(
                [method, route], list(zip(bounds, cumulative, strict=True)), histogram[-1]
            )
        yield durations
        yield GaugeMetricFamily(
            "paindiary_http_requests_in_flight", "Requests being served now.", self.in_flight
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# --- the middleware ---------------------------------------------------------------------


def _incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _VALID_REQUEST_ID.fullmatch(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/patients/{patient_id}/entries``), or
    ``unmatched`` when no route took the request (unknown paths, bodies refused early)."""
    template = getattr(scope.get("route"), "path_format", None)
    if isinstance(template, str):
        return template
    if "app_root_path" in scope:  # a mounted app (the docs' static files)
        return scope["root_path"].removeprefix(scope["app_root_path"]) + "/{path}"
    return UNMATCHED


class RequestTelemetry:
    """Request id, metrics and the access line of every HTTP request; a few microseconds."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # 128 random bits as 32 hex digits: the shape of a uuid4's hex, for less.
        rid = _incoming_request_id(scope["headers"]) or os.urandom(16).hex()
        header = (REQUEST_ID_HEADER, rid.encode("ascii"))
        token = request_id.set(rid)
        status = 500  # if the app fails before answering, the server answers 500
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - started
            self.metrics.in_flight -= 1
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = route_template(scope)
            self.metrics.observe(method, route, status, seconds)
            if access_logger.isEnabledFor(logging.INFO):
                _log_request(method, route, status, seconds)
        # Not in ``finally``: after a crash the id stays set for uvicorn's own error line
        # (each request runs in a task of its own, so it goes no further).
        request_id.reset(token)


def _log_request(method: str, route: str, status: int, seconds: float) -> None:
    """The access line; ``makeRecord`` + ``handle`` is ``info()`` without its stack walk."""
    fields = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
    }
    record = access_logger.makeRecord(
        access_logger.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
    )
    access_logger.handle(record)


def install_observability(app: FastAPI, engine: AsyncEngine) -> None:
    """``GET /metrics`` and the telemetry middleware, wrapped around the whole middleware
    stack: a 500 is sent by Starlette's outermost layer, and it must be counted and carry
    ``X-Request-ID`` like any other response."""
    metrics = HttpMetrics(engine)
    app.state.metrics = metrics
    app.include_router(router)
    build_stack = app.build_middleware_stack

    def build_with_telemetry() -> ASGIApp:
        return RequestTelemetry(build_stack(), metrics)

    app.build_middleware_stack = build_with_telemetry  # type: ignore[method-assign]


# --- GET /metrics -----------------------------------------------------------------------

router = APIRouter(tags=["operations"])


def _authorized(request: Request) -> bool:
    expected: str | None = request.app.state.settings.metrics_token
    if not expected:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    )


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics of this process",
    description=(
        "Prometheus text format (0.0.4): requests by method, route template and status, "
        "request durations, requests in flight, the database pool and the process. "
        "Public unless `PAINDIARY_METRICS_TOKEN` is set; then it needs "
        "`Authorization: Bearer <that token>`. Each worker process has its own numbers."
    ),
    response_class=PlainTextResponse,
    responses={
        **problem_responses(401),
        200: {
            "description": "The metrics, in Prometheus text format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
)
async def metrics(request: Request) -> Response:
    # ``async def`` on purpose: read on the event loop's thread, where the counts change.
    if not _authorized(request):
        raise Unauthorized("Send `Authorization: Bearer <metrics token>`.")
    exposition = request.app.state.metrics.exposition()
    return Response(exposition, media_type=CONTENT_TYPE_PLAIN_0_0_4)


# --- logs -------------------------------------------------------------------------------

#: Attributes every LogRecord has; anything else on a record came as ``extra=`` fields.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def exception_chain(exc_info: ExcInfo) -> list[dict[str, Any]]:
    """The exception and its causes as type and code lines, never their messages (an
    exception's message can quote SQL parameters, request values or secrets)."""
    chain: list[dict[str, Any]] = []
    exc: BaseException | None = exc_info[1]
    while exc is not None and len(chain) < 5:
        frames = traceback.extract_tb(exc.__traceback__)
        chain.append(
            {
                "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                "traceback": [f"{f.filename}:{f.lineno} in {f.name}: {f.line}" for f in frames],
            }
        )
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return chain


@lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-11-25T18:47:29.868Z``."""
    return f"{_utc_second(int(record.created))}.{int(record.created % 1 * 1000):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


#: One encoder for every line (``json.dumps`` with options builds a new one per call).
_json = json.JSONEncoder(default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, request_id, extra fields, and
    for an error the exception chain (types and code lines only)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        line.update(_fields(record))
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = exception_chain(record.exc_info)
        return _json.encode(line)


class TextFormatter(logging.Formatter):
    """The same content for a terminal: ``ts level logger [request_id] event key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        parts = [_timestamp(record), record.levelname, record.name]
        if rid is not None:
            parts.append(f"[{rid}]")
        parts.append(record.getMessage())
        parts.extend(f"{key}={value}" for key, value in _fields(record).items())
        text = " ".join(parts)
        if record.exc_info and record.exc_info[1] is not None:
            for exc in exception_chain(record.exc_info):
                text += f"\n  {exc['type']}" + "".join(f"\n    {t}" for t in exc["traceback"])
        return text


def stderr_handler() -> logging.Handler:
    """The one handler (a ``logging.config`` factory): also routes ``warnings`` through
    the formatter, in every worker process."""
    logging.captureWarnings(True)
    return logging.StreamHandler(sys.stderr)


def logging_config(log_format: str = "json", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: everything to stderr through one formatter.

    Given to uvicorn as its ``log_config`` so that each worker process applies it; uvicorn's
    own access log is switched off (it prints raw paths and query strings).
    """
    formatter: Callable[..., logging.Formatter] = (
        JsonFormatter if log_format == "json" else TextFormatter
    )
    level = level.upper()
    quiet = logging.getLevelName(max(logging.getLevelName(level), logging.WARNING))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {"()": f"{__name__}.stderr_handler", "formatter": "default"},
        },
        "root": {"handlers": ["stderr"], "level": quiet},
        "loggers": {
            "paindiary": {"level": level},
            "alembic": {"level": level},
            "alembic.runtime.plugins": {"level": quiet},  # a line per plugin at each import
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }
