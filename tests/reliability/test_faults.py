"""Faults a real ``paindiary serve`` process must survive (contract §8) without losing a
write it acknowledged:

* PostgreSQL restarted while requests are in flight (a TCP proxy between the service and
  the database resets every connection and refuses new ones for at least 2 s, and until
  every client has been answered 503);
* SIGTERM while slow requests are in flight (some of them held in flight: their bodies are
  still being sent when the signal comes);
* a database that is not reachable when the service starts.

Every step waits for what it needs to have happened (the server's own gauge of requests
in flight, its log, the clients' answers), never for a fixed time; the time limits only
bound a failure. Each test prints one line of figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import create_engine
from app.core.migrations import MIGRATION_LOCK, head_revision, upgrade
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.reliability.diary_load import (
    ENTRIES_PATH,
    RECOVERY_GRACE_SECONDS,
    TOKENS,
    Load,
    add_patients,
    entry,
    is_problem_503,
    run_with_fault,
    stored_entries,
)
from tests.reliability.live_server import (
    ROOT,
    SECRET,
    START_SECONDS,
    LiveServer,
    live_server,
    poll_until,
)
from tests.reliability.soak import throwaway_database
from tests.reliability.tcp_proxy import tcp_proxy

needs_postgres = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PAINDIARY_TEST_POSTGRES_URL is not set"
)
#: A bound on waiting for something that should happen within a second or two (the
#: machine may be slow and busy): only a failure takes this long.
PATIENCE = 60.0


# --- databases and accounts -------------------------------------------------------------


def postgres_database() -> AbstractContextManager[str]:
    """A throwaway database on the test server, dropped afterwards."""
    return throwaway_database("postgresql", Path(), POSTGRES_URL)


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new database with no tables."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'faults.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def via_proxy(url: str, port: int) -> str:
    """``url`` pointed at the proxy on ``port``, with a password PostgreSQL's trust
    authentication ignores (the service must never print it)."""
    return (
        make_url(url)
        .set(host="127.0.0.1", port=port, password="s3cret-password")
        .render_as_string(hide_password=False)
    )


def postgres_address() -> tuple[str, int]:
    assert POSTGRES_URL is not None
    parsed = make_url(POSTGRES_URL)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def error_lines(log: str) -> list[str]:
    """The log's error lines (JSON, the default format)."""
    return [line for line in log.splitlines() if '"level":"error"' in line]


# --- 1. PostgreSQL restarted under load -------------------------------------------------


OUTAGE_SECONDS = 2.0  #: the database is down at least this long
CLIENTS = 24


@needs_postgres
def test_postgres_restart_under_load(empty_postgres: str, tmp_path: Path) -> None:
    upgrade(empty_postgres)
    patients = add_patients(empty_postgres, 8)
    load = Load()

    with tcp_proxy(*postgres_address()) as proxy:

        def restart() -> None:
            """Refuse new connections and reset the open ones; accept again once the outage
            has lasted OUTAGE_SECONDS and every client has been answered 503 during it."""
            began = time.monotonic()
            proxy.refuse()
            try:
                proxy.reset()
                poll_until(
                    lambda: (
                        time.monotonic() >= began + OUTAGE_SECONDS
                        and load.every_client_refused_since(began, CLIENTS)
                    ),
                    "every client answered 503 while the database was down",
                    timeout=PATIENCE,
                )
            finally:
                proxy.accept()

        with live_server(via_proxy(empty_postgres, proxy.port), tmp_path) as server:
            run = run_with_fault(server.base_url, patients, restart, clients=CLIENTS, load=load)
            alive = server.process.poll() is None  # recovered by itself, never restarted
        log = server.log()  # all of it: the server has exited
        reset = proxy.reset_connections

    load = run.load
    stored = stored_entries(empty_postgres, list(load.acknowledged))
    figures = run.figures(stored)
    print(f"\nrestart: {figures}, {reset} database connections reset")
    unclean = [c for c in load.calls if not c.clean]
    assert unclean == [], unclean[:5]
    unavailable = [c for c in load.calls if c.status == 503]
    assert unavailable, "the restart did not fail a single request"
    # Every 503 ended after the restart began and started before the database was back
    # (plus a moment for the pool to notice): the service recovered by itself.
    grace = run.up + RECOVERY_GRACE_SECONDS
    outside = [c for c in unavailable if not (run.down <= c.finished and c.started <= grace)]
    assert outside == [], [(c.started - run.up, c.finished - run.up) for c in outside]
    assert figures["first_success_after_s"] < 5
    assert figures["slowest_s"] < 10  # nothing hangs (the client would wait 15 s)
    assert load.lost(stored) == {}
    assert load.in_doubt == set()
    assert alive
    # One line per failed request, and no traceback: the outage is not a crash.
    assert all("database" in line and "exception" not in line for line in error_lines(log))
    assert "s3cret-password" not in log


# --- 2. SIGTERM under load ---------------------------------------------------------------


def batch(count: int) -> dict[str, Any]:
    return {
        "items": [
            {"id": str(uuid.uuid4()), "recorded_at": "2026-11-20T08:30:00+01:00", "pain": i % 11}
            for i in range(count)
        ]
    }


async def all_received(base_url: str, tasks: list[asyncio.Task[Any]]) -> bool:
    """Whether every request has reached the application: answered already, or in flight
    by the service's own gauge (which counts the ``/metrics`` request too). Answers are
    counted first, so a request finishing in between is missed, never counted twice."""
    answered = sum(task.done() for task in tasks)
    async with httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as client:
        text = (await client.get("/metrics")).text
    gauge = next(
        line for line in text.splitlines() if line.startswith("paindiary_http_requests_in_flight ")
    )
    return answered + float(gauge.split()[1]) - 1 >= len(tasks)


async def refused_within(base_url: str, bound: float) -> float:
    """Seconds until a new connection is turned away unanswered: refused, or closed when it
    was still in the listen queue. uvicorn closes its socket on its next tick after the
    signal; until then it still answers."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=bound) as client:
        while time.monotonic() - started < bound:
            try:
                await client.get("/healthz", headers={"Connection": "close"})
            except (
                httpx.ConnectError,
                httpx.ReadError,
                httpx.WriteError,
                httpx.RemoteProtocolError,
            ):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise AssertionError(f"new connections still accepted {bound} s after SIGTERM")


HELD = 4  #: of the batches, how many are held in flight until new connections are refused


def test_sigterm_under_load(empty_database: str, tmp_path: Path) -> None:
    """SIGTERM while batches are in flight: every one is answered and stored, new
    connections are refused meanwhile, and the process exits 0 by itself.

    Half the batches are sent at once: the service may be working on them at the signal.
    The other half send their bodies in two parts and hold back the second until new
    connections are refused: these are in flight at the signal whatever the machine's
    speed, and are answered only after the service began to shut down."""
    upgrade(empty_database)
    patients = add_patients(empty_database, 4)
    batches = [batch(500) for _ in range(8)]

    async def run(base_url: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
        release = asyncio.Event()

        async def held_back(body: bytes) -> AsyncIterator[bytes]:
            yield body[: len(body) // 2]
            await release.wait()
            yield body[len(body) // 2 :]

        async def send(client: httpx.AsyncClient, i: int) -> tuple[httpx.Response, float]:
            url, headers = f"{ENTRIES_PATH}/batch", patients[i % 4].headers
            if i < HELD:
                body = held_back(json.dumps(batches[i]).encode())
                headers = {**headers, "Content-Type": "application/json"}
                response = await client.post(url, content=body, headers=headers)
            else:
                response = await client.post(url, json=batches[i], headers=headers)
            return response, time.monotonic()

        async with httpx.AsyncClient(base_url=base_url, timeout=PATIENCE) as client:
            tasks = [asyncio.create_task(send(client, i)) for i in range(len(batches))]
            deadline = time.monotonic() + PATIENCE
            while not await all_received(base_url, tasks):
                assert time.monotonic() < deadline, "the batches never reached the service"
                await asyncio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            # Well within uvicorn's 20 s of graceful shutdown, which the held batches need.
            refused = await refused_within(base_url, 15.0)
            held_in_flight = sum(not task.done() for task in tasks[:HELD])
            release.set()
            results = await asyncio.gather(*tasks)
        exit_code = await asyncio.to_thread(process.wait, PATIENCE)
        return {
            "results": results,
            "signalled": signalled,
            "refused": refused,
            "held_in_flight": held_in_flight,
            "exit_code": exit_code,
            "exited": time.monotonic() - signalled,
        }

    with live_server(empty_database, tmp_path) as server:
        outcome = asyncio.run(run(server.base_url, server.process))
    log = server.log()  # all of it: the server has exited

    responses = [response for response, _ in outcome["results"]]
    in_flight = sum(finished > outcome["signalled"] for _, finished in outcome["results"])
    written = [uuid.UUID(item["id"]) for body in batches for item in body["items"]]
    stored = stored_entries(empty_database, written)
    print(
        f"\nsigterm: {len(batches)} batches of 500 sent, {in_flight} in flight at the signal "
        f"({HELD} held), {sum(r.status_code == 200 for r in responses)} acknowledged, "
        f"{len(stored)}/{len(written)} entries stored, new connections refused after "
        f"{outcome['refused']:.2f} s, exit code {outcome['exit_code']} "
        f"after {outcome['exited']:.2f} s"
    )
    assert [r.status_code for r in responses] == [200] * len(batches)
    assert all([x["status"] for x in r.json()["results"]] == ["created"] * 500 for r in responses)
    assert in_flight > 0
    assert outcome["held_in_flight"] == HELD  # refused new connections while these were open
    assert len(stored) == len(written)
    assert outcome["exit_code"] == 0
    assert outcome["exited"] < 20
    assert error_lines(log) == []


# --- 3. database unreachable at start ----------------------------------------------------


@contextmanager
def unreachable(backend: str, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A database URL the service cannot reach yet, and the function that makes it
    reachable: a SQLite file in a directory still to be made, or an empty PostgreSQL
    database behind a proxy that refuses connections until it accepts them."""
    if backend == "sqlite":
        directory = tmp_path / "not-yet"
        yield f"sqlite:///{directory / 'paindiary.db'}", directory.mkdir
        return
    with (
        postgres_database() as url,
        tcp_proxy(*postgres_address(), accepting=False) as proxy,
    ):
        yield via_proxy(url, proxy.port), proxy.accept


def seconds_until(check: Callable[[], bool], bound: float) -> float:
    started = time.monotonic()
    poll_until(check, "the service ready", timeout=bound, interval=0.1)
    return time.monotonic() - started


def said_unreachable(server: LiveServer) -> bool:
    return any("unreachable" in line for line in error_lines(server.log()))


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_waits_for_an_unreachable_database(backend: str, tmp_path: Path) -> None:
    stranger = {"Authorization": f"Bearer {TOKENS.issue(uuid.uuid4(), 'patient')}"}
    account = {"email": "back@example.org", "password": "0123456789", "role": "patient"}
    sign_in = {"grant_type": "password", "username": account["email"], "password": "0123456789"}
    with (
        unreachable(backend, tmp_path) as (url, make_reachable),
        live_server(url, tmp_path, wait_for="up") as server,
        httpx.Client(base_url=server.base_url, timeout=PATIENCE) as client,
    ):
        health = client.get("/healthz")
        ready = client.get("/readyz")
        write = client.put(f"{ENTRIES_PATH}/{uuid.uuid4()}", json=entry(3, "x"), headers=stranger)
        # Its first attempt to migrate has failed, and said so, before the database becomes
        # reachable (else that attempt could find it reachable and never say a word).
        poll_until(lambda: said_unreachable(server), "the error line", timeout=START_SECONDS)
        make_reachable()
        # Serve retries after 1, 2, 4 … 30 s: a bound on a failure, not a guess.
        recovery = seconds_until(lambda: client.get("/readyz").status_code == 200, 90)
        registered = client.post("/v1/auth/register", json=account)
        token = client.post("/v1/auth/token", data=sign_in).json()["access_token"]
        after = client.put(
            f"{ENTRIES_PATH}/{uuid.uuid4()}",
            json=entry(3, "after"),
            headers={"Authorization": f"Bearer {token}"},
        )
        ready_after = client.get("/readyz").json()
        alive = server.process.poll() is None
    log = server.log()  # all of it: the server has exited

    print(f"\nunreachable at start ({backend}): ready {recovery:.2f} s after it was reachable")
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert is_problem_503(write), write.text
    assert write.headers["retry-after"] == "2"
    assert registered.status_code == 201, registered.text
    assert after.status_code == 201, after.text
    assert ready_after == {"status": "ok", "database": "reachable", "migration": head_revision()}
    assert alive  # the same process throughout: no crash, no restart
    errors = error_lines(log)
    assert len(errors) == 1, log
    assert "unreachable" in errors[0]
    assert "Traceback" not in log
    assert "s3cret-password" not in log


def paindiary_migrate(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=ROOT,
        env={**os.environ, "PAINDIARY_DATABASE_URL": url, "PAINDIARY_SECRET_KEY": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_migrate_with_an_unreachable_database() -> None:
    urls = [
        "postgresql://postgres:s3cret-password@127.0.0.1:1/paindiary",  # a closed port
        "sqlite:////nonexistent-directory/paindiary.db",
    ]
    processes = [paindiary_migrate(url) for url in urls]  # side by side: each starts slowly

    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1
        assert err.count("\n") == 1, err
        assert err.startswith("paindiary: database ")
        assert "is unreachable" in err
        assert "s3cret-password" not in out + err


async def waiting_for_the_migration_lock(conn: AsyncConnection) -> int:
    """How many sessions of this database wait for the migration lock now."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid::bigint = :key "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int((await conn.execute(query, {"key": MIGRATION_LOCK})).scalar_one())


@needs_postgres
def test_concurrent_migrations_take_turns(empty_postgres: str) -> None:
    """Two migrations of one new database at once (two hosts starting, or ``migrate`` beside
    ``serve``): the advisory lock makes one wait, then find the schema at head. Without it
    one of two ``paindiary migrate`` processes fails on a duplicate table.

    "At once" for sure: the test holds the lock until both wait for it, then lets go."""
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(empty_postgres, configure_logger=False)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]

    async def both_at_once() -> None:
        engine = create_engine(empty_postgres)
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                lock = {"key": MIGRATION_LOCK}
                await conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), lock)
                for thread in threads:
                    thread.start()
                deadline = time.monotonic() + PATIENCE
                while await waiting_for_the_migration_lock(conn) < len(threads):
                    assert not errors, errors
                    assert time.monotonic() < deadline, "the migrations never both waited"
                    await asyncio.sleep(0.02)
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), lock)
        finally:
            await engine.dispose()

    asyncio.run(both_at_once())
    for thread in threads:
        thread.join(PATIENCE)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    async def current() -> str | None:
        engine = create_engine(empty_postgres)
        try:
            async with engine.connect() as conn:
                query = sa.text("SELECT version_num FROM alembic_version")
                return (await conn.execute(query)).scalar_one()
        finally:
            await engine.dispose()

    assert asyncio.run(current()) == head_revision()
