"""Rate limits: the sliding window itself (with a fake clock) as each backend counts it —
in process on SQLite, in the database on PostgreSQL — and the sign-in, sign-up and write
limits of an app built with them on (the shared test client has them off)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.accounts.models import User
from app.core.database import Database, create_engine, table_of
from app.core.ratelimit import (
    DatabaseWindow,
    RateLimit,
    RateLimitRow,
    SlidingWindow,
    TooManyRequests,
    rate_limit,
)
from app.diary.models import DiaryEntry
from tests.conftest import PASSWORD, Account, assert_problem, count_rows

ENTRIES = table_of(DiaryEntry)
LIMITS = table_of(RateLimitRow)
USERS = table_of(User)
ENTRY = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4}


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Blocking:
    """A backend's limit (:func:`rate_limit`, as the app builds it) called from a test."""

    def __init__(self, limit: RateLimit, portal: Callable[..., Any]) -> None:
        self.limit, self.portal = limit, portal

    def hit(self, key: str) -> None:
        self.portal(self.limit.hit, key)

    def check(self, key: str) -> None:
        self.portal(self.limit.check, key)


@pytest.fixture
def limiter(db: Database, portal: Callable[..., Any]) -> Callable[..., Blocking]:
    """``limiter(limit, seconds, clock)``: this backend's sliding window on a fake clock."""
    names = iter(range(1000))

    def make(limit: int, seconds: float, clock: FakeClock) -> Blocking:
        return Blocking(rate_limit(db, f"test{next(names)}", limit, seconds, clock), portal)

    return make


def assert_limited(call: Callable[[], Any], retry_after: int) -> TooManyRequests:
    with pytest.raises(TooManyRequests) as raised:
        call()
    error = raised.value
    assert (error.status, error.slug) == (429, "too-many-requests")
    assert error.headers == {"Retry-After": str(retry_after)}
    assert error.detail == f"Too many requests; try again in {retry_after} s."
    return error


# --- SlidingWindow ------------------------------------------------------------------------


def test_the_event_over_the_limit_is_refused(limiter: Callable[..., Blocking]) -> None:
    clock = FakeClock()
    window = limiter(3, 60, clock)

    for step in range(3):
        clock.now = 1000.0 + 10 * step
        window.hit("a")

    clock.now = 1030.0
    assert_limited(lambda: window.hit("a"), retry_after=30)  # the first event ends at 1060
    assert_limited(lambda: window.check("a"), retry_after=30)


def test_keys_are_counted_apart(limiter: Callable[..., Blocking]) -> None:
    window = limiter(1, 60, FakeClock())
    window.hit("a")

    window.hit("b")
    window.check("c")

    assert_limited(lambda: window.hit("a"), retry_after=60)
    assert_limited(lambda: window.hit("b"), retry_after=60)


def test_events_older_than_the_window_are_forgotten(limiter: Callable[..., Blocking]) -> None:
    clock = FakeClock(0.0)
    window = limiter(2, 60, clock)
    window.hit("a")  # t=0
    clock.now = 30.0
    window.hit("a")  # t=30

    clock.now = 59.5
    assert_limited(lambda: window.hit("a"), retry_after=1)  # 0.5 s left, rounded up
    clock.now = 60.0  # the event at t=0 has left the window
    window.hit("a")
    assert_limited(lambda: window.hit("a"), retry_after=30)  # now t=30 is the oldest
    clock.now = 90.0
    window.check("a")
    window.hit("a")
    assert_limited(lambda: window.hit("a"), retry_after=30)


def test_retry_after_is_whole_seconds_rounded_up(limiter: Callable[..., Blocking]) -> None:
    clock = FakeClock(0.0)
    window = limiter(1, 60, clock)
    window.hit("a")

    for now, expected in [(0.0, 60), (0.5, 60), (1.0, 59), (20.25, 40), (59.99, 1)]:
        clock.now = now
        assert_limited(lambda: window.hit("a"), retry_after=expected)


def test_check_does_not_count(limiter: Callable[..., Blocking]) -> None:
    window = limiter(2, 60, FakeClock())

    for _ in range(10):
        window.check("a")
    window.hit("a")
    window.check("a")
    window.hit("a")

    assert_limited(lambda: window.check("a"), retry_after=60)


def test_a_refused_hit_is_not_counted(limiter: Callable[..., Blocking]) -> None:
    clock = FakeClock(0.0)
    window = limiter(1, 60, clock)
    window.hit("a")
    clock.now = 50.0
    assert_limited(lambda: window.hit("a"), retry_after=10)

    clock.now = 60.0  # had the refused hit at t=50 counted, this would still be refused
    window.hit("a")


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_of_zero_is_off(limit: int) -> None:
    window = SlidingWindow(limit, 60, FakeClock())

    for _ in range(1000):
        window.hit("a")
        window.check("a")

    assert window._events == {}


def test_the_number_of_keys_is_bounded() -> None:
    clock = FakeClock(0.0)
    window = SlidingWindow(1, 60, clock)
    window.MAX_KEYS = 3
    for key in ("a", "b", "c"):
        window.hit(key)

    clock.now = 1.0
    window.hit("d")  # full, nothing expired: the oldest key ("a") is forgotten

    assert list(window._events) == ["b", "c", "d"]
    window.hit("a")  # forgotten, so allowed again; "b" makes room
    assert list(window._events) == ["c", "d", "a"]
    assert_limited(lambda: window.hit("c"), retry_after=59)  # kept keys are still counted
    assert_limited(lambda: window.hit("d"), retry_after=60)


def test_a_full_table_drops_expired_keys_first() -> None:
    clock = FakeClock(0.0)
    window = SlidingWindow(2, 60, clock)
    window.MAX_KEYS = 3
    window.hit("a")  # t=0
    clock.now = 10.0
    window.hit("b")  # t=10
    clock.now = 50.0
    window.hit("a")  # t=50: "a" stays live, though it was seen first
    clock.now = 55.0
    window.hit("c")  # t=55

    clock.now = 75.0
    window.hit("d")  # "b" has expired: it goes, and no live key is dropped

    assert list(window._events) == ["a", "c", "d"]
    window.hit("a")
    assert_limited(lambda: window.hit("a"), retry_after=35)  # its t=50 event ends at 110


def test_the_default_bound_is_100000_keys() -> None:
    assert SlidingWindow.MAX_KEYS == 100_000
    clock = FakeClock(0.0)
    window = SlidingWindow(1, 60, clock)
    for n in range(SlidingWindow.MAX_KEYS + 10):
        window.hit(str(n))

    # Full of live keys: the oldest tenth is forgotten at once, the newest are kept.
    assert len(window._events) == SlidingWindow.MAX_KEYS - SlidingWindow.MAX_KEYS // 10 + 10
    assert str(SlidingWindow.MAX_KEYS + 9) in window._events
    assert "0" not in window._events and str(SlidingWindow.MAX_KEYS // 10 - 1) not in window._events
    assert str(SlidingWindow.MAX_KEYS // 10) in window._events


def test_a_limit_of_zero_counts_nothing_on_either_backend(
    limiter: Callable[..., Blocking], db: Database, portal: Callable[..., Any]
) -> None:
    window = limiter(0, 60, FakeClock())
    for _ in range(100):
        window.hit("a")
        window.check("a")
    assert portal(count_rows, db, LIMITS) == 0


@pytest.mark.postgresql_only
def test_concurrent_events_from_two_processes_are_counted_exactly(
    db: Database, database_url: str, portal: Callable[..., Any]
) -> None:
    """Two engines (as two processes: pools of their own) on one database, 60 events at once
    for one key, limit 25: exactly 25 pass, whichever took them; the row holds those 25."""

    mine = DatabaseWindow(db, "burst", 25, 60)

    async def burst() -> list[bool]:
        other = Database(create_engine(database_url))
        limits = [mine, DatabaseWindow(other, "burst", 25, 60)]

        async def one(n: int) -> bool:
            try:
                await limits[n % 2].hit("k")
            except TooManyRequests:
                return False
            return True

        try:
            return list(await asyncio.gather(*(one(n) for n in range(60))))
        finally:
            await other.dispose()

    outcomes = portal(burst)

    assert sum(outcomes) == 25
    events = portal(_events_of, db, mine.row_key("k"))
    assert len(events) == 25 and events == sorted(events)


@pytest.mark.postgresql_only
def test_events_stay_sorted_when_clocks_disagree(db: Database, portal: Callable[..., Any]) -> None:
    clock = FakeClock(100.0)
    limit = DatabaseWindow(db, "skew", 3, 60, clock)
    window = Blocking(limit, portal)
    window.hit("a")
    clock.now = 99.0  # a statement that read its clock earlier but got the row later
    window.hit("a")
    clock.now = 100.5
    window.hit("a")

    assert portal(_events_of, db, limit.row_key("a")) == [100.0, 100.0, 100.5]
    clock.now = 160.0  # the first two left together
    window.hit("a")
    assert portal(_events_of, db, limit.row_key("a")) == [100.5, 160.0]


@pytest.mark.postgresql_only
def test_rows_whose_events_expired_are_swept(db: Database, portal: Callable[..., Any]) -> None:
    clock = FakeClock(0.0)
    limit = DatabaseWindow(db, "sweep", 5, 60, clock)
    window = Blocking(limit, portal)
    for key in ("a", "b", "c"):
        window.hit(key)
    clock.now = 61.0
    limit.SWEEP_SECONDS = 0  # sweep at the next event
    window.hit("d")

    assert portal(_keys, db) == [limit.row_key("d")]


@pytest.mark.postgresql_only
def test_the_table_never_holds_who_tried(db: Database, portal: Callable[..., Any]) -> None:
    """Rows are named by an HMAC of the key under the service's secret: an email or an
    address never reaches the table, and another secret names other rows."""
    limit = DatabaseWindow(db, "failed-sign-ins", 5, 60, secret=b"the service's signing key")
    other = DatabaseWindow(db, "failed-sign-ins", 5, 60, secret=b"another deployment's key")
    Blocking(limit, portal).hit("account:alice@example.org")
    Blocking(limit, portal).hit("203.0.113.7")

    keys = portal(_keys, db)
    assert keys == sorted(
        [limit.row_key("account:alice@example.org"), limit.row_key("203.0.113.7")]
    )
    assert all(
        k.startswith("failed-sign-ins:") and len(k) == len("failed-sign-ins:") + 32 for k in keys
    )
    assert not any("alice" in k or "203.0" in k for k in keys)
    assert other.row_key("203.0.113.7") not in keys


async def _events_of(db: Database, key: str) -> list[float]:
    async with db.read() as conn:
        query = sa.select(LIMITS.c.events).where(LIMITS.c.key == key)
        return list((await conn.execute(query)).scalar_one())


async def _keys(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(LIMITS.c.key).order_by("key"))).scalars())


# --- through HTTP -------------------------------------------------------------------------


def sign_in(c: TestClient, email: str, password: str = PASSWORD) -> httpx2.Response:
    return c.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )


def assert_too_many(response: httpx2.Response, window_seconds: int) -> None:
    assert_problem(response, 429)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= window_seconds


def test_the_third_token_request_in_a_minute_is_429(
    app_with: Callable[..., TestClient], make_account: Callable[..., Account]
) -> None:
    account = make_account("patient")
    c = app_with(sign_ins_per_minute=2)

    good = sign_in(c, account.email)
    wrong = sign_in(c, account.email, "not the password")
    blocked = sign_in(c, account.email)

    assert good.status_code == 200 and good.json()["token_type"] == "bearer"
    assert_problem(wrong, 401)  # failures count too
    assert_too_many(blocked, 60)
    assert "access_token" not in blocked.json()


def test_refresh_grants_count_as_token_requests(
    app_with: Callable[..., TestClient], make_account: Callable[..., Account]
) -> None:
    account = make_account("patient")
    c = app_with(sign_ins_per_minute=2)
    pair = sign_in(c, account.email).json()

    refreshed = c.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    blocked = c.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
    )

    assert refreshed.status_code == 200
    assert_too_many(blocked, 60)


def test_the_second_sign_up_in_an_hour_is_429_and_stores_nobody(
    app_with: Callable[..., TestClient],
    db: Database,
    portal: Callable[..., Any],
) -> None:
    c = app_with(sign_ups_per_hour=1)
    first_email = f"first-{uuid.uuid4().hex[:8]}@example.org"
    second_email = f"second-{uuid.uuid4().hex[:8]}@example.org"

    first = c.post(
        "/v1/auth/register",
        json={"email": first_email, "password": PASSWORD, "role": "patient"},
    )
    second = c.post(
        "/v1/auth/register",
        json={"email": second_email, "password": PASSWORD, "role": "patient"},
    )

    assert first.status_code == 201
    assert_too_many(second, 3600)
    assert portal(count_rows, db, USERS, email=first_email) == 1
    assert portal(count_rows, db, USERS, email=second_email) == 0


def test_the_fourth_write_in_a_minute_is_429_and_not_stored(
    app_with: Callable[..., TestClient],
    make_account: Callable[..., Account],
    db: Database,
    portal: Callable[..., Any],
) -> None:
    account = make_account("patient")
    other = make_account("patient")
    c = app_with(writes_per_minute=3)
    urls = [f"/v1/patients/me/entries/{uuid.uuid4()}" for _ in range(4)]

    written = [c.put(url, json=ENTRY, headers=account.headers) for url in urls[:3]]
    blocked = c.put(urls[3], json=ENTRY, headers=account.headers)

    assert [r.status_code for r in written] == [201, 201, 201]
    assert_too_many(blocked, 60)
    assert portal(count_rows, db, ENTRIES, patient_id=account.id) == 3
    assert c.get(urls[3], headers=account.headers).status_code == 404
    # Reads are not writes.
    assert [c.get(url, headers=account.headers).status_code for url in urls[:3]] == [200] * 3
    listed = c.get("/v1/patients/me/entries", headers=account.headers)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 3
    # Another account has its own allowance.
    theirs = c.put(urls[3], json=ENTRY, headers=other.headers)
    assert theirs.status_code == 201
    assert portal(count_rows, db, ENTRIES, patient_id=other.id) == 1
    # Every kind of write counts: POST, PATCH and DELETE are refused as well.
    assert_too_many(c.post("/v1/patients/me/entries", json=ENTRY, headers=account.headers), 60)
    assert_too_many(c.patch(urls[0], json={"pain": 9}, headers=account.headers), 60)
    assert_too_many(c.delete(urls[0], headers=account.headers), 60)
    assert portal(count_rows, db, ENTRIES, patient_id=account.id) == 3


def test_a_limit_of_zero_lets_everything_through(
    app_with: Callable[..., TestClient],
    make_account: Callable[..., Account],
    db: Database,
    portal: Callable[..., Any],
) -> None:
    account = make_account("patient")
    c = app_with(writes_per_minute=0, sign_ins_per_minute=0, sign_ups_per_hour=0)

    writes = [
        c.put(f"/v1/patients/me/entries/{uuid.uuid4()}", json=ENTRY, headers=account.headers)
        for _ in range(25)
    ]
    sign_ins = [sign_in(c, account.email, "not the password") for _ in range(5)]

    assert [r.status_code for r in writes] == [201] * 25
    assert [r.status_code for r in sign_ins] == [401] * 5
    assert portal(count_rows, db, ENTRIES, patient_id=account.id) == 25


@pytest.mark.postgresql_only
def test_the_table_is_unlogged_and_its_events_uncompressed(
    db: Database, portal: Callable[..., Any]
) -> None:
    """As the migration makes it: no WAL flush per event, no compression of the array."""

    async def table_options() -> tuple[str, str]:
        async with db.read() as conn:
            query = sa.text(
                "SELECT c.relpersistence::text, a.attstorage::text FROM pg_class c"
                " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'events'"
                " WHERE c.relname = 'rate_limits'"
            )
            persistence, storage = (await conn.execute(query)).one()
            return str(persistence), str(storage)

    assert portal(table_options) == ("u", "e")  # unlogged; external
