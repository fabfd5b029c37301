"""``Idempotency-Key`` on POST (IETF httpapi-idempotency-key-header), on every test backend:
a retry with the same key and request gets the first response again, marked
``Idempotent-Replayed: true``; the same key with another request is 422."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.database import Database, table_of
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.records import service as records
from app.records.models import IdempotencyKey
from app.sessions.models import SessionEvent
from tests.conftest import Account, assert_problem, count_rows

ENTRIES = table_of(DiaryEntry)
COURSES = table_of(TreatmentCourse)
SESSIONS = table_of(SessionEvent)
KEYS = table_of(IdempotencyKey)
ENTRIES_URL = "/v1/patients/me/entries"
BATCH_URL = "/v1/patients/me/entries/batch"
COURSES_URL = "/v1/patients/me/courses"
SESSIONS_URL = "/v1/patients/me/sessions"
REPLAYED = "idempotent-replayed"


def entry_body(**fields: Any) -> dict[str, Any]:
    return {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4} | fields


def course_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Acupuncture for low back pain",
        "condition": "low_back_pain",
        "modality": "acupuncture",
        "start_date": "2026-10-01",
    } | fields


def session_body(**fields: Any) -> dict[str, Any]:
    return {"occurred_at": "2026-10-06T18:30:00+02:00", "points": ["LI4", "ST36"]} | fields


def post(
    client: TestClient, account: Account, url: str, body: Any, key: str | None
) -> httpx2.Response:
    headers = account.headers | ({} if key is None else {"Idempotency-Key": key})
    return client.post(url, json=body, headers=headers)


def assert_replay_of(
    replay: httpx.Response | httpx2.Response, first: httpx.Response | httpx2.Response
) -> None:
    """The replay is the first response again, byte for byte, marked as a replay."""
    assert replay.status_code == first.status_code
    assert replay.content == first.content
    for name in ("content-type", "location", "etag"):
        assert replay.headers.get(name) == first.headers.get(name), name
    assert replay.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers


async def _set_key(db: Database, user_id: uuid.UUID, key: str, **values: Any) -> None:
    async with db.transaction() as conn:
        result = await conn.execute(
            sa.update(KEYS).where(KEYS.c.user_id == user_id, KEYS.c.key == key).values(**values)
        )
        assert result.rowcount == 1


async def _key_rows(db: Database, user_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.read() as conn:
        rows = await conn.execute(sa.select(KEYS).where(KEYS.c.user_id == user_id))
        return [dict(row) for row in rows.mappings()]


@pytest.fixture
def rows(db: Database, portal: Callable[..., Any]) -> Callable[..., int]:
    def count(table: sa.Table, **where: Any) -> int:
        return int(portal(count_rows, db, table, **where))

    return count


# --- replay -------------------------------------------------------------------------------


def test_a_retry_gets_the_first_response_and_stores_one_entry(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    replay = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert first.status_code == 201
    entry_id = first.json()["id"]
    assert first.headers["location"] == f"{ENTRIES_URL}/{entry_id}"
    assert first.headers["etag"] == '"1"'
    assert first.headers["content-type"] == "application/json"
    assert_replay_of(replay, first)
    assert replay.json()["id"] == entry_id
    assert rows(ENTRIES, patient_id=patient.id) == 1
    assert rows(KEYS, user_id=patient.id) == 1


def test_the_quoted_form_is_the_same_key(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    quoted = post(client, patient, ENTRIES_URL, entry_body(), '"abc"')

    assert first.status_code == 201
    assert_replay_of(quoted, first)
    assert rows(ENTRIES, patient_id=patient.id) == 1


def test_a_replay_is_the_stored_response_not_the_records_current_state(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    entry_url = first.headers["location"]
    changed = client.patch(entry_url, json={"pain": 9}, headers=patient.headers)
    assert changed.status_code == 200 and changed.json()["version"] == 2

    replay = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert_replay_of(replay, first)
    assert replay.json()["pain"] == 4 and replay.json()["version"] == 1
    stored = client.get(entry_url, headers=patient.headers).json()
    assert (stored["pain"], stored["version"]) == (9, 2)
    assert rows(ENTRIES, patient_id=patient.id) == 1


def test_same_key_with_another_body_is_422_and_stores_nothing(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(pain=4), "abc")
    other = post(client, patient, ENTRIES_URL, entry_body(pain=5), "abc")

    assert first.status_code == 201
    assert_problem(other, 422, field="Idempotency-Key")
    assert REPLAYED not in other.headers
    assert rows(ENTRIES, patient_id=patient.id) == 1
    # The key still answers its own request.
    again = post(client, patient, ENTRIES_URL, entry_body(pain=4), "abc")
    assert_replay_of(again, first)


def test_same_key_on_another_path_is_another_request(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    assert post(client, patient, ENTRIES_URL, entry_body(), "abc").status_code == 201

    course = post(client, patient, COURSES_URL, course_body(), "abc")

    assert_problem(course, 422, field="Idempotency-Key")
    assert rows(COURSES, patient_id=patient.id) == 0
    assert rows(ENTRIES, patient_id=patient.id) == 1


def link(client: TestClient, clinician: Account, patient: Account) -> None:
    code = client.post("/v1/patients/me/share-codes", json={}, headers=patient.headers)
    assert code.status_code == 201, code.text
    linked = client.post("/v1/links", json={"code": code.json()["code"]}, headers=clinician.headers)
    assert linked.status_code == 201, linked.text


def test_same_key_and_body_for_another_patient_is_another_request(
    client: TestClient,
    clinician: Account,
    patient: Account,
    other_patient: Account,
    rows: Callable[..., int],
) -> None:
    """A clinician's key covers one request: the identical course for a second patient must
    not be answered with the first patient's course."""
    link(client, clinician, patient)
    link(client, clinician, other_patient)

    first = post(client, clinician, f"/v1/patients/{patient.id}/courses", course_body(), "c-1")
    second = post(
        client, clinician, f"/v1/patients/{other_patient.id}/courses", course_body(), "c-1"
    )

    assert first.status_code == 201 and first.json()["patient_id"] == str(patient.id)
    assert_problem(second, 422, field="Idempotency-Key")
    assert REPLAYED not in second.headers
    assert rows(COURSES, patient_id=patient.id) == 1
    assert rows(COURSES, patient_id=other_patient.id) == 0


def test_another_key_makes_another_record(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    second = post(client, patient, ENTRIES_URL, entry_body(), "abd")

    assert (first.status_code, second.status_code) == (201, 201)
    assert REPLAYED not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert rows(ENTRIES, patient_id=patient.id) == 2
    assert rows(KEYS, user_id=patient.id) == 2


def test_keys_belong_to_one_user(
    client: TestClient, patient: Account, other_patient: Account, rows: Callable[..., int]
) -> None:
    mine = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    theirs = post(client, other_patient, ENTRIES_URL, entry_body(), "abc")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert REPLAYED not in theirs.headers
    assert theirs.json()["patient_id"] == str(other_patient.id)
    assert theirs.json()["id"] != mine.json()["id"]
    assert rows(ENTRIES, patient_id=patient.id) == 1
    assert rows(ENTRIES, patient_id=other_patient.id) == 1
    # Each key replays its own user's response.
    assert post(client, patient, ENTRIES_URL, entry_body(), "abc").json()["id"] == mine.json()["id"]


def test_without_a_key_every_post_creates_a_record(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), None)
    second = post(client, patient, ENTRIES_URL, entry_body(), None)

    assert (first.status_code, second.status_code) == (201, 201)
    assert REPLAYED not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert rows(ENTRIES, patient_id=patient.id) == 2
    assert rows(KEYS, user_id=patient.id) == 0


def test_a_client_error_is_replayed_too(
    client: TestClient, patient: Account, other_patient: Account, rows: Callable[..., int]
) -> None:
    foreign = client.put(
        f"/v1/patients/me/courses/{uuid.uuid4()}", json=course_body(), headers=other_patient.headers
    )
    assert foreign.status_code == 201
    body = session_body(course_id=foreign.json()["id"])

    first = post(client, patient, SESSIONS_URL, body, "s-1")
    replay = post(client, patient, SESSIONS_URL, body, "s-1")

    assert_problem(first, 422, field="body.course_id")
    assert_problem(replay, 422, field="body.course_id")
    assert_replay_of(replay, first)
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert rows(SESSIONS) == 0


def test_a_server_error_is_not_stored_so_the_retry_is_processed(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    patient: Account,
    rows: Callable[..., int],
) -> None:
    real_put = records.put_record
    calls = 0

    async def fail_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        return await real_put(*args, **kwargs)

    monkeypatch.setattr(records, "put_record", fail_once)

    failed = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    assert_problem(failed, 500)
    assert "database went away" not in failed.text
    assert rows(ENTRIES, patient_id=patient.id) == 0
    assert portal(_key_rows, db, patient.id) == []

    retry = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert retry.status_code == 201
    assert REPLAYED not in retry.headers
    assert rows(ENTRIES, patient_id=patient.id) == 1
    assert calls == 2


def test_a_course_post_is_replayed(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    first = post(client, patient, COURSES_URL, course_body(), "course-1")
    replay = post(client, patient, COURSES_URL, course_body(), "course-1")

    assert first.status_code == 201
    assert_replay_of(replay, first)
    assert rows(COURSES, patient_id=patient.id) == 1


# --- lifetime and concurrency -------------------------------------------------------------


def test_a_key_older_than_24_hours_is_forgotten(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    rows: Callable[..., int],
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    portal(_set_key, db, patient.id, "abc", created_at=long_ago)

    retry = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert REPLAYED not in retry.headers
    assert retry.json()["id"] != first.json()["id"]
    assert rows(ENTRIES, patient_id=patient.id) == 2
    [key] = portal(_key_rows, db, patient.id)
    assert key["key"] == "abc" and key["status_code"] == 201
    assert key["created_at"] > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    # From now on the key answers with the second response.
    again = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    assert_replay_of(again, retry)


def test_a_key_younger_than_24_hours_still_replays(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    rows: Callable[..., int],
) -> None:
    first = post(client, patient, ENTRIES_URL, entry_body(), "abc")
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(hours=23)
    portal(_set_key, db, patient.id, "abc", created_at=earlier)

    replay = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert_replay_of(replay, first)
    assert rows(ENTRIES, patient_id=patient.id) == 1


def test_a_key_still_in_progress_is_409(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    rows: Callable[..., int],
) -> None:
    # The first request's row, put back in the state it has while that request runs.
    assert post(client, patient, ENTRIES_URL, entry_body(), "abc").status_code == 201
    portal(_set_key, db, patient.id, "abc", status_code=None, body=None, headers=None)

    retry = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert_problem(retry, 409)
    assert REPLAYED not in retry.headers
    assert rows(ENTRIES, patient_id=patient.id) == 1
    [key] = portal(_key_rows, db, patient.id)
    assert key["status_code"] is None  # the first request still owns it


def test_an_inserted_in_progress_key_is_409(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    other_patient: Account,
    rows: Callable[..., int],
) -> None:
    """A row claimed by a request that is still running (status_code NULL) for this very
    request: a retry is refused with 409 and nothing is written."""
    # The fingerprint of this request, as the server computes it, from another user's use.
    assert post(client, other_patient, ENTRIES_URL, entry_body(), "abc").status_code == 201
    [theirs] = portal(_key_rows, db, other_patient.id)

    async def claim(db: Database) -> None:
        async with db.transaction() as conn:
            await conn.execute(
                sa.insert(KEYS).values(
                    user_id=patient.id,
                    key="abc",
                    fingerprint=theirs["fingerprint"],
                    created_at=dt.datetime.now(dt.UTC),
                )
            )

    portal(claim, db)

    retry = post(client, patient, ENTRIES_URL, entry_body(), "abc")

    assert_problem(retry, 409)
    assert REPLAYED not in retry.headers
    assert rows(ENTRIES, patient_id=patient.id) == 0
    [mine] = portal(_key_rows, db, patient.id)
    assert mine["status_code"] is None


def test_concurrent_requests_with_one_key_store_one_entry(
    client: TestClient, portal: Callable[..., Any], patient: Account, rows: Callable[..., int]
) -> None:
    """Requests racing with one key: one is processed, the others get its response or 409."""

    async def burst(key: str) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as ac:
            headers = patient.headers | {"Idempotency-Key": key}
            return await asyncio.gather(
                *(ac.post(ENTRIES_URL, json=entry_body(), headers=headers) for _ in range(8))
            )

    for attempt in range(1, 6):
        responses = portal(burst, f"burst-{attempt}")

        processed = [r for r in responses if r.status_code == 201 and REPLAYED not in r.headers]
        assert len(processed) == 1, [(r.status_code, r.headers.get(REPLAYED)) for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409)
            elif response is not processed[0]:
                assert_replay_of(response, processed[0])
        assert rows(ENTRIES, patient_id=patient.id) == attempt


# --- the header ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k" * 256, '""', ""], ids=["256-chars", "quoted-empty", "empty"])
def test_a_malformed_key_is_422_and_stores_nothing(
    client: TestClient, patient: Account, rows: Callable[..., int], key: str
) -> None:
    response = post(client, patient, ENTRIES_URL, entry_body(), key)

    assert_problem(response, 422, field="Idempotency-Key")
    assert rows(ENTRIES, patient_id=patient.id) == 0
    assert rows(KEYS, user_id=patient.id) == 0


def test_a_key_of_255_chars_is_accepted(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    key = "k" * 255
    first = post(client, patient, ENTRIES_URL, entry_body(), key)
    replay = post(client, patient, ENTRIES_URL, entry_body(), f'"{key}"')

    assert first.status_code == 201
    assert_replay_of(replay, first)
    assert rows(ENTRIES, patient_id=patient.id) == 1


# --- batch --------------------------------------------------------------------------------


def test_a_batch_retry_gets_the_first_results(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    body = {
        "items": [entry_body(id=ids[0]), entry_body(id=ids[1], pain=7), {"id": ids[0], "pain": 99}]
    }

    first = post(client, patient, BATCH_URL, body, "batch-1")
    replay = post(client, patient, BATCH_URL, body, "batch-1")

    assert first.status_code == 200
    results = first.json()["results"]
    assert [(r["id"], r["status"], r["version"]) for r in results[:2]] == [
        (ids[0], "created", 1),
        (ids[1], "created", 1),
    ]
    assert (results[2]["id"], results[2]["status"]) == (ids[0], "invalid")
    # Applied again, the same items would be "unchanged": the replay is the stored answer.
    assert_replay_of(replay, first)
    assert rows(ENTRIES, patient_id=patient.id) == 2
    unkeyed = post(client, patient, BATCH_URL, body, None).json()["results"]
    assert [r["status"] for r in unkeyed] == ["unchanged", "unchanged", "invalid"]


def test_a_key_abandoned_by_a_dead_process_is_taken_over(
    client: TestClient, patient: Account, db: Database, portal: Callable[..., Any]
) -> None:
    """A first request whose process died leaves the key 'in progress'; after a minute a
    retry takes it over instead of getting 409 for a day."""
    headers = {**patient.headers, "Idempotency-Key": "orphan"}
    body = {"recorded_at": "2026-11-20T08:00:00+01:00", "pain": 4}
    first = client.post("/v1/patients/me/entries", json=body, headers=headers)
    assert first.status_code == 201
    keys_table = table_of(IdempotencyKey)

    async def orphan(age_seconds: int) -> None:
        async with db.transaction() as conn:
            await conn.execute(
                sa.update(keys_table)
                .where(keys_table.c.key == "orphan")
                .values(
                    status_code=None,
                    body=None,
                    headers=None,
                    created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds),
                )
            )

    portal(orphan, 10)
    assert client.post("/v1/patients/me/entries", json=body, headers=headers).status_code == 409
    portal(orphan, 61)
    retry = client.post("/v1/patients/me/entries", json=body, headers=headers)
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
    replay = client.post("/v1/patients/me/entries", json=body, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == retry.json()["id"]


def test_openapi_states_the_key_format_the_server_accepts(
    client: TestClient, patient: Account
) -> None:
    # It documented any string, so schemathesis sent "" as a valid key (422).
    document = client.get("/openapi.json").json()
    (header,) = [
        p
        for p in document["paths"]["/v1/patients/{patient_id}/entries"]["post"]["parameters"]
        if p["name"] == "idempotency-key"
    ]
    pattern = re.compile(header["schema"]["pattern"])

    accepted = ["k", "a key with spaces", "~" * 255, '"quoted"']
    for key in ["", "~" * 256, '""', " k", *accepted]:
        documented = key in accepted
        assert bool(pattern.match(key)) is documented, key
        if documented:
            first = post(client, patient, ENTRIES_URL, entry_body(), key)
            assert first.status_code == 201, (key, first.text)
