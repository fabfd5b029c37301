"""Assembles the application: settings, database, error handling, middleware and routers."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from app.accounts.routes import router as accounts_router
from app.clinicians.overview import PatientRows
from app.clinicians.routes import router as clinicians_router
from app.core.cache import RenderedBodies
from app.core.database import Database, create_engine
from app.core.errors import Problem, document_problems, install_error_handlers
from app.core.files import PackageFiles
from app.core.middleware import (
    CORS_EXPOSED_HEADERS,
    CORS_METHODS,
    CORS_REQUEST_HEADERS,
    BodyLimit,
    Compression,
    Cors,
    NoNulCharacters,
    ResponseHeaders,
)
from app.core.observability import install_observability
from app.core.ratelimit import rate_limit
from app.core.runtime import tune_garbage_collector
from app.core.security import AccessTokens, Passwords
from app.core.sessions import EndedSessions
from app.core.settings import Settings, get_settings
from app.core.workers import HeavyWork
from app.courses.routes import router as courses_router
from app.diary.batch import BatchItem
from app.diary.routes import router as diary_router
from app.export.routes import router as export_router
from app.health.gate import ReadinessGate
from app.health.routes import router as health_router
from app.health.service import SchemaStatus
from app.records.routes import MERGE_PATCH
from app.sessions.routes import router as sessions_router
from app.sync.routes import router as sync_router
from app.trends.routes import router as trends_router
from app.web.routes import web_app

DESCRIPTION = """
A pain diary with treatment courses, session events and honest trend summaries.

* Sign up with `POST /v1/auth/register`, then press **Authorize** and sign in with your
  email and password (OAuth2 password grant at `POST /v1/auth/token`).
* `patient_id` in a path is a UUID or `me`.
* Records take a client-generated id: `PUT` creates or replaces, so retries never duplicate.
* Every error is an RFC 9457 `application/problem+json` document.
"""

#: The docs' sections, in reading order.
TAGS = [
    {"name": "accounts", "description": "Sign up, sign in, your account, export and erasure."},
    {"name": "diary", "description": "Diary entries: pain, sites, sleep, stress, medications."},
    {"name": "courses", "description": "Treatment courses."},
    {"name": "sessions", "description": "Treatment sessions within a course."},
    {"name": "trends", "description": "Course and diary summaries: is the treatment working?"},
    {"name": "clinicians", "description": "Sharing with clinicians, with the patient's consent."},
    {"name": "sync", "description": "Changes since a cursor, for offline-first apps."},
    {"name": "reference", "description": "Reference data (acupuncture points)."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = Database(
        create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
    )

    schema_status = SchemaStatus(db)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await schema_status.check_at_start()  # so that requests find the answer ready
        undo_gc_tuning = tune_garbage_collector() if settings.gc_tuning else None
        try:
            yield
        finally:
            if undo_gc_tuning is not None:
                undo_gc_tuning()
            await db.dispose()

    app = FastAPI(
        title="paindiary",
        version="1.0.0",
        description=DESCRIPTION,
        license_info={"name": "MIT", "identifier": "MIT"},
        # Relative: the document describes the server that serves it, wherever it runs.
        servers=[{"url": "/", "description": "This service"}],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url="/docs/oauth2-redirect",
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    app.state.db = db
    assert settings.secret_key is not None  # guaranteed by Settings validation
    app.state.tokens = AccessTokens(settings.secret_key, settings.access_token_ttl_seconds)
    app.state.ended_sessions = EndedSessions(
        settings.access_token_ttl_seconds, settings.session_check_seconds
    )
    # Counted in the database on PostgreSQL, so that they hold across processes and replicas.
    counted = functools.partial(rate_limit, db, secret=settings.secret_key.encode())
    app.state.link_attempts = counted(
        "share-codes", settings.link_attempts_per_window, settings.rate_limit_window_seconds
    )
    app.state.write_limits = counted("writes", settings.writes_per_minute, 60)
    app.state.sign_in_limits = counted("sign-ins", settings.sign_ins_per_minute, 60)
    app.state.failed_sign_ins = counted(
        "failed-sign-ins", settings.failed_sign_ins_per_account, settings.sign_in_failure_window
    )
    app.state.sign_up_limits = counted("sign-ups", settings.sign_ups_per_hour, 3600)
    app.state.summaries = RenderedBodies(settings.summary_cache_entries)
    app.state.patient_rows = PatientRows(settings.patient_rows_kept)
    app.state.heavy_work = HeavyWork(settings.heavy_work_threads, settings.heavy_work_limit)
    app.state.passwords = Passwords(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )

    install_error_handlers(app)
    app.add_middleware(ReadinessGate, schema=schema_status)  # innermost: API 503s until migrated
    # The last added runs first: CORS inside ResponseHeaders, so that a preflight answer
    # gets the security headers too, and outside BodyLimit, so that a browser can read a 413;
    # ResponseHeaders outside Compression, whose Vary it completes.
    app.add_middleware(NoNulCharacters)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Bearer tokens, no cookies: credentials stay off.
        app.add_middleware(
            Cors,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.add_middleware(Compression, minimum_size=settings.gzip_minimum_bytes)
    app.add_middleware(ResponseHeaders)

    # Matched in this order, so the busiest first; the docs keep TAGS' order.
    for router in (
        diary_router,
        courses_router,
        sessions_router,
        sync_router,
        trends_router,
        clinicians_router,
        accounts_router,
        export_router,
        health_router,
    ):
        _add_routes(app, router)
    install_observability(app, db.engine)
    _add_docs(app)
    app.mount("/app", web_app(), name="web-app")
    _finish_openapi(app)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """A domain router's routes, as the app's own.

    ``include_router`` puts a router behind a layer of FastAPI's own that matches each
    request against the router's routes a second time. Our routers carry their own prefixes
    and tags and take nothing from being included (the OpenAPI document is the same either
    way). The one thing lost: the app's ``dependency_overrides`` would not reach them
    (nothing here uses it; tests build an app from settings instead).
    """
    app.router.routes.extend(router.routes)


def _add_docs(app: FastAPI) -> None:
    """Swagger UI served from the installed package, so /docs works on a closed network."""
    app.mount("/docs/assets", PackageFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.add_api_route("/docs", docs, include_in_schema=False)
    app.add_api_route("/docs/oauth2-redirect", oauth2_redirect, include_in_schema=False)


async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="paindiary API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
        init_oauth={"usePkceWithAuthorizationCodeGrant": False},
    )


async def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


def _finish_openapi(app: FastAPI) -> None:
    """What FastAPI's document lacks for generated clients: the models that routes answer or
    accept without naming them, the problems every operation can answer with (see
    :func:`document_problems`), path parameters in path order (generated methods take them
    in document order: ``entries_get(patient_id, record_id)``, as in the URL), and
    ``security: []`` on the operations that need no token."""
    original = app.openapi
    extra_models = (Problem, BatchItem)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in extra_models:
            generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in generated.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, generated)
        document_problems(schema)
        _name_request_bodies(schema)
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                _path_parameters_in_path_order(path, operation)
                _optional_parameters_are_absent_not_null(operation)
                operation.setdefault("security", [])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


#: FastAPI's names for form bodies, and what clients should call them.
_BODY_NAMES = {"Body_auth_token": "TokenRequest"}


def _name_request_bodies(schema: dict[str, Any]) -> None:
    """Request bodies as named components, so that generated models are named for what
    they are (``EntryPatch``, ``TokenRequest``), not after the operation
    (``EntriesPatchEntryInMergePatch``, ``BodyAuthToken``): a merge patch's inline schema
    becomes the component of its title; FastAPI's form bodies are renamed; an optional
    body is its model, not "the model or null"."""
    components = schema["components"]["schemas"]
    renamed = {}
    for old, new in _BODY_NAMES.items():
        if old in components:
            components[new] = components.pop(old) | {"title": new}
            renamed[f"#/components/schemas/{old}"] = f"#/components/schemas/{new}"
    for operations in schema["paths"].values():
        for operation in operations.values():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                body = content.get("schema", {})
                if _nullable(body):
                    # An optional body is left out, never sent as `null` (which is 422).
                    # (FastAPI's title for it, "Body", is dropped with the null.)
                    content["schema"] = body = _without_null(body, annotated=False)
                    operation["requestBody"]["required"] = False
                if body.get("$ref") in renamed:
                    content["schema"] = {"$ref": renamed[body["$ref"]]}
                elif media == MERGE_PATCH and "$ref" not in body:
                    components[body["title"]] = body
                    content["schema"] = {"$ref": f"#/components/schemas/{body['title']}"}


def _path_parameters_in_path_order(path: str, operation: dict[str, Any]) -> None:
    """FastAPI lists a route's own parameters before its dependencies' (``record_id``
    before the access dependency's ``patient_id``): put path parameters first, in the order
    the path names them, the others after them as they were."""
    parameters = operation.get("parameters")
    if not parameters:
        return
    in_path = sorted(
        (p for p in parameters if p["in"] == "path"), key=lambda p: path.find(f"{{{p['name']}}}")
    )
    operation["parameters"] = in_path + [p for p in parameters if p["in"] != "path"]


def _optional_parameters_are_absent_not_null(operation: dict[str, Any]) -> None:
    """A query or header parameter typed ``X | None`` is optional: a client leaves it out,
    it never sends ``null`` (which a query string or header cannot even say). FastAPI
    writes ``anyOf: [X, {type: null}]``, which tools read as "send the text null": write
    ``X``."""
    for parameter in operation.get("parameters", ()):
        if parameter["in"] != "path" and _nullable(parameter.get("schema", {})):
            parameter["schema"] = _without_null(parameter["schema"])


_NULL = {"type": "null"}


def _nullable(schema: dict[str, Any]) -> bool:
    return _NULL in schema.get("anyOf", ())


def _without_null(schema: dict[str, Any], *, annotated: bool = True) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` as ``X``, with the schema's own title and description
    when ``annotated``; with several other variants, their ``anyOf``."""
    rest = [v for v in schema["anyOf"] if v != _NULL]
    others = {k: v for k, v in schema.items() if k != "anyOf"} if annotated else {}
    return {**rest[0], **others} if len(rest) == 1 else {"anyOf": rest, **others}
