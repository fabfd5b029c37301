"""Two ``paindiary serve`` processes on one PostgreSQL database, as two replicas behind a
load balancer (contract §1): a limit reached through one holds on the other; a session
ended through one is refused by the other within a second; and no write is lost while one
of them restarts under load.

The servers trust ``X-Forwarded-For`` from 127.0.0.1 (``PAINDIARY_FORWARDED_ALLOW_IPS``), as
they would behind a proxy, so that each test's clients come from addresses of their own.
Every wait is on a condition; the time limits only bound a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.core.database import create_engine
from app.core.migrations import upgrade
from tests.conftest import POSTGRES_URL
from tests.reliability.diary_load import ENTRIES, ENTRIES_PATH, entry, stored_entries
from tests.reliability.live_server import live_server, poll_until
from tests.reliability.soak import throwaway_database

pytestmark = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PAINDIARY_TEST_POSTGRES_URL is not set"
)

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a new and longer passphrase"
#: The limits of the pair of servers, low enough to reach in a test.
LIMITS = {
    "forwarded_allow_ips": "127.0.0.1",
    "sign_ups_per_hour": "2",
    "sign_ins_per_minute": "5",
    "failed_sign_ins_per_account": "3",
    "writes_per_minute": "4",
    "link_attempts_per_window": "3",
}
#: Contract §1: an ended session is refused within 1 s on every process.
ENDED_WITHIN_SECONDS = 1.0
#: A bound on a failure (a slow, busy machine); a healthy run takes a fraction of it.
PATIENCE = 60.0

_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def new_address() -> dict[str, str]:
    """Headers that make the next requests come from an address no other test used."""
    return {"X-Forwarded-For": next(_addresses)}


@dataclass
class Pair:
    """Two servers on one database; ``a`` and ``b`` are clients of each."""

    url: str
    a: httpx.Client
    b: httpx.Client


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp_path = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        url = stack.enter_context(throwaway_database("postgresql", Path(), POSTGRES_URL))
        upgrade(url)
        servers = [
            stack.enter_context(live_server(url, tmp_path, workers=1, wait_for="ready", **LIMITS))
            for _ in range(2)
        ]
        a, b = (
            stack.enter_context(httpx.Client(base_url=s.base_url, timeout=PATIENCE))
            for s in servers
        )
        yield Pair(url, a, b)


def register(client: httpx.Client, role: str = "patient", **headers: str) -> str:
    email = f"replica-{uuid.uuid4().hex[:10]}@example.org"
    response = client.post(
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "role": role},
        headers=headers or new_address(),
    )
    assert response.status_code == 201, response.text
    return email


def token_request(
    client: httpx.Client, email: str, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    form = {"grant_type": "password", "username": email, "password": password}
    return client.post("/v1/auth/token", data=form, headers=headers or new_address())


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = token_request(client, email, password)
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1


# --- limits ---------------------------------------------------------------------------------


def test_sign_ups_per_address_are_counted_across_processes(pair: Pair) -> None:
    address = new_address()
    register(pair.a, **address)
    register(pair.b, **address)

    refused = pair.a.post(
        "/v1/auth/register",
        json={"email": "third@example.org", "password": PASSWORD, "role": "patient"},
        headers=address,
    )
    assert_429(refused)
    assert token_request(pair.b, "third@example.org").status_code == 401  # not stored


def test_failed_sign_ins_per_account_are_counted_across_processes(pair: Pair) -> None:
    email = register(pair.a)
    for client in (pair.a, pair.b, pair.a):  # three failures, from three addresses
        assert token_request(client, email, "not the password").status_code == 401

    assert_429(token_request(pair.b, email))  # even the right password, on the other
    assert_429(token_request(pair.a, email))


def test_sign_ins_per_address_are_counted_across_processes(pair: Pair) -> None:
    email = register(pair.a)
    address = new_address()
    answers = [token_request(c, email, **address) for c in (pair.a, pair.b) * 2 + (pair.a,)]
    assert [r.status_code for r in answers] == [200] * 5

    assert_429(token_request(pair.b, email, **address))
    assert token_request(pair.b, email).status_code == 200  # another address


def test_writes_per_account_are_counted_across_processes(pair: Pair) -> None:
    tokens = sign_in(pair.a, register(pair.a))
    urls = [f"{ENTRIES_PATH}/{uuid.uuid4()}" for _ in range(5)]
    for n, url in enumerate(urls[:4]):
        client = (pair.a, pair.b)[n % 2]
        assert client.put(url, json=entry(4, "x"), headers=bearer(tokens)).status_code == 201

    assert_429(pair.a.put(urls[4], json=entry(4, "x"), headers=bearer(tokens)))
    assert_429(pair.b.put(urls[4], json=entry(4, "x"), headers=bearer(tokens)))
    assert pair.b.get(urls[4], headers=bearer(tokens)).status_code == 404
    listed = pair.a.get(ENTRIES_PATH, headers=bearer(tokens)).json()["items"]
    assert len(listed) == 4


def test_share_code_guesses_are_counted_across_processes(pair: Pair) -> None:
    patient = sign_in(pair.a, register(pair.a))
    clinician = sign_in(pair.b, register(pair.b, "clinician"))
    code = pair.a.post("/v1/patients/me/share-codes", json={}, headers=bearer(patient)).json()[
        "code"
    ]
    for client in (pair.a, pair.b, pair.a):
        wrong = client.post("/v1/links", json={"code": "ZZZZ-ZZZZ-ZZZZ"}, headers=bearer(clinician))
        assert wrong.status_code == 404

    assert_429(pair.b.post("/v1/links", json={"code": code}, headers=bearer(clinician)))
    links = pair.a.get("/v1/patients/me/links", headers=bearer(patient)).json()
    assert links == []


# --- sessions -------------------------------------------------------------------------------


def refused_on_the_other_within(client: httpx.Client, path: str, tokens: dict[str, Any]) -> float:
    """Seconds from now until ``client`` answers 401 to ``tokens``' access token."""
    began = time.monotonic()

    def refused() -> bool:
        return client.get(path, headers=bearer(tokens)).status_code == 401

    poll_until(refused, f"{path} refused on the other process", timeout=PATIENCE, interval=0.01)
    return time.monotonic() - began


def test_a_sign_out_on_one_process_is_refused_on_the_other_within_a_second(pair: Pair) -> None:
    email = register(pair.a)
    device, other_device = sign_in(pair.a, email), sign_in(pair.b, email)
    assert pair.b.get("/v1/me", headers=bearer(device)).status_code == 200

    revoked = pair.a.post(
        "/v1/auth/revoke", json={"refresh_token": device["refresh_token"]}, headers=bearer(device)
    )
    assert revoked.status_code == 204

    assert refused_on_the_other_within(pair.b, ENTRIES_PATH, device) < ENDED_WITHIN_SECONDS
    assert pair.b.get("/v1/me", headers=bearer(other_device)).status_code == 200  # its own


def test_a_password_change_on_one_process_is_refused_on_the_other_within_a_second(
    pair: Pair,
) -> None:
    email = register(pair.a)
    device, other_device = sign_in(pair.a, email), sign_in(pair.b, email)
    assert pair.b.get("/v1/me", headers=bearer(other_device)).status_code == 200

    changed = pair.a.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(device),
    )
    assert changed.status_code == 200, changed.text

    for tokens in (device, other_device):
        assert refused_on_the_other_within(pair.b, "/v1/me", tokens) < ENDED_WITHIN_SECONDS
    form = {"grant_type": "refresh_token", "refresh_token": other_device["refresh_token"]}
    assert pair.b.post("/v1/auth/token", data=form).status_code == 401
    assert pair.b.get("/v1/me", headers=bearer(changed.json())).status_code == 200
    assert token_request(pair.b, email).status_code == 401  # the old password
    assert token_request(pair.b, email, NEW_PASSWORD).status_code == 200


def test_an_erasure_on_one_process_is_refused_on_the_other_within_a_second(pair: Pair) -> None:
    email = register(pair.a)
    device = sign_in(pair.a, email)
    url = f"{ENTRIES_PATH}/{uuid.uuid4()}"
    assert pair.b.put(url, json=entry(3, "x"), headers=bearer(device)).status_code == 201

    assert pair.a.delete("/v1/me", headers=bearer(device)).status_code == 204

    assert refused_on_the_other_within(pair.b, ENTRIES_PATH, device) < ENDED_WITHIN_SECONDS
    for path in ("/v1/me", url, "/v1/patients/me/courses", "/v1/patients/me/changes"):
        assert pair.b.get(path, headers=bearer(device)).status_code == 401, path


# --- a restart under load --------------------------------------------------------------------


@dataclass
class Balancer:
    """What a load balancer knows: the servers up now. A client whose request found no
    answer sends it again to the next server."""

    urls: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def next_url(self) -> str:
        with self.lock:
            return self.urls[next(self.turn) % len(self.urls)]

    def remove(self, url: str) -> None:
        with self.lock:
            self.urls = [u for u in self.urls if u != url]

    def add(self, url: str) -> None:
        with self.lock:
            self.urls = [*self.urls, url]


@dataclass
class Writes:
    acknowledged: dict[uuid.UUID, tuple[int, str, int]] = field(default_factory=dict)
    by_server: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    #: Answers no phone should get (the test fails on the first).
    unexpected: list[str] = field(default_factory=list)

    def count(self, base: str | None = None) -> int:
        """Writes acknowledged (by the server at ``base``); fails on an unexpected answer."""
        assert not self.unexpected, self.unexpected[0]
        return len(self.acknowledged) if base is None else self.by_server.get(base, 0)


async def phone(
    balancer: Balancer, writes: Writes, headers: dict[str, str], stop: threading.Event
) -> None:
    """New entries, one after the other; each sent again (same id, same body) until a
    server acknowledges it, as a phone does."""
    async with httpx.AsyncClient(timeout=PATIENCE) as client:
        while not stop.is_set():
            entry_id = uuid.uuid4()
            body = entry(entry_id.int % 11, entry_id.hex[:8])
            while True:
                base = balancer.next_url()
                try:
                    response = await client.put(
                        f"{base}{ENTRIES_PATH}/{entry_id}", json=body, headers=headers
                    )
                except httpx.TransportError:
                    writes.retried += 1
                    continue
                if response.status_code == 503:
                    writes.retried += 1
                    continue
                if response.status_code not in (200, 201):
                    writes.unexpected.append(f"{response.status_code} {response.text[:300]}")
                    return
                writes.acknowledged[entry_id] = (body["pain"], body["notes"], 1)
                writes.by_server[base] = writes.by_server.get(base, 0) + 1
                break


def test_no_write_is_lost_while_one_process_restarts_under_load(tmp_path: Path) -> None:
    with ExitStack() as stack:
        url = stack.enter_context(throwaway_database("postgresql", Path(), POSTGRES_URL))
        upgrade(url)
        steady = stack.enter_context(live_server(url, tmp_path))
        with ExitStack() as first_life:
            first = first_life.enter_context(live_server(url, tmp_path))
            balancer = Balancer([steady.base_url, first.base_url])
            http = stack.enter_context(httpx.Client(base_url=steady.base_url, timeout=PATIENCE))
            patients = [sign_in(http, register(http)) for _ in range(8)]
            writes, stop = Writes(), threading.Event()

            async def load() -> None:
                await asyncio.gather(*(phone(balancer, writes, bearer(p), stop) for p in patients))

            loader = threading.Thread(target=asyncio.run, args=(load(),))
            loader.start()
            stack.callback(loader.join, PATIENCE)
            stack.callback(stop.set)
            poll_until(lambda: writes.count(first.base_url) >= 20, "writes", timeout=PATIENCE)
            # The restart: SIGTERM (requests in flight are answered first), then a new
            # process; meanwhile the phones' requests there find no answer and go to the
            # other.
            before = writes.count()
        balancer.remove(first.base_url)
        poll_until(
            lambda: writes.count() >= before + 20, "writes while one is down", timeout=PATIENCE
        )
        second = stack.enter_context(live_server(url, tmp_path))
        balancer.add(second.base_url)
        poll_until(lambda: writes.count(second.base_url) >= 20, "writes", timeout=PATIENCE)
        stop.set()
        loader.join(timeout=PATIENCE)
        assert not loader.is_alive()

        writes.count()  # no unexpected answer
        stored = stored_entries(url, list(writes.acknowledged))
        lost = {k: v for k, v in writes.acknowledged.items() if stored.get(k) != v}
        assert lost == {}, f"{len(lost)} acknowledged writes lost"
        assert count_entries(url) == len(writes.acknowledged)  # none stored unacknowledged
        print(f"\nreplicas: {len(writes.acknowledged)} writes, {writes.retried} sent again")


def count_entries(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                query = sa.select(sa.func.count()).select_from(ENTRIES)
                return int((await conn.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())
