"""One request path per route: every operation is FastAPI's own ``APIRoute`` whose handler is
a module-level function a reader can find by name (no route class with request handling of
its own, no handler made by a factory)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.core.settings import Settings
from app.main import create_app

SETTINGS = Settings(database_url="sqlite:///unused.db", secret_key="k" * 40)


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """The operations of ``routes``, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def test_every_route_is_a_plain_api_route_with_a_named_handler() -> None:
    routes = list(api_routes(create_app(SETTINGS).routes))
    assert len(routes) > 40
    problems = []
    for route in routes:
        where = f"{sorted(route.methods or ())} {route.path}"
        if type(route) is not APIRoute:
            problems.append(f"{where}: served by {type(route).__name__}")
        handler = route.endpoint
        module = inspect.getmodule(handler)
        if handler.__qualname__ != handler.__name__ or module is None:
            problems.append(f"{where}: {handler.__qualname__} is not a module-level function")
        elif getattr(module, handler.__name__, None) is not handler:
            problems.append(f"{where}: {module.__name__}.{handler.__name__} is another object")
    assert problems == []


def test_record_endpoints_are_declared_in_their_domain() -> None:
    app = create_app(SETTINGS)
    owners = {"entries": "app.diary.routes", "courses": "app.courses.routes"}
    owners["sessions"] = "app.sessions.routes"
    for route in api_routes(app.routes):
        parts = route.path.split("/")  # "", "v1", "patients", "{patient_id}", collection…
        if len(parts) < 5 or parts[2] != "patients":
            continue
        collection = parts[4].split(".")[0]
        if collection in owners and len(parts) <= 6:
            assert route.endpoint.__module__ == owners[collection], route.path
