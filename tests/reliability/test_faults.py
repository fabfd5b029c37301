"""Faults a real ``paindiary serve`` process must survive (contract §8) without losing a
write it acknowledged:

* PostgreSQL restarted while requests are in flight (a TCP proxy between the service and
  the database resets every connection and refuses new ones for 2 s);
* SIGTERM while slow requests are in flight;
* a database that is not reachable when the service starts.

Each test prints one line of figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.core.database import create_engine
from app.core.migrations import head_revision, upgrade
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.reliability.diary_load import (
    ENTRIES_PATH,
    TOKENS,
    add_patients,
    entry,
    is_problem_503,
    run_with_fault,
    stored_entries,
)
from tests.reliability.live_server import ROOT, SECRET, live_server
from tests.reliability.soak import throwaway_database
from tests.reliability.tcp_proxy import tcp_proxy

needs_postgres = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PAINDIARY_TEST_POSTGRES_URL is not set"
)


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


@needs_postgres
def test_postgres_restart_under_load(empty_postgres: str, tmp_path: Path) -> None:
    upgrade(empty_postgres)
    patients = add_patients(empty_postgres, 8)

    with tcp_proxy(*postgres_address()) as proxy:
        with live_server(via_proxy(empty_postgres, proxy.port), tmp_path) as server:
            run = run_with_fault(server.base_url, patients, lambda: proxy.restart(2.0))
            alive = server.process.poll() is None  # recovered by itself, never restarted
            log = server.log()
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
    outside = [c for c in unavailable if not (run.down <= c.finished and c.started <= run.up + 2)]
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
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
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
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() - started < bound:
            try:
                await client.get("/healthz", headers={"Connection": "close"})
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise AssertionError(f"new connections still accepted {bound} s after SIGTERM")


def test_sigterm_under_load(empty_database: str, tmp_path: Path) -> None:
    upgrade(empty_database)
    patients = add_patients(empty_database, 4)
    batches = [batch(500) for _ in range(8)]

    async def run(base_url: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
        async def send(client: httpx.AsyncClient, i: int) -> tuple[httpx.Response, float]:
            response = await client.post(
                f"{ENTRIES_PATH}/batch", json=batches[i], headers=patients[i % 4].headers
            )
            return response, time.monotonic()

        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            tasks = [asyncio.create_task(send(client, i)) for i in range(len(batches))]
            deadline = time.monotonic() + 20
            while not await all_received(base_url, tasks):
                assert time.monotonic() < deadline, "the batches never reached the service"
                await asyncio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            refused = await refused_within(base_url, 3.0)
            results = await asyncio.gather(*tasks)
        exit_code = await asyncio.to_thread(process.wait, 25)
        return {
            "results": results,
            "signalled": signalled,
            "refused": refused,
            "exit_code": exit_code,
            "exited": time.monotonic() - signalled,
        }

    with live_server(empty_database, tmp_path) as server:
        outcome = asyncio.run(run(server.base_url, server.process))
        log = server.log()

    responses = [response for response, _ in outcome["results"]]
    in_flight = sum(finished > outcome["signalled"] for _, finished in outcome["results"])
    written = [uuid.UUID(item["id"]) for body in batches for item in body["items"]]
    stored = stored_entries(empty_database, written)
    print(
        f"\nsigterm: {len(batches)} batches of 500 sent, {in_flight} in flight at the signal, "
        f"{sum(r.status_code == 200 for r in responses)} acknowledged, "
        f"{len(stored)}/{len(written)} entries stored, new connections refused after "
        f"{outcome['refused']:.2f} s, exit code {outcome['exit_code']} "
        f"after {outcome['exited']:.2f} s"
    )
    assert [r.status_code for r in responses] == [200] * len(batches)
    assert all([x["status"] for x in r.json()["results"]] == ["created"] * 500 for r in responses)
    assert in_flight > 0
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
    while not check():
        assert time.monotonic() - started < bound, f"not within {bound} s"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_waits_for_an_unreachable_database(backend: str, tmp_path: Path) -> None:
    stranger = {"Authorization": f"Bearer {TOKENS.issue(uuid.uuid4(), 'patient')}"}
    account = {"email": "back@example.org", "password": "0123456789", "role": "patient"}
    sign_in = {"grant_type": "password", "username": account["email"], "password": "0123456789"}
    with (
        unreachable(backend, tmp_path) as (url, make_reachable),
        live_server(url, tmp_path, wait_for="up") as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        health = client.get("/healthz")
        ready = client.get("/readyz")
        write = client.put(f"{ENTRIES_PATH}/{uuid.uuid4()}", json=entry(3, "x"), headers=stranger)
        make_reachable()
        recovery = seconds_until(lambda: client.get("/readyz").status_code == 200, 35)
        registered = client.post("/v1/auth/register", json=account)
        token = client.post("/v1/auth/token", data=sign_in).json()["access_token"]
        after = client.put(
            f"{ENTRIES_PATH}/{uuid.uuid4()}",
            json=entry(3, "after"),
            headers={"Authorization": f"Bearer {token}"},
        )
        ready_after = client.get("/readyz").json()
        alive = server.process.poll() is None
        log = server.log()

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


@needs_postgres
def test_concurrent_migrations_take_turns(empty_postgres: str) -> None:
    """Two migrations of one new database at once (two hosts starting, or ``migrate`` beside
    ``serve``): the advisory lock makes one wait, then find the schema at head. Without it
    one of two ``paindiary migrate`` processes fails on a duplicate table."""
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(empty_postgres, configure_logger=False)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

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
