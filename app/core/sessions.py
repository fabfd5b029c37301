"""Ended sessions, known to every process within a second (contract §1).

An access token names its session (``sid``: the family of refresh tokens it was issued
with). Signing out, a refresh token replayed, a password change or an erasure ends
sessions by writing a row here, in the same transaction as the change; each process keeps
the rows of the last access-token lifetime in memory and asks the database for the recent
ones at most every ``check_seconds`` (0.5 s): one small indexed query per process per half
second, whatever the traffic, instead of one per request. The writing process applies its
own rows at once.

A look reads by ``ended_at``, not by id: a transaction that took its id first may commit
after one that took a later id, so "the ids after the last one seen" could miss it. Each
look reads again the rows of the last :data:`OVERLAP` before the previous look (applying a
row twice changes nothing), which covers a transaction committing that long after it
stamped ``ended_at`` and clocks of processes that far apart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from app.core.database import Database, UTCDateTime, table_of
from app.core.security import Caller

#: How far back a look reads again before the previous one (see the module's docstring).
OVERLAP = dt.timedelta(seconds=30)


class EndedSession(SQLModel, table=True):
    """A session that ended: one family's (``family_id``), or every session of an account
    begun by ``ended_at`` (``user_id``: erasure). No foreign key: the row outlives the
    account it ends."""

    __tablename__ = "ended_sessions"
    __table_args__ = {"sqlite_autoincrement": True}  # an id is never given twice

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    family_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    user_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    ended_at: dt.datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False, index=True))


ended = table_of(EndedSession)


async def end_sessions(
    conn: AsyncConnection,
    *,
    families: Iterable[uuid.UUID] = (),
    user_id: uuid.UUID | None = None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Record, in the caller's transaction, that these families' sessions (or every
    session of ``user_id``) ended ``now``; returns the rows for :meth:`EndedSessions.note`."""
    rows: list[dict[str, Any]] = [
        {"family_id": family, "user_id": None, "ended_at": now} for family in families
    ]
    if user_id is not None:
        rows.append({"family_id": None, "user_id": user_id, "ended_at": now})
    if rows:
        await conn.execute(sa.insert(ended), rows)
        # Rows older than a day ended sessions whose tokens have long expired.
        await conn.execute(sa.delete(ended).where(ended.c.ended_at < now - dt.timedelta(days=1)))
    return rows


class EndedSessions:
    """This process's view of the ended sessions (see the module's docstring)."""

    def __init__(
        self,
        lifetime_seconds: int,
        check_seconds: float = 0.5,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = dt.timedelta(seconds=lifetime_seconds)
        self.check_seconds = check_seconds
        self._clock = clock
        self._checked_at: float | None = None
        #: The wall-clock time of the last look (rows from OVERLAP before it are read again).
        self._looked_at: dt.datetime | None = None
        self._families: dict[uuid.UUID, dt.datetime] = {}
        self._accounts: dict[uuid.UUID, dt.datetime] = {}
        self._lock = asyncio.Lock()

    def has_ended(self, caller: Caller) -> bool:
        if caller.session_id is not None and caller.session_id in self._families:
            return True
        ended_at = self._accounts.get(caller.user_id)
        return ended_at is not None and caller.issued_at <= ended_at.timestamp()

    async def refresh(self, db: Database) -> None:
        """Read the rows written since the last look, if ``check_seconds`` have passed."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self.check_seconds:
            return
        async with self._lock:
            checked = self._checked_at
            if checked is not None and self._clock() - checked < self.check_seconds:
                return
            looked_at = dt.datetime.now(dt.UTC)
            # The first look reads what can still matter: a token lifetime back.
            since = self._looked_at - OVERLAP if self._looked_at else looked_at - self.lifetime
            async with db.read_autocommit() as conn:
                query = sa.select(ended).where(ended.c.ended_at >= since)
                rows = (await conn.execute(query)).mappings().all()
            self.note(rows)
            self._looked_at = looked_at
            self._checked_at = self._clock()
            self._forget_old()

    def note(self, rows: Iterable[Mapping[Any, Any]]) -> None:
        """Apply rows this process wrote itself (at once) or read."""
        for row in rows:
            family, user, at = row["family_id"], row["user_id"], row["ended_at"]
            if family is not None:
                self._families[family] = at
            if user is not None:
                self._accounts[user] = max(at, self._accounts.get(user, at))

    def _forget_old(self) -> None:
        """An ended session older than a token's lifetime has no live token left."""
        horizon = dt.datetime.now(dt.UTC) - self.lifetime
        for table in (self._families, self._accounts):
            for key in [k for k, at in table.items() if at < horizon]:
                del table[key]
