"""The connection pool's pre-ping: a connection the server dropped is replaced before use."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.database import Database, create_engine
from tests.conftest import Account


async def _kill_other_backends(url: str) -> int:
    """Terminate every other connection to this database (what a server restart does)."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        killed = (
            await conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    await engine.dispose()
    return int(killed)


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


async def _ping_twice(url: str) -> list[str]:
    """The statements the pool sends to check a pooled connection."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
    sent: list[str] = []
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        asyncpg_connection = raw.driver_connection
        asyncpg_connection.add_query_logger(lambda record: sent.append(record.query))
    async with engine.connect() as conn:  # checkout → ping
        await conn.execute(sa.text("SELECT 2"))
    await engine.dispose()
    return sent


def test_the_pre_ping_is_one_empty_statement(backend: str, database_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("the asyncpg ping only")
    import asyncio

    sent = asyncio.run(_ping_twice(database_url))
    # SQLAlchemy's own ping would send BEGIN; ; ROLLBACK; before the request's transaction.
    assert [q.strip().upper() for q in sent] == [";", "BEGIN;", "ROLLBACK;"]
