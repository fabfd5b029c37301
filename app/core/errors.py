"""Typed errors and the one place that turns every error into RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("paindiary.errors")

PROBLEM_JSON = "application/problem+json"

#: Sent on every response (the middleware adds them; a 500 is sent outside it, so the
#: handler adds them itself).
BASELINE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
TYPE_BASE = "https://paindiary.example/problems/"


class ProblemError(BaseModel):
    loc: list[str] = Field(
        description="Where the fault is: the part of the request (`body`, `query`, `path`, "
        "`header`), then field names and list indices, each as a string "
        '(e.g. `["body", "items", "3", "pain"]`).'
    )
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    # Titled: swift5 names a property's inline schema by its title, and `Type` is reserved.
    type: str = Field(title="Problem type", description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


class AppError(Exception):
    """Base of the domain errors; each subclass maps to one HTTP status."""

    status = 500
    slug = "internal-error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class BadRequest(AppError):
    status, slug = 400, "bad-request"


class Unauthorized(AppError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str = "Missing or invalid credentials.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, slug = 403, "forbidden"


class NotFound(AppError):
    status, slug = 404, "not-found"


class Conflict(AppError):
    status, slug = 409, "conflict"


class NotAcceptable(AppError):
    status, slug = 406, "not-acceptable"


class PreconditionFailed(AppError):
    status, slug = 412, "precondition-failed"


class PayloadTooLarge(AppError):
    status, slug = 413, "payload-too-large"


class Invalid(AppError):
    """A 422 about one or more fields, raised by domain rules after schema validation."""

    status, slug = 422, "validation-error"

    def __init__(self, errors: Sequence[tuple[Sequence[str | int], str]], detail: str = "") -> None:
        self.errors = [{"loc": [str(p) for p in loc], "msg": msg} for loc, msg in errors]
        super().__init__(detail or _summary(self.errors))

    @classmethod
    def from_validation(
        cls, exc: ValidationError, prefix: Sequence[str | int] = ("body",)
    ) -> Invalid:
        return cls([([*prefix, *e["loc"]], e["msg"]) for e in validation_errors(exc)])


class ServiceUnavailable(AppError):
    status, slug = 503, "service-unavailable"


class InvalidInput(StarletteHTTPException):
    """A 422 found below the routes, while the body is read (an HTTPException, so that
    FastAPI's body parsing passes it on rather than turning it into a 400)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(422, _summary(errors[:5]))
        self.errors = errors


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def _summary(errors: Sequence[dict[str, Any]]) -> str:
    """``loc: msg; loc: msg`` — a problem's detail for these field errors."""
    return "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in errors)


def invalid_response(errors: list[dict[str, Any]]) -> JSONResponse:
    """The 422 problem for these ``{loc, msg}`` errors."""
    return problem_response(422, _summary(errors[:5]), slug="validation-error", errors=errors)


def _unreadable_body(cause: BaseException | None) -> str | None:
    """Why FastAPI could not read a JSON body that it answers 400 for (other malformed JSON
    is its 422): no such body is well-formed JSON, so it is a 422 too."""
    if isinstance(cause, UnicodeDecodeError):
        return "the body must be UTF-8 encoded JSON"
    if isinstance(cause, RecursionError):
        return "the JSON is nested too deeply"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return "a number has too many digits"
    return None


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or phrase.lower().replace(" ", "-").replace("'", "")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def validation_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{loc, msg}``, never echoing the rejected input back."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str | int)]
        msg = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        out.append({"loc": loc, "msg": msg})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        errors = getattr(exc, "errors", None)
        return problem_response(
            exc.status, exc.detail, slug=exc.slug, errors=errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_response(validation_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, InvalidInput):
            return invalid_response(exc.errors)
        if exc.status_code == 400 and (reason := _unreadable_body(exc.__cause__)):
            return invalid_response([{"loc": ["body"], "msg": reason}])
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such resource."
        elif exc.status_code == 405:
            detail = "This method is not allowed on this resource."
            headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
        return problem_response(exc.status_code, detail, headers=headers)

    # Database outages get handlers of their own: the catch-all below runs in Starlette's
    # outermost layer, which re-raises after answering, so uvicorn would log a traceback
    # and drop the keep-alive connection for every request of an outage.
    @app.exception_handler(DBAPIError)
    async def _db_down(_: Request, exc: DBAPIError) -> JSONResponse:
        if not _database_unavailable(exc):
            raise exc  # a genuine error: the catch-all logs it and answers 500
        logger.error("database unavailable: %s", type(exc.orig).__name__)
        return unavailable_response()

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(_: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy for `db_pool_timeout` seconds: overloaded.
        logger.error("no database connection free: %s", type(exc).__name__)
        return unavailable_response("The service is busy; try again shortly.")

    @app.exception_handler(OSError)
    async def _db_unreachable(_: Request, exc: OSError) -> JSONResponse:
        logger.error("database unreachable: %s", type(exc).__name__)
        return unavailable_response()

    @app.exception_handler(Exception)
    async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
        # Raised by a middleware layer outside the handlers above (the readiness gate).
        if isinstance(exc, OSError) or (isinstance(exc, DBAPIError) and _database_unavailable(exc)):
            return unavailable_response()
        logger.exception("unhandled error")
        return problem_response(
            500, "The server could not complete the request.", headers=BASELINE_HEADERS
        )


#: SQLSTATEs that say the database is unavailable rather than the request wrong: connection
#: exceptions (08…, e.g. reset while connecting), operator intervention (57P…: shut down,
#: restarting, still starting up) and too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53300")


def _database_unavailable(exc: DBAPIError) -> bool:
    """An OperationalError (the database's own trouble: down, locked, out of connections),
    a connection SQLAlchemy gave up on, or a SQLSTATE above."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return (
        isinstance(exc, OperationalError)
        or exc.connection_invalidated
        or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
        or isinstance(getattr(exc.orig, "__cause__", None), OSError)
    )


def unavailable_response(
    detail: str = "The database is unreachable; try again shortly.",
) -> JSONResponse:
    """The 503 problem of a database that is down (or not migrated yet), with ``Retry-After``."""
    return problem_response(
        503,
        detail,
        slug="service-unavailable",
        headers={**BASELINE_HEADERS, "Retry-After": "2"},
    )


def _allowed_methods(request: Request, fallback: str) -> str:
    """Every method served at this path, from the OpenAPI paths (Starlette's own 405 names
    only the first matching route's methods)."""
    table = getattr(request.app.state, "allow_table", None)
    if table is None:
        table = [
            (re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", path) + "$"), set(ops))
            for path, ops in request.app.openapi()["paths"].items()
        ]
        request.app.state.allow_table = table
    matching = [(pattern, ops) for pattern, ops in table if pattern.match(request.url.path)]
    # The most specific path decides: `/entries/batch` is not `/entries/{record_id}`.
    fewest = min((pattern.pattern.count("[^/]+") for pattern, _ in matching), default=0)
    methods = {
        m.upper()
        for pattern, ops in matching
        if pattern.pattern.count("[^/]+") == fewest
        for m in ops
    }
    return ", ".join(sorted(methods)) if methods else fallback


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


#: OpenAPI ``responses`` entries so that every documented error carries the problem schema.
def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": Problem,
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
        }
        for code in codes
    }


_WHY = {
    400: "A malformed `If-Match` or `If-None-Match` header.",
    401: "No valid access token.",
    412: "`If-Match` names a version that is not the current one.",
    413: "The request body is too large.",
    422: "The request is invalid (a query string holding U+0000 included); `errors` lists "
    "every field at fault.",
    503: "The database is unreachable, being migrated or has no free connection; retry after "
    "`Retry-After` seconds.",
}
_HEADERS = {
    401: {"WWW-Authenticate": "`Bearer`: the scheme to authenticate with."},
    429: {"Retry-After": "Seconds to wait before retrying."},
    503: {"Retry-After": "Seconds to wait before retrying."},
}


def _own_body(response: dict[str, Any]) -> bool:
    """Whether a route declared its own body for an error status (``/readyz``'s 503 is
    the readiness report), rather than FastAPI's validation error or none."""
    schemas = [c.get("schema", {}) for c in response.get("content", {}).values()]
    return any(
        ref and not ref.endswith(("/HTTPValidationError", "/Problem"))
        for ref in (s.get("$ref", "") for s in schemas)
    )


def document_problems(openapi: dict[str, Any]) -> None:
    """Declare in ``openapi`` the problems an operation can answer with whatever its route
    lists: 401 where it needs a token; 503 under ``/v1/`` (the readiness gate, and a
    database that is down); 413 and 422 where it takes a body, 422 where it takes
    parameters; 400 and 412 where it reads ``If-Match``/``If-None-Match``. Every 4xx and
    5xx is ``application/problem+json`` (FastAPI documents its own 422 as
    ``application/json``, which our handler never sends)."""
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            codes = set()
            if path.startswith("/v1/"):
                codes.add(503)
            if operation.get("security"):
                codes.add(401)
            if "requestBody" in operation:
                codes |= {413, 422}
            parameters = {p["name"].lower() for p in operation.get("parameters", [])}
            # Any query string may hold a NUL character, which NoNulCharacters refuses.
            codes.add(422)
            if parameters & {"if-match", "if-none-match"}:
                codes.add(400)
            if "if-match" in parameters and method != "get":
                codes.add(412)
            responses = operation["responses"]
            for code in codes:
                responses.setdefault(str(code), {"description": _WHY[code]})
            operation["responses"] = responses = dict(sorted(responses.items()))
            for code, response in responses.items():
                if code[0] in "45" and not _own_body(response):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                    if int(code) in _HEADERS:
                        response["headers"] = {
                            name: {"description": text, "schema": {"type": "string"}}
                            for name, text in _HEADERS[int(code)].items()
                        }
    schemas = openapi.get("components", {}).get("schemas", {})
    # FastAPI's validation error models, which no response names any more.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
