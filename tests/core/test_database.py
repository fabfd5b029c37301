"""The connection pool: a connection the server dropped is replaced before use, the pre-ping
sends nothing, a busy pool answers 503, and statements run by asyncpg directly fail as
SQLAlchemy's do."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.pool import QueuePool

from app.core.database import Database, create_engine, table_of
from app.diary.models import DiaryEntry
from app.diary.schemas import EntryIn
from app.diary.service import entries
from app.records import changes
from app.records import service as records
from app.records.service import new_row
from tests.conftest import Account, app_of, assert_problem, count_rows, portal_of

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


@pytest.mark.postgresql_only  # SQLite connections are files: nothing can drop them
def test_dropped_connections_are_replaced_before_a_request_uses_them(
    client: TestClient, patient: Account, backend: str, database_url: str, db: Database
) -> None:
    for _ in range(3):  # fill the pool with connections the server will drop
        assert client.get("/v1/patients/me/entries", headers=patient.headers).status_code == 200
    pool = db.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() >= 1
    assert portal_of(client).call(_kill_other_backends, database_url) >= 1
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
        assert raw.driver_connection is not None
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


@pytest.mark.postgresql_only  # the asyncpg pool only
def test_the_pre_ping_sends_nothing(backend: str, database_url: str) -> None:
    checkout, with_statement = asyncio.run(_queries_sent(database_url))
    # SQLAlchemy's own ping would send BEGIN; ; ROLLBACK; at each checkout.
    assert checkout == 0
    assert with_statement >= 1  # the counter does count what is sent


# --- statements run by asyncpg, and lists of ids ----------------------------------------

ENTRIES = table_of(DiaryEntry)
ENTRY = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4}


def _rows(patient_id: uuid.UUID, pains: list[int]) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    body = EntryIn(**ENTRY, sites=[{"region": "neck", "side": "left"}], notes="über")
    rows = []
    for position, pain in enumerate(pains, start=1):
        entry = body.model_copy(update={"pain": pain})  # unvalidated: 99 gets through
        values = asyncio.run(entries.prepare(None, patient_id, entry, None, now))  # type: ignore[arg-type]
        rows.append(new_row(values, patient_id, uuid.uuid4(), 1, now, position))
    return rows


async def _insert_many(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with db.transaction() as conn:
        await db.insert_many(conn, ENTRIES, rows)
    async with db.read() as conn:
        stored = await conn.execute(sa.select(ENTRIES).order_by(ENTRIES.c.change_position))
        return [dict(row) for row in stored.mappings()]


def test_insert_many_stores_every_column(
    db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    rows = _rows(patient.id, [3, 7])
    assert portal(_insert_many, db, rows) == rows


def test_insert_many_refused_raises_sqlalchemys_error_and_stores_nothing(
    db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        portal(_insert_many, db, _rows(patient.id, [3, 99]))  # past validation, against CHECK
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 0


async def _tombstones_of(db: Database, patient_id: uuid.UUID, ids: list[uuid.UUID]) -> Any:
    async with db.read() as conn:
        return await changes.tombstone_versions(conn, patient_id, "entry", ids)


def test_a_list_of_ids_is_one_statement_text_whatever_its_length(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    backend: str,
    statements: list[str],
) -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    for record_id in ids[:3]:
        url = f"/v1/patients/me/entries/{record_id}"
        assert client.put(url, json=ENTRY, headers=patient.headers).status_code == 201
        assert client.delete(url, headers=patient.headers).status_code == 204
    statements.clear()
    assert portal(_tombstones_of, db, patient.id, ids[:2]) == {ids[0]: 2, ids[1]: 2}
    assert portal(_tombstones_of, db, patient.id, ids) == {i: 2 for i in ids[:3]}
    assert portal(_tombstones_of, db, patient.id, []) == {}
    if backend == "postgresql":  # one array parameter: prepared once for any count
        assert len(set(statements)) == 1, statements


# --- the creation statement, run through asyncpg ------------------------------------------


def _entry_path() -> str:
    return f"/v1/patients/me/entries/{uuid.uuid4()}"


def _creation(patient_id: uuid.UUID, pain: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    entry = EntryIn.model_construct(**EntryIn(**ENTRY).model_dump() | {"pain": pain})
    values = asyncio.run(entries.prepare(None, patient_id, entry, None, now))  # type: ignore[arg-type]
    row = {**values, "patient_id": patient_id, "id": uuid.uuid4()}
    return records.creation_parameters(row | {"created_at": now, "updated_at": now})


async def _first_row(db: Database, params: dict[str, Any]) -> Any:
    statement = records.create_with_position(entries.table, entries.name)
    async with db.single_statement() as conn:
        return await db.first_row(conn, statement, params)


@pytest.mark.postgresql_only  # the creation statement is PostgreSQL's
def test_a_statement_the_database_refuses_raises_sqlalchemys_error(
    backend: str, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    params = _creation(patient.id, pain=99)  # past validation, against the CHECK
    with pytest.raises(sa.exc.IntegrityError):
        portal(_first_row, db, params)
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 0
    stored = portal(_first_row, db, _creation(patient.id, pain=3))
    assert (stored["version"], stored["change_position"]) == (1, 1)
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 1


async def _on_a_killed_connection(db: Database, url: str, params: dict[str, Any]) -> Any:
    statement = records.create_with_position(entries.table, entries.name)
    async with db.single_statement() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        pid = await driver.fetchval("SELECT pg_backend_pid()")
        killer = create_engine(url)
        async with killer.connect() as other:
            await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await killer.dispose()
        for _ in range(200):  # until the server has closed it
            if driver.is_closed():
                break
            await asyncio.sleep(0.01)
        return await db.first_row(conn, statement, params)


@pytest.mark.postgresql_only  # asyncpg runs the statement on PostgreSQL only
def test_a_lost_connection_is_sqlalchemys_disconnect(
    backend: str,
    database_url: str,
    db: Database,
    portal: Callable[..., Any],
    client: TestClient,
    patient: Account,
) -> None:
    params = _creation(patient.id, pain=3)
    with pytest.raises(sa.exc.DBAPIError) as raised:
        portal(_on_a_killed_connection, db, database_url, params)
    assert raised.value.connection_invalidated
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 0
    # The pool replaced the connection: the next request is served.
    created = client.put(_entry_path(), json=ENTRY, headers=patient.headers)
    assert created.status_code == 201, created.text


@pytest.mark.postgresql_only  # the pool settings are PostgreSQL's
def test_a_pool_with_no_free_connection_answers_503(
    backend: str,
    app_with: Callable[..., TestClient],
    make_account: Callable[..., Account],
) -> None:
    account = make_account("patient")
    c = app_with(db_pool_size=1, db_pool_timeout=0.2)
    app_db: Database = app_of(c).state.db
    portal = portal_of(c)
    held = portal.call(app_db.engine.connect)
    try:
        busy = c.put(_entry_path(), json=ENTRY, headers=account.headers)
    finally:
        portal.call(held.close)
    assert_problem(busy, 503)
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["detail"] == "The service is busy; try again shortly."
    served = c.put(_entry_path(), json=ENTRY, headers=account.headers)
    assert served.status_code == 201, served.text
