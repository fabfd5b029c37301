"""Database engine, URL handling and column types shared by every domain.

The service talks to the database through SQLAlchemy's async Core API: asyncpg on
PostgreSQL, aiosqlite on SQLite. Tables are declared with SQLModel in each domain's
``models.py``; they all share :data:`metadata`, whose naming convention gives every
constraint a stable name in migrations.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import pydantic_core
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import TextClause
from sqlmodel import SQLModel

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION

#: JSON documents (lists of sites, medications…): JSONB on PostgreSQL.
JSONList = sa.JSON().with_variant(JSONB(), "postgresql")


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a SQLModel table class (services query through Core)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An aware datetime stored in UTC; SQLite (which keeps no offset) reads back as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime  # TypeDecorator would say `object` (cursors need the real type)

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def async_url(url: str) -> URL:
    """Turn a plain ``sqlite:///…`` or ``postgresql://…`` URL into one with our async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; foreign keys are off in SQLite unless asked.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _json_text(value: Any) -> str:
    """JSON columns' text: pydantic's serializer, much faster than ``json.dumps`` for the
    small lists (sites, medications, tags) a diary entry holds; compact and UTF-8."""
    return pydantic_core.to_json(value).decode()


def create_engine(
    url: str, *, pool_size: int = 20, max_overflow: int = 0, pool_timeout: float = 10
) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target, pool_pre_ping=True, json_serializer=_json_text)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        target,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        json_serializer=_json_text,
        pool_recycle=1800,
        # A server that neither answers nor refuses must not hold a request for asyncpg's
        # default minute: after 5 s the request gets its 503.
        connect_args={"timeout": 5},
    )
    engine.dialect.do_ping = _ping_without_a_round_trip  # type: ignore[method-assign]
    return engine


def _ping_without_a_round_trip(dbapi_connection: Any) -> bool:
    """The pool's pre-ping: is the pooled connection still open?

    asyncpg reads every connection's socket while it sits in the pool, so a connection the
    server closed (a restart, an idle timeout, ``pg_terminate_backend``) is known closed
    before it is checked out; a false answer makes SQLAlchemy replace it and every older
    pooled connection. This is the check asyncpg's own pool makes on acquire. SQLAlchemy's
    ping asks the server instead (``BEGIN; ; ROLLBACK``): three round trips before every
    query. A connection that dies after this check fails its statement as a disconnect:
    SQLAlchemy invalidates the pool and the request gets 503 with ``Retry-After``, as a
    request does when the server dies mid-query.
    """
    return not dbapi_connection.driver_connection.is_closed()


#: A statement :meth:`Database.first_row` and :meth:`Database.all_rows` run on the driver: a
#: select, an insert, update or delete (with ``RETURNING``), or a text statement.
DriverRunnable = sa.Select[Any] | UpdateBase | TextClause


class DriverStatement:
    """A Core statement compiled once, to be run on the asyncpg connection itself.

    SQLAlchemy's execution (execution context, compiled-cache lookup, parameter and result
    processing, greenlet hand-offs) is the largest single cost of a new record's request;
    asyncpg runs the compiled text as a prepared statement. Parameters still go
    through the statement's own bind processors (JSON serialization, type decorators),
    in the order of its ``$n`` placeholders.
    """

    def __init__(self, statement: DriverRunnable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert compiled.positiontup is not None, "a dialect with positional parameters"
        self.sql = compiled.string
        processors: Mapping[str, Any] = compiled._bind_processors
        assert all(callable(p) for p in processors.values()), "no tuple parameters"
        literals = compiled.params  # values bound in the statement itself; None elsewhere
        self._slots = [
            (name, processors.get(name), compiled.binds[name].required, literals.get(name))
            for name in compiled.positiontup
        ]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params`` (a required one missing is a KeyError)."""
        arguments = []
        for name, process, required, literal in self._slots:
            value = params[name] if required or name in params else literal
            arguments.append(value if process is None else process(value))
        return arguments


def one_of(
    conn: AsyncConnection, column: sa.ColumnElement[Any], values: list[Any]
) -> sa.ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY($1)``: one array parameter, so
    one statement text (prepared once) for any number of values, where IN renders and
    prepares a statement per count."""
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=ARRAY(column.type))
        return column == sa.any_(array)
    return column.in_(values)


#: What :meth:`Database._on_driver` answers when asyncpg raised.
_DRIVER_FAILED = object()


@functools.cache
def _insert(table: sa.Table) -> sa.Insert:
    """``INSERT`` of every column, one parameter each, named as the column."""
    return sa.insert(table)


class Database:
    """The engine plus the two ways services use it: a read, or a write transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: Shares the pool; each statement commits on its own (for single-statement writes).
        self.autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._driver_statements: dict[DriverRunnable, DriverStatement] = {}

    async def first_row(
        self, conn: AsyncConnection, statement: DriverRunnable, params: Mapping[str, Any]
    ) -> Mapping[Any, Any] | None:
        """The first row of a statement built once (hashable, e.g. ``functools.cache``d):
        see :meth:`_on_driver`."""
        if self.dialect == "postgresql":
            row = await self._on_driver(
                conn, statement, lambda c, p: c.fetchrow(p.sql, *p.arguments(params))
            )
            if row is not _DRIVER_FAILED:
                return row
        return (await conn.execute(statement, params)).mappings().first()

    async def all_rows(
        self, conn: AsyncConnection, statement: DriverRunnable, params: Mapping[str, Any]
    ) -> Sequence[Mapping[Any, Any]]:
        """Every row of a statement built once, as mappings in column order (``values()``
        gives them positionally): see :meth:`_on_driver`. For reads of many rows on the hot
        path (a summary's daily series), where SQLAlchemy's per-row result processing costs
        more than the query."""
        if self.dialect == "postgresql":
            rows = await self._on_driver(
                conn, statement, lambda c, p: c.fetch(p.sql, *p.arguments(params))
            )
            if rows is not _DRIVER_FAILED:
                return cast(Sequence[Mapping[Any, Any]], rows)
        return (await conn.execute(statement, params)).mappings().all()

    async def insert_many(
        self, conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]
    ) -> None:
        """Insert rows that each hold every column of ``table``, in the connection's
        transaction: one prepared statement that asyncpg pipelines (SQLAlchemy would render
        500 rows as one statement of 11,000 parameters); see :meth:`_on_driver`."""
        statement = _insert(table)
        if self.dialect == "postgresql":
            done = await self._on_driver(
                conn, statement, lambda c, p: c.executemany(p.sql, [p.arguments(r) for r in rows])
            )
            if done is not _DRIVER_FAILED:
                return
        await conn.execute(statement, rows)

    async def _on_driver(
        self,
        conn: AsyncConnection,
        statement: DriverRunnable,
        run: Callable[[Any, DriverStatement], Awaitable[Any]],
    ) -> Any:
        """``run(asyncpg connection, statement compiled once)`` on PostgreSQL.

        asyncpg's errors are not SQLAlchemy's: on any, this answers ``_DRIVER_FAILED`` and
        the caller runs the statement again through SQLAlchemy. A statement that failed
        changed nothing (or aborted its transaction), so running it again is safe; it fails
        alike (a lost connection stays lost, a refused value is refused again, an aborted
        transaction stays aborted) and SQLAlchemy raises, translates and invalidates as
        for every other query.
        """
        prepared = self._driver_statements.get(statement)
        if prepared is None:
            prepared = DriverStatement(statement, self.engine.dialect)
            self._driver_statements[statement] = prepared
        raw = await conn.get_raw_connection()
        try:
            return await run(raw.driver_connection, prepared)
        except Exception as error:  # translated by SQLAlchemy's own execution, in the caller
            logger.warning("driver statement failed: %s", type(error).__name__)
            return _DRIVER_FAILED

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def read_autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A read without BEGIN and ROLLBACK (two of a short read's four round trips on
        PostgreSQL, with the pre-ping and the query): for reads whose statements need no
        common snapshot, such as a version check followed by reads that may be newer."""
        async with self.autocommit_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction committed when the block exits without error (before any response)."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements each commit by themselves (one round trip each).

        Only for writes that are one atomic statement; anything else uses ``transaction``.
        """
        async with self.autocommit_engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
