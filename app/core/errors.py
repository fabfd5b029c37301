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
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
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
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
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


class PreconditionFailed(AppError):
    status, slug = 412, "precondition-failed"


class PayloadTooLarge(AppError):
    status, slug = 413, "payload-too-large"


class Invalid(AppError):
    """A 422 about one or more fields, raised by domain rules after schema validation."""

    status, slug = 422, "validation-error"

    def __init__(self, errors: Sequence[tuple[Sequence[str | int], str]], detail: str = "") -> None:
        self.errors = [{"loc": list(loc), "msg": msg} for loc, msg in errors]
        super().__init__(detail or "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in self.errors))

    @classmethod
    def from_validation(
        cls, exc: ValidationError, prefix: Sequence[str | int] = ("body",)
    ) -> Invalid:
        return cls([([*prefix, *e["loc"]], e["msg"]) for e in validation_errors(exc)])


class ServiceUnavailable(AppError):
    status, slug = 503, "service-unavailable"


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "body"


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
        loc = [p for p in err.get("loc", ()) if isinstance(p, str | int)]
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
        errors = validation_errors(exc)
        detail = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem_response(422, detail, slug="validation-error", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such resource."
        elif exc.status_code == 405:
            detail = "This method is not allowed on this resource."
            headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
        return problem_response(exc.status_code, detail, headers=headers)

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        logger.error("database unavailable: %s", type(exc.orig).__name__)
        return _unavailable()

    @app.exception_handler(Exception)
    async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return _unavailable()
        if isinstance(exc, ConnectionError | OSError):
            return _unavailable()
        logger.exception("unhandled error")
        return problem_response(
            500, "The server could not complete the request.", headers=BASELINE_HEADERS
        )


def _unavailable() -> JSONResponse:
    return problem_response(
        503,
        "The database is unreachable; try again shortly.",
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
    methods = {m.upper() for pattern, ops in table if pattern.match(request.url.path) for m in ops}
    return ", ".join(sorted(methods)) if methods else fallback


#: OpenAPI ``responses`` entries so that every documented error carries the problem schema.
def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": Problem,
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }
