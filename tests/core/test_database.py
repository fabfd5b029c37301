"""The connection pool: a connection the server dropped is replaced before use, the pre-ping
sends nothing, a busy pool answers 503, and statements run by asyncpg directly fail as
SQLAlchemy's do."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.database import Database, create_engine
from tests.conftest import Account

OTHER_BACKENDS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


async def _over_other_backends(url: str, select: str) -> int:
    engine = create_engine(url)
    async with engine.connect() as conn:
        count = (await conn.execute(sa.text(f"SELECT {select} {OTHER_BACKENDS}"))).scalar_one()
    await engine.dispose()
    return int(count)


async def _kill_other_backends(url: str) -> int:
    """Terminate every other connection to this database (what a server restart does);
    wait until the server has closed them (pg_terminate_backend only signals), then give
    this event loop a moment to read the closed sockets, as it does between requests."""
    killed = await _over_other_backends(url, "count(pg_terminate_backend(pid))")
    for _ in range(500):
        if await _over_other_backends(url, "count(*)") == 0:
            await asyncio.sleep(0.05)
            return killed
        await asyncio.sleep(0.01)
    raise AssertionError("the terminated backends did not exit")


def test_dropped_connections_are_replaced_before_a_request_uses_them(
    client: TestClient, patient: Account, backend: str, database_url: str, db: Database
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite connections are files: nothing can drop them")
    for _ in range(3):  # fill the pool with connections the server will drop
        assert client.get("/v1/patients/me/entries", headers=patient.headers).status_code == 200
    assert db.engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    assert client.portal.call(_kill_other_backends, database_url) >= 1  # type: ignore[union-attr]
    entry_id = uuid.uuid4()
    body = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4}
    put = client.put(f"/v1/patients/me/entries/{entry_id}", json=body, headers=patient.headers)
    assert put.status_code == 201, put.text
    again = client.get(f"/v1/patients/me/entries/{entry_id}", headers=patient.headers)
    assert again.status_code == 200 and again.json()["pain"] == 4


async def _queries_sent(url: str) -> tuple[int, int]:
    """Queries a pooled connection sends for a checkout alone, and for one with a statement."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        protocol = raw.driver_connection._protocol  # counts every query sent on it
        await conn.execute(sa.text("SELECT 1"))
    before = protocol.queries_count
    async with engine.connect():  # checkout → pre-ping
        pass
    after_checkout = protocol.queries_count
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 2"))
    after_statement = protocol.queries_count
    await engine.dispose()
    return after_checkout - before, after_statement - after_checkout


def test_the_pre_ping_sends_nothing(backend: str, database_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("the asyncpg pool only")
    checkout, with_statement = asyncio.run(_queries_sent(database_url))
    # SQLAlchemy's own ping would send BEGIN; ; ROLLBACK; at each checkout.
    assert checkout == 0
    assert with_statement >= 1  # the counter does count what is sent
