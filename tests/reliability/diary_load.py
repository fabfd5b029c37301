"""Phone-like diary clients hammering a live server while a fault happens, and the
bookkeeping that proves no acknowledged write was lost (``test_faults.py`` and
``bench/faults.py``).

A client PUTs new entries with ids of its own, replaces some of them, and reads; a failed
PUT is sent again with the same body until it is acknowledged, as a phone does. The phases
of a run end on what the clients were answered, not after fixed times. The last
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
#: How long a client sends a PUT again after 503s before it gives up on it.
GIVE_UP_SECONDS = 60.0
#: After the database is back, a moment for the pool to notice: later requests must succeed.
RECOVERY_GRACE_SECONDS = 2.0
#: A bound on each phase of :func:`run_with_fault` (a failure; they end on conditions).
PHASE_SECONDS = 120.0


@dataclass
class Patient:
    id: uuid.UUID
    headers: dict[str, str]


def add_patients(url: str, count: int) -> list[Patient]:
    """Patients stored directly, with access tokens minted with the live server's key."""
    now = dt.datetime.now(dt.UTC)
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [
        {
            "id": patient_id,
            "email": f"fault-{uuid.uuid4().hex[:10]}@example.org",
            "password_hash": "not-used",
            "role": "patient",
            "timezone": "UTC",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for patient_id in ids
    ]

    async def insert() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(table_of(User)), rows)
                counters = [{"patient_id": patient_id} for patient_id in ids]
                await conn.execute(sa.insert(table_of(ChangeCounter)), counters)
        finally:
            await engine.dispose()

    asyncio.run(insert())
    return [
        Patient(patient_id, {"Authorization": f"Bearer {TOKENS.issue(patient_id, 'patient')}"})
        for patient_id in ids
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
    client: int = 0  #: which diary client sent it


@dataclass
class Load:
    calls: list[Call] = field(default_factory=list)
    #: id → the last write of it the service acknowledged
    acknowledged: dict[uuid.UUID, Acknowledged] = field(default_factory=dict)
    #: ids whose last write was never acknowledged (given up): their state is unknown
    in_doubt: set[uuid.UUID] = field(default_factory=set)
    #: client → when its latest 2xx was sent; client → when its latest 503 arrived. What
    #: the phases of :func:`run_with_fault` wait on (read from another thread, too).
    last_success_started: dict[int, float] = field(default_factory=dict)
    last_503_finished: dict[int, float] = field(default_factory=dict)

    def record(self, call: Call) -> None:
        self.calls.append(call)
        if call.status is not None and 200 <= call.status < 300:
            self.last_success_started[call.client] = call.started
        elif call.status == 503:
            self.last_503_finished[call.client] = call.finished

    def every_client_succeeded_since(self, moment: float, clients: int) -> bool:
        """Whether each of ``clients`` clients was answered a 2xx to a request it sent at or
        after ``moment``."""
        started = self.last_success_started
        return all(started.get(n, -1.0) >= moment for n in range(clients))

    def every_client_refused_since(self, moment: float, clients: int) -> bool:
        """Whether each of ``clients`` clients was answered a 503 at or after ``moment``."""
        finished = self.last_503_finished
        return all(finished.get(n, -1.0) >= moment for n in range(clients))

    async def call(
        self, client: httpx.AsyncClient, method: str, url: str, *, number: int = 0, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.record(Call(method, started, time.monotonic(), None, False, repr(exc), number))
            return None
        clean = response.is_success or is_problem_503(response)
        error = "" if clean else f"{response.status_code} {response.text[:300]}"
        self.record(
            Call(method, started, time.monotonic(), response.status_code, clean, error, number)
        )
        return response

    async def put_until_acknowledged(
        self,
        client: httpx.AsyncClient,
        patient: Patient,
        entry_id: uuid.UUID,
        pain: int,
        *,
        number: int = 0,
    ) -> None:
        """PUT the way a phone does: the same body again after a 503, for up to
        ``GIVE_UP_SECONDS``."""
        notes = f"{entry_id.hex[:8]}-{pain}"
        give_up_at = time.monotonic() + GIVE_UP_SECONDS
        self.in_doubt.add(entry_id)
        while time.monotonic() < give_up_at:
            response = await self.call(
                client,
                "PUT",
                f"{ENTRIES_PATH}/{entry_id}",
                number=number,
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
    load: Load, client: httpx.AsyncClient, patient: Patient, stop: asyncio.Event, number: int = 0
) -> None:
    """New entries (55 %), replacements of acknowledged ones (20 %), reads (25 %)."""
    mine: list[uuid.UUID] = []
    while not stop.is_set():
        roll = random.random()
        if roll < 0.55 or not mine:
            entry_id = uuid.uuid4()
            pain = random.randint(0, 10)
            await load.put_until_acknowledged(client, patient, entry_id, pain, number=number)
            if entry_id in load.acknowledged:
                mine.append(entry_id)
        elif roll < 0.75:
            entry_id = random.choice(mine)
            pain = (load.acknowledged[entry_id][0] + 1) % 11
            await load.put_until_acknowledged(client, patient, entry_id, pain, number=number)
        elif roll < 0.9:
            path = f"{ENTRIES_PATH}?limit=20"
            await load.call(client, "GET", path, number=number, headers=patient.headers)
        else:
            path = f"{ENTRIES_PATH}/{random.choice(mine)}"
            await load.call(client, "GET", path, number=number, headers=patient.headers)


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


async def _until(check: Callable[[], bool], what: str, bound: float) -> None:
    """Poll ``check`` until it holds; AssertionError after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {bound:g} s")
        await asyncio.sleep(0.02)


def run_with_fault(
    base_url: str,
    patients: list[Patient],
    fault: Callable[[], object],
    *,
    clients: int = 24,
    before: float = 1.5,
    after: float = 3.0,
    settle: float = RECOVERY_GRACE_SECONDS,
    load: Load | None = None,
) -> FaultRun:
    """``clients`` diary clients for at least ``before`` seconds and until every client has
    been answered a 2xx; then ``fault()`` (blocking: it returns when the database is
    back); then for at least ``after`` seconds more and until every client has been
    answered a 2xx to a request it sent ``settle`` seconds or more after the database was
    back (so there is load to see whether the service recovered). ``load``: the
    bookkeeping to fill, for a ``fault`` that watches it."""
    bookkeeping = Load() if load is None else load

    async def run() -> FaultRun:
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, timeout=15, limits=limits) as client:
            tasks = [
                asyncio.create_task(
                    diary_client(bookkeeping, client, patients[i % len(patients)], stop, i)
                )
                for i in range(clients)
            ]
            started = time.monotonic()
            await _until(
                lambda: (
                    time.monotonic() >= started + before
                    and bookkeeping.every_client_succeeded_since(started, clients)
                ),
                "every client's first write acknowledged",
                PHASE_SECONDS,
            )
            down = time.monotonic()
            await asyncio.to_thread(fault)
            up = time.monotonic()
            await _until(
                lambda: (
                    time.monotonic() >= up + after
                    and bookkeeping.every_client_succeeded_since(up + settle, clients)
                ),
                f"every client answered 2xx {settle:g} s after the database was back",
                PHASE_SECONDS,
            )
            stop.set()
            await asyncio.gather(*tasks)
        return FaultRun(bookkeeping, down, up)

    return asyncio.run(run())
