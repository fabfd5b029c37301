"""Readiness: can we reach the database, and is its schema at the head revision?"""

from __future__ import annotations

import asyncio
import contextlib
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from app.core.database import Database
from app.core.migrations import head_revision


@lru_cache(maxsize=1)
def _head() -> str | None:
    return head_revision()


async def readiness(db: Database) -> dict[str, Any]:
    head = _head()
    try:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
            try:
                current = (
                    await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
            except sa.exc.DBAPIError:
                current = None  # reachable, never migrated
    except Exception as exc:  # any failure to reach the database means "not ready"
        return {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__}
    if current != head:
        return {
            "status": "unavailable",
            "database": "reachable",
            "migration": current,
            "expected_migration": head,
        }
    return {"status": "ok", "database": "reachable", "migration": current}


class SchemaStatus:
    """Whether this process has seen the schema at head. Until it has, ``ReadinessGate``
    answers the API with 503; once it has, nobody asks the database again (a later outage
    is the error handlers' business)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ready = False

    async def check(self) -> dict[str, Any]:
        """The readiness report (as ``/readyz`` sends it), remembering a success."""
        report = await readiness(self.db)
        if report["status"] == "ok":
            self.ready = True
        return report

    async def check_at_start(self, seconds: float = 5.0) -> None:
        """Check once at startup, waiting at most ``seconds`` for the database."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.check()
