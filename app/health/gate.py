"""Until the database schema is at head, API requests get a clean 503 (not a 500 about a
missing table): ``paindiary serve`` starts serving before its database is reachable and
migrates in the background."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import unavailable_response
from app.health.service import SchemaStatus

API_PREFIX = "/v1/"


class ReadinessGate:
    """Pure ASGI middleware over the ``/v1/`` routes; one attribute read once ready.

    While not ready, each API request asks the database itself (so it opens the moment the
    migration is done, in every worker), and answers 503 ``problem+json`` with
    ``Retry-After`` when the schema is not at head or the database is unreachable.
    """

    def __init__(self, app: ASGIApp, schema: SchemaStatus) -> None:
        self.app = app
        self.schema = schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.schema.ready or scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        report = await self.schema.check()
        if report["status"] == "ok":
            await self.app(scope, receive, send)
            return
        if report["database"] == "unreachable":
            response = unavailable_response()
        else:
            response = unavailable_response("The database is being migrated; try again shortly.")
        await response(scope, receive, send)
