"""The PUT fast path (``FastPutRoute``) answers exactly as FastAPI's handler does, counts each
request once, and the statement it runs through asyncpg fails as SQLAlchemy's statements do.

A body sent as ``application/json; charset=utf-8`` always takes FastAPI's handler (the fast
path takes only ``application/json``), so every case below is sent both ways and the two
answers must be equal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.clinicians.models import AccessLogEntry
from app.core.database import Database, create_engine, table_of
from app.core.record_routes import FastPutRoute
from app.diary.models import DiaryEntry
from app.diary.schemas import EntryIn
from app.diary.service import entries
from app.sync import service as sync
from tests.clinicians.test_sharing import link
from tests.conftest import Account, assert_problem, count_rows

ENTRIES = table_of(DiaryEntry)
ENTRY = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4, "tags": ["weather"]}
FAST = "application/json"
GENERAL = "application/json; charset=utf-8"
SERVER_FIELDS = ("id", "patient_id", "created_at", "updated_at")


def put(
    client: TestClient,
    path: str,
    content: bytes,
    content_type: str,
    headers: dict[str, str],
) -> httpx.Response:
    return client.put(path, content=content, headers={"Content-Type": content_type, **headers})


def comparable(response: httpx.Response, path: str, record_id: str) -> tuple[Any, ...]:
    """Status, body and the headers a client uses, with this request's own ids left out."""
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in SERVER_FIELDS}

    def anonymous(text: str) -> str:
        return text.replace(path, "{path}").replace(record_id, "{id}")

    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get("etag"),
        anonymous(response.headers.get("location", "")),
        response.headers.get("www-authenticate"),
        anonymous(repr(body)),
    )


def both_ways(
    client: TestClient,
    path_of: Callable[[str], str],
    steps: list[tuple[bytes, dict[str, str]]],
) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Each step (body, headers) sent in order to one fresh record through each handler."""
    ids = {FAST: str(uuid.uuid4()), GENERAL: str(uuid.uuid4())}
    answers: dict[str, list[tuple[Any, ...]]] = {FAST: [], GENERAL: []}
    for content_type, record_id in ids.items():
        for content, headers in steps:
            path = path_of(record_id)
            response = put(client, path, content, content_type, headers)
            answers[content_type].append(comparable(response, path, record_id))
    return list(zip(answers[FAST], answers[GENERAL], strict=True))


def body(**changes: Any) -> bytes:
    return json.dumps({**ENTRY, **changes}).encode()


def entry_path(record_id: str) -> str:
    return f"/v1/patients/me/entries/{record_id}"


def test_new_replayed_and_changed_entries_answer_alike(
    client: TestClient, patient: Account
) -> None:
    auth = patient.headers
    steps = [
        (body(), auth),  # created
        (body(), auth),  # an identical replay: unchanged
        (body(pain=6), auth),  # replaced
        (body(pain=7), {**auth, "If-Match": '"2"'}),  # a conditional update
        (body(pain=8), {**auth, "If-Match": '"1"'}),  # stale: 412
        (body(pain=8), {**auth, "If-None-Match": "*"}),  # create-only on an existing: 412
        (body(pain=8), {**auth, "If-Match": "3"}),  # not an entity tag: 400
    ]
    pairs = both_ways(client, entry_path, steps)
    statuses = [fast[0] for fast, _ in pairs]
    assert statuses == [201, 200, 200, 200, 412, 412, 400]
    for fast, general in pairs:
        assert fast == general


@pytest.mark.parametrize(
    ("content", "extra", "status"),
    [
        (body(pain=11), {}, 422),
        (body(recorded_at="2026-11-20"), {}, 422),
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4', {}, 422),  # cut short
        (b"", {}, 422),
        (b"[1, 2]", {}, 422),
        (b'"text"', {}, 422),
        (body(unknown_field=1), {}, 422),
        (body(id=str(uuid.UUID(int=7))), {}, 422),  # differs from the path's id
        (body(recorded_at="2099-01-01T08:00:00+00:00"), {}, 422),  # in the future
        # JSON the fast path parses itself (pydantic's parser, not json.loads): the same answers.
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 1, "pain": 4}', {}, 201),
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4, "sleep_hours": NaN}', {}, 422),
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4.0}', {}, 422),
        (b"\xef\xbb\xbf" + body(), {}, 201),  # a UTF-8 byte order mark
        (body(), {"Authorization": ""}, 401),
        (body(), {"Authorization": "Bearer not-a-token"}, 401),
        (body(), {"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        (body(), {"Authorization": "Bearer  {token}"}, 201),  # FastAPI strips the token
        (body(), {"Authorization": "bearer {token}"}, 201),  # the scheme is case-blind
    ],
)
def test_refusals_and_odd_requests_answer_alike(
    client: TestClient, patient: Account, content: bytes, extra: dict[str, str], status: int
) -> None:
    headers = {k: v.replace("{token}", patient.token) for k, v in (patient.headers | extra).items()}
    [(fast, general)] = both_ways(client, entry_path, [(content, headers)])
    assert fast[0] == status, fast
    assert fast == general


def test_paths_outside_the_fast_shape_answer_alike(
    client: TestClient, patient: Account, other_patient: Account
) -> None:
    for path_of, status in (
        (lambda rid: f"/v1/patients/me/entries/{rid.replace('-', '')}", 201),  # hyphenless
        (lambda rid: f"/v1/patients/me/entries/{rid.upper()}", 201),
        (lambda rid: f"/v1/patients/{patient.id}/entries/{rid}", 201),  # own id, not `me`
        (lambda rid: f"/v1/patients/{other_patient.id}/entries/{rid}", 404),
        (lambda rid: f"/v1/patients/nobody/entries/{rid}", 422),
        (lambda rid: f"/v1/patients/me/entries/{rid[:-1]}", 422),  # not a UUID
    ):
        [(fast, general)] = both_ways(client, path_of, [(body(), patient.headers)])
        assert fast[0] == status, fast
        assert fast == general


def test_clinicians_answer_alike(
    client: TestClient, patient: Account, clinician: Account, make_account: Callable[..., Account]
) -> None:
    link(client, clinician, patient)
    stranger = make_account("clinician")
    course = {"name": "Acupuncture", "modality": "acupuncture", "start_date": "2026-11-01"}
    cases = [
        (clinician, "entries", body(), 403),  # linked, but diary entries are the patient's
        (stranger, "entries", body(), 404),
        (clinician, "courses", json.dumps(course).encode(), 201),
        (stranger, "courses", json.dumps(course).encode(), 404),
    ]
    for caller, collection, content, status in cases:
        [(fast, general)] = both_ways(
            client,
            lambda rid, c=collection: f"/v1/patients/{patient.id}/{c}/{rid}",  # type: ignore[misc]
            [(content, caller.headers)],
        )
        assert fast[0] == status, fast
        assert fast == general


def test_a_refused_body_counts_once_against_the_write_limit(
    app_with: Callable[..., TestClient],
    make_account: Callable[..., Account],
    db: Database,
    portal: Callable[..., Any],
) -> None:
    account = make_account("patient")
    c = app_with(writes_per_minute=3)
    refused = [
        put(c, entry_path(str(uuid.uuid4())), body(pain=11), FAST, account.headers)
        for _ in range(3)
    ]
    over = put(c, entry_path(str(uuid.uuid4())), body(), FAST, account.headers)

    assert [r.status_code for r in refused] == [422, 422, 422]
    assert_problem(over, 429)
    assert portal(count_rows, db, ENTRIES, patient_id=account.id) == 0


def test_a_clinicians_refused_write_is_logged_once(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    link(client, clinician, patient)
    path = f"/v1/patients/{patient.id}/courses/{uuid.uuid4()}"
    refused = put(client, path, b'{"name": ""}', FAST, clinician.headers)
    assert_problem(refused, 422)
    log = table_of(AccessLogEntry)
    assert portal(count_rows, db, log, patient_id=patient.id) == 1


# --- the statement asyncpg runs ---------------------------------------------------------


def _creation(patient_id: uuid.UUID, pain: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    entry = EntryIn.model_construct(**EntryIn(**ENTRY).model_dump() | {"pain": pain})
    values = asyncio.run(entries.prepare(None, patient_id, entry, None, now))  # type: ignore[arg-type]
    row = {**values, "patient_id": patient_id, "id": uuid.uuid4()}
    return sync.creation_parameters(row | {"created_at": now, "updated_at": now})


async def _first_row(db: Database, params: dict[str, Any]) -> Any:
    statement = sync.create_with_position(entries.table, entries.name)
    async with db.single_statement() as conn:
        return await db.first_row(conn, statement, params)


def test_a_statement_the_database_refuses_raises_sqlalchemys_error(
    backend: str, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    if backend != "postgresql":
        pytest.skip("the creation statement is PostgreSQL's")
    params = _creation(patient.id, pain=99)  # past validation, against the CHECK
    with pytest.raises(sa.exc.IntegrityError):
        portal(_first_row, db, params)
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 0
    stored = portal(_first_row, db, _creation(patient.id, pain=3))
    assert (stored["version"], stored["change_position"]) == (1, 1)
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 1


async def _on_a_killed_connection(db: Database, url: str, params: dict[str, Any]) -> Any:
    statement = sync.create_with_position(entries.table, entries.name)
    async with db.single_statement() as conn:
        raw = await conn.get_raw_connection()
        pid = await raw.driver_connection.fetchval("SELECT pg_backend_pid()")  # type: ignore[union-attr]
        killer = create_engine(url)
        async with killer.connect() as other:
            await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await killer.dispose()
        for _ in range(200):  # until the server has closed it
            if raw.driver_connection.is_closed():  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.01)
        return await db.first_row(conn, statement, params)


def test_a_lost_connection_is_sqlalchemys_disconnect(
    backend: str,
    database_url: str,
    db: Database,
    portal: Callable[..., Any],
    client: TestClient,
    patient: Account,
) -> None:
    if backend != "postgresql":
        pytest.skip("asyncpg runs the statement on PostgreSQL only")
    params = _creation(patient.id, pain=3)
    with pytest.raises(sa.exc.DBAPIError) as raised:
        portal(_on_a_killed_connection, db, database_url, params)
    assert raised.value.connection_invalidated
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == 0
    # The pool replaced the connection: the next request is served.
    created = client.put(entry_path(str(uuid.uuid4())), json=ENTRY, headers=patient.headers)
    assert created.status_code == 201, created.text


def test_a_pool_with_no_free_connection_answers_503(
    backend: str,
    app_with: Callable[..., TestClient],
    make_account: Callable[..., Account],
) -> None:
    if backend != "postgresql":
        pytest.skip("the pool settings are PostgreSQL's")
    account = make_account("patient")
    c = app_with(db_pool_size=1, db_pool_timeout=0.2)
    app_db: Database = c.app.state.db  # type: ignore[attr-defined]
    held = c.portal.call(app_db.engine.connect)  # type: ignore[union-attr]
    try:
        busy = put(c, entry_path(str(uuid.uuid4())), body(), FAST, account.headers)
    finally:
        c.portal.call(held.close)  # type: ignore[union-attr]
    assert_problem(busy, 503)
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["detail"] == "The service is busy; try again shortly."
    served = put(c, entry_path(str(uuid.uuid4())), body(), FAST, account.headers)
    assert served.status_code == 201, served.text


def test_the_plain_case_takes_the_fast_path(
    client: TestClient, patient: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The equivalence above would hold as well if the fast path never served anything."""
    served: list[bool] = []
    original = FastPutRoute._fast

    async def spy(self: FastPutRoute, request: Any) -> Any:
        response = await original(self, request)
        served.append(response is not None)
        return response

    monkeypatch.setattr(FastPutRoute, "_fast", spy)
    for content_type in (FAST, GENERAL):
        response = put(client, entry_path(str(uuid.uuid4())), body(), content_type, patient.headers)
        assert response.status_code == 201
    assert served == [True, False]
