"""Rate limits: at most ``limit`` events per ``window`` seconds for each key, a sliding
window (an event counts for exactly ``window`` seconds; a refused event is not counted).

Every limit holds across all processes and replicas that share the database (contract §1):
on PostgreSQL the events are counted in the database (:class:`DatabaseWindow`: one row per
key in the ``UNLOGGED`` table ``rate_limits``, one statement per event); SQLite serves one
process, which counts in memory (:class:`SlidingWindow`). :func:`rate_limit` picks.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.core.database import Database
from app.core.errors import AppError


class TooManyRequests(AppError):
    status, slug = 429, "too-many-requests"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many requests; try again in {seconds} s.", headers={"Retry-After": str(seconds)}
        )


class SlidingWindow:
    """At most ``limit`` events per ``window_seconds`` for each key."""

    MAX_KEYS = 100_000

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        """Raise TooManyRequests when ``key`` has used up its window (without counting)."""
        if self.limit <= 0:
            return
        events = self._recent(key)
        if len(events) >= self.limit:
            raise TooManyRequests(events[0] + self.window - self._clock())

    def hit(self, key: str) -> None:
        """Count one event for ``key``; raise TooManyRequests if it is over the limit."""
        if self.limit <= 0:
            return
        self.check(key)
        if len(self._events) >= self.MAX_KEYS and key not in self._events:
            self._sweep()
        self._events.setdefault(key, deque()).append(self._clock())

    def _recent(self, key: str) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        horizon = self._clock() - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def _sweep(self) -> None:
        for key in list(self._events):
            self._recent(key)
        if len(self._events) >= self.MAX_KEYS:
            # Still full of live keys: forget the oldest tenth at once, so that the next
            # new keys do not each pay for a full scan.
            for key in list(self._events)[: max(1, self.MAX_KEYS // 10)]:
                del self._events[key]


class RateLimit(Protocol):
    """A limit as the routes use it."""

    limit: int
    window: float

    async def check(self, key: str) -> None:
        """Raise TooManyRequests when ``key`` has used up its window (without counting)."""

    async def hit(self, key: str) -> None:
        """Count one event for ``key``, or raise TooManyRequests (not counted) if over."""


class InProcess:
    """A :class:`SlidingWindow` behind the async interface (SQLite: one process)."""

    def __init__(self, counter: SlidingWindow) -> None:
        self.counter = counter
        self.limit, self.window = counter.limit, counter.window

    async def check(self, key: str) -> None:
        self.counter.check(key)

    async def hit(self, key: str) -> None:
        self.counter.hit(key)


@asynccontextmanager
async def failures_counted(
    limit: RateLimit, keys: Sequence[str], failure: type[Exception]
) -> AsyncIterator[None]:
    """Refuse (429) when any of ``keys`` has used up its window; when the block raises
    ``failure``, count it against each key. Only failures count: guessing (a password, a
    share code) is what such a limit stops, and it must not refuse whoever succeeds."""
    for key in keys:
        await limit.check(key)
    try:
        yield
    except failure:
        for key in keys:
            await limit.hit(key)
        raise


class RateLimitRow(SQLModel, table=True):
    """One key's events of the last window, oldest first, as seconds since the epoch by the
    database's clock. ``UNLOGGED`` on PostgreSQL (see the migration): counts need no
    crash-safety, and skipping the write-ahead log makes each event cheaper. No use on
    SQLite, where the table exists only to keep one schema."""

    __tablename__ = "rate_limits"

    key: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    events: list[float] = Field(
        sa_column=sa.Column(
            ARRAY(sa.Float(precision=53)).with_variant(sa.JSON, "sqlite"), nullable=False
        )
    )
    refused: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    #: When the last event leaves the window: a row past it counts nothing and can go.
    expires_at: float = Field(sa_column=sa.Column(sa.Float(precision=53), nullable=False))


#: ``now`` is the instant of the statement: a test's fake clock when given, else the database's.
_BINDS = (
    sa.bindparam("now", type_=sa.Float(precision=53)),
    sa.bindparam("window", type_=sa.Float(precision=53)),
    sa.bindparam("limit", type_=sa.Integer),
    sa.bindparam("key", type_=sa.Text),
)

#: One event, in one statement. A key's row is locked by ``ON CONFLICT … DO UPDATE`` while it
#: changes, so concurrent events (any process) are counted one after the other, exactly.
#: ``width_bucket(t, events)`` is the number of events at or before ``t`` (a binary search
#: of the sorted array): the expired ones. A refused event leaves the row's events as they
#: were, less the expired; an accepted one is appended, never before the last (the array
#: stays sorted whatever order the statements' clocks read).
_HIT = sa.text(
    """
    INSERT INTO rate_limits AS r (key, events, refused, expires_at)
    SELECT :key, ARRAY[t.now], false, t.now + :window
    FROM (SELECT coalesce(:now, extract(epoch FROM statement_timestamp())::float8) AS now) AS t
    ON CONFLICT (key) DO UPDATE SET
        events = CASE
            WHEN cardinality(r.events) - width_bucket(excluded.events[1] - :window, r.events)
                >= :limit
            THEN r.events[width_bucket(excluded.events[1] - :window, r.events) + 1 :]
            ELSE r.events[width_bucket(excluded.events[1] - :window, r.events) + 1 :]
                || greatest(excluded.events[1], r.events[cardinality(r.events)])
        END,
        refused = cardinality(r.events) - width_bucket(excluded.events[1] - :window, r.events)
            >= :limit,
        expires_at = excluded.expires_at
    RETURNING refused, events[1] + 2 * :window - expires_at AS retry_after
    """
).bindparams(*_BINDS)

_CHECK = sa.text(
    """
    SELECT cardinality(r.events) - width_bucket(t.now - :window, r.events) >= :limit
               AS refused,
           r.events[width_bucket(t.now - :window, r.events) + 1] + :window - t.now
               AS retry_after
    FROM rate_limits AS r,
         (SELECT coalesce(:now, extract(epoch FROM statement_timestamp())::float8) AS now) AS t
    WHERE r.key = :key
    """
).bindparams(*_BINDS)

_SWEEP = sa.text(
    "DELETE FROM rate_limits"
    " WHERE expires_at < coalesce(:now, extract(epoch FROM statement_timestamp())::float8)"
).bindparams(_BINDS[0])


class DatabaseWindow:
    """A sliding window counted in the database, shared by every process (PostgreSQL).

    A row's key is the limit's ``name`` and an HMAC of the key (an email, an address, an
    account id) under ``secret``: the table never holds who tried, only a count per someone
    (every replica has the same secret, so they agree on the row). The clock is the
    database's (replicas' clocks may differ); tests may pass one of their own.
    """

    #: Each process deletes the rows whose events have all expired at most this often.
    SWEEP_SECONDS = 60.0

    def __init__(
        self,
        db: Database,
        name: str,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] | None = None,
        *,
        secret: bytes = b"",
    ) -> None:
        self.db, self.name = db, name
        self.limit, self.window = limit, window_seconds
        self._clock = clock
        self._secret = secret
        self._swept_at = time.monotonic()

    def row_key(self, key: str) -> str:
        """The ``rate_limits`` row that counts ``key``."""
        digest = hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()
        return f"{self.name}:{digest[:32]}"

    def _params(self, key: str) -> dict[str, object]:
        now = self._clock() if self._clock is not None else None
        return {"key": self.row_key(key), "window": self.window, "limit": self.limit, "now": now}

    async def check(self, key: str) -> None:
        if self.limit <= 0:
            return
        async with self.db.read_autocommit() as conn:
            row = await self.db.first_row(conn, _CHECK, self._params(key))
        if row is not None and row["refused"]:
            raise TooManyRequests(row["retry_after"])

    async def hit(self, key: str) -> None:
        """One statement on the driver, outside a transaction (it commits by itself): what a
        write pays for being counted is that statement's round trip."""
        if self.limit <= 0:
            return
        params = self._params(key)
        async with self.db.single_statement() as conn:
            row = await self.db.first_row(conn, _HIT, params)
            if time.monotonic() - self._swept_at >= self.SWEEP_SECONDS:
                self._swept_at = time.monotonic()
                await self.db.first_row(conn, _SWEEP, {"now": params["now"]})
        assert row is not None  # an upsert returns its row
        if row["refused"]:
            raise TooManyRequests(row["retry_after"])


def rate_limit(
    db: Database,
    name: str,
    limit: int,
    window_seconds: float,
    clock: Callable[[], float] | None = None,
    *,
    secret: bytes = b"",
) -> RateLimit:
    """A limit counted where every process serving ``db`` sees it (the module's docstring);
    ``secret`` keys the rows' names (the service's signing key); ``clock`` (seconds) is for
    tests."""
    if db.engine.dialect.name == "postgresql":
        return DatabaseWindow(db, name, limit, window_seconds, clock, secret=secret)
    return InProcess(SlidingWindow(limit, window_seconds, clock or time.monotonic))
