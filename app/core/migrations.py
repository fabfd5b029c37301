"""Running the Alembic history from code (``paindiary migrate`` and ``serve``).

Concurrent migrations: on PostgreSQL, :func:`upgrade` holds an advisory lock while Alembic
runs, so processes that start at once (two hosts, ``migrate`` beside ``serve``) take turns:
the first migrates, the others then find the schema at head and do nothing. ``serve``
migrates from one thread of its main process, never from its worker processes, so
``--workers 2`` migrates once. SQLite has no such lock: one ``serve`` per database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from app.core.database import async_url, create_engine

ROOT = Path(__file__).resolve().parents[2]
#: The ``pg_advisory_lock`` key that serialises migrations ("pain" in ASCII).
MIGRATION_LOCK = 0x7061696E
#: How long a reachability check may take before the database counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 10.0

logger = logging.getLogger("paindiary.migrations")


def alembic_config(database_url: str | None = None, *, configure_logger: bool = True) -> Config:
    """Alembic's configuration; ``configure_logger=False`` keeps the caller's logging (else
    ``alembic.ini``'s replaces it)."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = configure_logger
    return config


def upgrade(database_url: str, revision: str = "head", *, configure_logger: bool = True) -> None:
    """Migrate to ``revision``; on PostgreSQL under the migration lock (waits for it)."""
    config = alembic_config(database_url, configure_logger=configure_logger)
    if async_url(database_url).get_backend_name() == "postgresql":
        asyncio.run(_upgrade_holding_lock(database_url, config, revision))
    else:
        command.upgrade(config, revision)


async def _upgrade_holding_lock(database_url: str, config: Config, revision: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            lock = {"key": MIGRATION_LOCK}
            await conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), lock)
            try:
                # Alembic runs an event loop of its own (migrations/env.py): another thread.
                await asyncio.to_thread(command.upgrade, config, revision)
            finally:
                # A lost connection has released the lock already.
                with contextlib.suppress(sa.exc.DBAPIError, OSError):
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), lock)
    finally:
        await engine.dispose()


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# --- a database that is not there (yet) --------------------------------------------------


def safe_url(database_url: str) -> str:
    """The URL as it may be logged: the password masked."""
    return make_url(database_url).render_as_string(hide_password=True)


def unreachable_reason(database_url: str) -> str | None:
    """``None`` when the database answers ``SELECT 1``; else one line saying why not (never
    the password). SQLite counts as reachable when its file can be opened or created."""
    parsed = make_url(database_url)
    try:
        if parsed.get_backend_name() == "sqlite":
            # The stdlib driver: aiosqlite's thread outlives a failed connect and would
            # print a traceback once this function's event loop is closed.
            connection = sqlite3.connect(parsed.database or ":memory:", timeout=10)
            try:
                connection.execute("SELECT 1")
            finally:
                connection.close()
        else:
            asyncio.run(asyncio.wait_for(_select_one(database_url), CONNECT_TIMEOUT_SECONDS))
    except Exception as exc:  # anything that stops a SELECT 1 makes it unreachable
        return _one_line(exc, parsed.password)
    return None


async def _select_one(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    finally:
        await engine.dispose()


def _one_line(exc: BaseException, password: object) -> str:
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    if isinstance(cause.__cause__, Exception):
        cause = cause.__cause__  # asyncpg's own error under SQLAlchemy's adapter
    if isinstance(cause, TimeoutError):
        text = f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
    else:
        lines = str(cause).strip().splitlines()
        text = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    return text.replace(str(password), "***") if password else text


def migrate_in_background(
    database_url: str, *, first_delay: float = 1.0, max_delay: float = 30.0
) -> threading.Thread:
    """Bring the schema to head from a daemon thread, retrying until it succeeds.

    The delay between attempts doubles from ``first_delay`` up to ``max_delay`` seconds.
    Logs one error when an attempt first fails, a warning when the reason changes, and one
    line when the schema is at head after failures; never a traceback for an unreachable
    database. Meanwhile ``/readyz`` says why the service is not ready.
    """
    thread = threading.Thread(
        target=_migrate_until_done,
        args=(database_url, first_delay, max_delay),
        name="paindiary-migrate",
        daemon=True,  # an unfinished attempt must not hold up shutdown
    )
    thread.start()
    return thread


def _migrate_until_done(database_url: str, first_delay: float, max_delay: float) -> None:
    where = safe_url(database_url)
    delay = first_delay
    reported: str | None = None
    while (problem := _migrate_once(database_url)) is not None:
        if problem != reported:
            log = logger.error if reported is None else logger.warning
            log(
                "database %s %s; serving anyway: /readyz and the API answer 503 until it is "
                "migrated (retrying every %g-%g s)",
                where,
                problem,
                first_delay,
                max_delay,
            )
            reported = problem
        time.sleep(delay)
        delay = min(delay * 2, max_delay)
    if reported is not None:
        logger.info("database %s migrated to head; the service is ready", where)


def _migrate_once(database_url: str) -> str | None:
    """``None`` once the schema is at head; else why not, in a few words."""
    problem = unreachable_reason(database_url)
    if problem is None:
        try:
            upgrade(database_url, configure_logger=False)
            return None
        except Exception as exc:  # a failed migration is retried like an outage
            problem = unreachable_reason(database_url)  # gone again meanwhile?
            if problem is None:
                password = make_url(database_url).password
                return f"cannot be migrated ({_one_line(exc, password)})"
    return f"is unreachable ({problem})"
