"""Phone-like diary clients hammering a live server while a fault happens, and the
bookkeeping that proves no acknowledged write was lost (``test_faults.py`` and
``bench/faults.py``).

A client PUTs new entries with ids of its own, replaces some of them, and reads; a failed
PUT is sent again with the same body until it is acknowledged, as a phone does. The last
acknowledged ``(pain, notes, version)`` of every entry is then compared with the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from app.accounts.models import User
from app.core.database import create_engine, table_of
from app.core.security import AccessTokens
from app.diary.models import DiaryEntry
from app.records.models import ChangeCounter
from tests.reliability.live_server import SECRET

ENTRIES = table_of(DiaryEntry)
ENTRIES_PATH = "/v1/patients/me/entries"
TOKENS = AccessTokens(SECRET, 900)

#: What a client remembers of an acknowledged write: (pain, notes, version).
Acknowledged = tuple[int, str, int]


@dataclass
class Patient:
    id: uuid.UUID
    headers: dict[str, str]


def add_patients(url: str, count: int) -> list[Patient]:
    """Patients stored directly, with access tokens minted with the live server's key."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "email": f"fault-{uuid.uuid4().hex[:10]}@example.org",
            "password_hash": "not-used",
            "role": "patient",
            "timezone": "UTC",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(count)
    ]

    async def insert() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(table_of(User)), rows)
                counters = [{"patient_id": row["id"]} for row in rows]
                await conn.execute(sa.insert(table_of(ChangeCounter)), counters)
        finally:
            await engine.dispose()

    asyncio.run(insert())
    return [
        Patient(row["id"], {"Authorization": f"Bearer {TOKENS.issue(row['id'], 'patient')}"})
        for row in rows
    ]


def stored_entries(url: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, Acknowledged]:
    """``id → (pain, notes, version)`` of those entries, read straight from the database."""
    wanted = set(ids)

    async def read() -> dict[uuid.UUID, Acknowledged]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                query = sa.select(ENTRIES.c.id, ENTRIES.c.pain, ENTRIES.c.notes, ENTRIES.c.version)
                rows = [row for row in await conn.execute(query) if row.id in wanted]
        finally:
            await engine.dispose()
        return {row.id: (row.pain, row.notes, row.version) for row in rows}

    return asyncio.run(read())


def entry(pain: int, notes: str) -> dict[str, Any]:
    return {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": pain, "notes": notes}


def is_problem_503(response: httpx.Response) -> bool:
    """A clean "try again": 503, problem+json, ``Retry-After``, no stack trace."""
    return (
        response.status_code == 503
        and response.headers.get("content-type", "").startswith("application/problem+json")
        and response.json()["status"] == 503
        and response.headers.get("retry-after") == "2"
        and "Traceback" not in response.text
    )


@dataclass
class Call:
    method: str
    started: float
    finished: float
    status: int | None  # None: no HTTP answer at all (refused, reset, timed out)
    clean: bool  # a 2xx, or a clean 503
    error: str = ""


@dataclass
class Load:
    calls: list[Call] = field(default_factory=list)
    #: id → the last write of it the service acknowledged
    acknowledged: dict[uuid.UUID, Acknowledged] = field(default_factory=dict)
    #: ids whose last write was never acknowledged (given up): their state is unknown
    in_doubt: set[uuid.UUID] = field(default_factory=set)

    async def call(
        self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.calls.append(Call(method, started, time.monotonic(), None, False, repr(exc)))
            return None
        clean = response.is_success or is_problem_503(response)
        error = "" if clean else f"{response.status_code} {response.text[:300]}"
        self.calls.append(
            Call(method, started, time.monotonic(), response.status_code, clean, error)
        )
        return response

    async def put_until_acknowledged(
        self, client: httpx.AsyncClient, patient: Patient, entry_id: uuid.UUID, pain: int
    ) -> None:
        """PUT the way a phone does: the same body again after a 503, for up to 20 s."""
        notes = f"{entry_id.hex[:8]}-{pain}"
        give_up_at = time.monotonic() + 20
        self.in_doubt.add(entry_id)
        while time.monotonic() < give_up_at:
            response = await self.call(
                client,
                "PUT",
                f"{ENTRIES_PATH}/{entry_id}",
                json=entry(pain, notes),
                headers=patient.headers,
            )
            if response is not None and response.status_code in (200, 201):
                self.acknowledged[entry_id] = (pain, notes, response.json()["version"])
                self.in_doubt.discard(entry_id)
                return
            if response is None or response.status_code != 503:
                return  # not worth a retry: the caller reports the unclean call
            await asyncio.sleep(0.1)

    def lost(self, stored: dict[uuid.UUID, Acknowledged]) -> dict[uuid.UUID, Any]:
        """Acknowledged writes the database does not hold exactly: ``id → (acked, stored)``."""
        return {
            entry_id: (acked, stored.get(entry_id))
            for entry_id, acked in self.acknowledged.items()
            if entry_id not in self.in_doubt and stored.get(entry_id) != acked
        }


async def diary_client(
    load: Load, client: httpx.AsyncClient, patient: Patient, stop: asyncio.Event
) -> None:
    """New entries (55 %), replacements of acknowledged ones (20 %), reads (25 %)."""
    mine: list[uuid.UUID] = []
    while not stop.is_set():
        roll = random.random()
        if roll < 0.55 or not mine:
            entry_id = uuid.uuid4()
            await load.put_until_acknowledged(client, patient, entry_id, random.randint(0, 10))
            if entry_id in load.acknowledged:
                mine.append(entry_id)
        elif roll < 0.75:
            entry_id = random.choice(mine)
            pain = (load.acknowledged[entry_id][0] + 1) % 11
            await load.put_until_acknowledged(client, patient, entry_id, pain)
        elif roll < 0.9:
            await load.call(client, "GET", f"{ENTRIES_PATH}?limit=20", headers=patient.headers)
        else:
            path = f"{ENTRIES_PATH}/{random.choice(mine)}"
            await load.call(client, "GET", path, headers=patient.headers)


@dataclass
class FaultRun:
    load: Load
    down: float  #: monotonic time the fault began
    up: float  #: monotonic time the database was back

    def figures(self, stored: dict[uuid.UUID, Acknowledged]) -> dict[str, Any]:
        calls = self.load.calls
        unavailable = [c for c in calls if c.status == 503]
        after = [c.finished for c in calls if c.started >= self.up and c.status in (200, 201)]
        return {
            "requests": len(calls),
            "acknowledged": len(self.load.acknowledged),
            "unavailable_503": len(unavailable),
            "unclean": len([c for c in calls if not c.clean]),
            "in_doubt": len(self.load.in_doubt),
            "lost": len(self.load.lost(stored)),
            "first_success_after_s": round(min(after) - self.up, 2) if after else None,
            "last_503_after_s": round(
                max((c.finished for c in unavailable), default=self.up) - self.up, 2
            ),
            "slowest_s": round(max((c.finished - c.started for c in calls), default=0.0), 2),
        }


def run_with_fault(
    base_url: str,
    patients: list[Patient],
    fault: Callable[[], object],
    *,
    clients: int = 24,
    before: float = 1.5,
    after: float = 3.0,
) -> FaultRun:
    """``clients`` diary clients for ``before`` seconds, then ``fault()`` (blocking: it
    returns when the database is back), then ``after`` seconds more."""

    async def run() -> FaultRun:
        load = Load()
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, timeout=15, limits=limits) as client:
            tasks = [
                asyncio.create_task(diary_client(load, client, patients[i % len(patients)], stop))
                for i in range(clients)
            ]
            await asyncio.sleep(before)
            down = time.monotonic()
            await asyncio.to_thread(fault)
            up = time.monotonic()
            await asyncio.sleep(after)
            stop.set()
            await asyncio.gather(*tasks)
        return FaultRun(load, down, up)

    return asyncio.run(run())
