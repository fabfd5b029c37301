"""Throwaway PostgreSQL databases for the tests and the benchmarks: made under a fresh name
on a server the caller names, dropped afterwards (even while clients are still connected)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.core.database import create_engine


async def admin(url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE and DROP DATABASE need that)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@contextmanager
def throwaway_postgres(server_url: str, prefix: str, *, drop_attempts: int = 1) -> Iterator[str]:
    """The URL of a new, empty database ``<prefix>_<12 hex digits>`` on ``server_url``'s
    server. ``drop_attempts`` > 1 retries the drop every 0.5 s (a server that was just
    restarted may still refuse for a moment)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        for attempt in range(1, drop_attempts + 1):
            try:
                asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except Exception:
                if attempt == drop_attempts:
                    raise
                time.sleep(0.5)
