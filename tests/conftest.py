"""Test fixtures: every database test runs on SQLite and, when
``PAINDIARY_TEST_POSTGRES_URL`` is set, on a fresh PostgreSQL database made for this run.

The app, its engine and a TestClient live for the whole run of one backend; tables are
emptied before each test. ``portal`` runs coroutines (service functions) on the app's loop.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.accounts.models import User
from app.core.database import Database, async_url, table_of
from app.core.migrations import upgrade
from app.core.sessions import EndedSessions
from app.core.settings import Settings
from app.main import create_app
from app.models import metadata
from app.records.models import ChangeCounter
from tests.databases import throwaway_postgres

POSTGRES_URL = os.environ.get("PAINDIARY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database for this test run; PostgreSQL's is dropped afterwards."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "paindiary.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    assert POSTGRES_URL is not None
    with throwaway_postgres(POSTGRES_URL, "paindiary_test") as url:
        upgrade(url)
        yield url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``postgresql_only`` test is not collected for SQLite (rather than skipped there)."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgresql_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def app_of(client: TestClient) -> FastAPI:
    """The FastAPI app behind a TestClient (``TestClient.app`` is typed as any ASGI app)."""
    assert isinstance(client.app, FastAPI)
    return client.app


def portal_of(client: TestClient) -> BlockingPortal:
    """The portal to the app's event loop; a TestClient has one while it is open."""
    assert client.portal is not None
    return client.portal


def header_bytes(headers: Mapping[str, str | bytes]) -> dict[bytes, bytes]:
    """Headers with raw bytes among them, as httpx sends them: str names and values
    ASCII-encoded, bytes as they are (httpx takes such a mix, but its ``headers``
    parameter is typed as all str or all bytes)."""
    return {
        name.encode("ascii"): value if isinstance(value, bytes) else value.encode("ascii")
        for name, value in headers.items()
    }


@pytest.fixture(scope="session")
def backend(database_url: str) -> str:
    return async_url(database_url).get_backend_name()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings: per-account and per-address rate limits are off unless a test turns
    them on (every test client shares one address)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET,
        "writes_per_minute": 0,
        "sign_ins_per_minute": 0,
        "failed_sign_ins_per_account": 0,
        "sign_ups_per_hour": 0,
    } | overrides
    return Settings(**values)


@pytest.fixture(scope="session")
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def app_with(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """``app_with(**settings)``: a TestClient of an app built with these settings, on the
    shared database (so accounts made by ``make_account`` work there)."""
    with ExitStack() as stack:

        def build(**settings: Any) -> TestClient:
            app = create_app(make_settings(database_url, **settings))
            return stack.enter_context(TestClient(app))

        yield build


@pytest.fixture(scope="session")
def db(client: TestClient) -> Database:
    database: Database = app_of(client).state.db
    return database


@pytest.fixture
def portal(client: TestClient) -> Callable[..., Any]:
    """Run ``await fn(*args)`` on the app's event loop, e.g. a service function."""
    loop = portal_of(client)

    def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return loop.call(lambda: fn(*args, **kwargs))

    return call


async def _empty_tables(db: Database) -> None:
    # DELETE beats TRUNCATE on tables this small (TRUNCATE has a fixed cost per table).
    async with db.transaction() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "client" in request.fixturenames:
        client: TestClient = request.getfixturevalue("client")
        app = app_of(client)
        portal_of(client).call(_empty_tables, app.state.db)
        # The tables are empty again, so is the app's view of the ended sessions (tests
        # reuse account ids, which an erased account's never are).
        ended = app.state.ended_sessions
        app.state.ended_sessions = EndedSessions(
            int(ended.lifetime.total_seconds()), ended.check_seconds
        )
        client.cookies.clear()


@dataclass
class Account:
    id: uuid.UUID
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def password_hash(client: TestClient) -> str:
    """One real Argon2id hash of PASSWORD, shared by the accounts the factory makes."""
    return str(app_of(client).state.passwords.hash(PASSWORD))


async def _insert_account(db: Database, row: dict[str, Any]) -> None:
    async with db.transaction() as conn:
        await conn.execute(sa.insert(table_of(User)).values(row))
        if row["role"] == "patient":
            await conn.execute(sa.insert(table_of(ChangeCounter)).values(patient_id=row["id"]))


@pytest.fixture
def make_account(client: TestClient, password_hash: str) -> Callable[..., Account]:
    """An account stored directly (hashing a password per test would dominate the suite's
    time; the register route has tests of its own); its access token is minted directly.
    Signing in with PASSWORD works."""
    counter = iter(range(1_000_000))

    def make(role: str = "patient", **fields: Any) -> Account:
        email = (
            fields.pop("email", None) or f"user{next(counter)}-{uuid.uuid4().hex[:6]}@example.org"
        )
        now = dt.datetime.now(dt.UTC)
        row = {
            "id": uuid.uuid4(),
            "email": email.lower(),
            "password_hash": password_hash,
            "role": role,
            "display_name": fields.pop("display_name", None),
            "timezone": fields.pop("timezone", "UTC"),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        assert not fields, f"unknown account fields {fields}"
        state = app_of(client).state
        portal_of(client).call(_insert_account, state.db, row)
        token = state.tokens.issue(row["id"], role)
        return Account(row["id"], email, role, token)

    return make


@pytest.fixture
def patient(make_account: Callable[..., Account]) -> Account:
    return make_account("patient", display_name="Pat Patient", timezone="Europe/Berlin")


@pytest.fixture
def other_patient(make_account: Callable[..., Account]) -> Account:
    return make_account("patient")


@pytest.fixture
def clinician(make_account: Callable[..., Account]) -> Account:
    return make_account("clinician", display_name="Dr. Chen")


def is_periodic(statement: str) -> bool:
    """Whether a statement is the process's look at the sessions ended elsewhere: made by
    whichever request comes at most every 0.5 s (``app/core/sessions.py``), so a busy
    machine may put it in any request; a request's own statements are counted without it."""
    return "FROM ended_sessions" in statement


@contextmanager
def statements_sent(
    db: Database, monkeypatch: pytest.MonkeyPatch, seen: Callable[[str, Any], None]
) -> Iterator[None]:
    """Calls ``seen(statement, parameters)`` for every SQL statement the app's engine sends
    for requests meanwhile: through SQLAlchemy, and those the app runs on the driver itself
    (``Database._on_driver``, PostgreSQL; their parameters are not seen: ``{}``); not the
    process's look at ended sessions (``is_periodic``)."""

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not is_periodic(statement):
            seen(statement, parameters)

    on_driver = Database._on_driver

    async def recorded(self: Database, conn: Any, statement: Any, run: Any) -> Any:
        if self is db:
            seen(str(statement.compile(dialect=db.engine.dialect)), {})
        return await on_driver(self, conn, statement, run)

    monkeypatch.setattr(Database, "_on_driver", recorded)
    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
def statements(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends for requests while the test runs
    (``statements_sent``)."""
    seen: list[str] = []
    with statements_sent(db, monkeypatch, lambda statement, _: seen.append(statement)):
        yield seen


async def count_rows(db: Database, table: sa.Table, **where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    async with db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


def assert_problem(response: Any, status: int, *, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and names ``field`` if given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    if field is not None:
        assert status == 422
        locs = [".".join(str(p) for p in e["loc"]) for e in body["errors"]]
        assert any(field in loc for loc in locs), (field, locs)
    return body
