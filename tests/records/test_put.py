"""``PUT`` of a record, as clients send it: odd bodies, tokens and paths get the answers
FastAPI's validation gives, and a refused write counts once against the limit and the log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.access.models import AccessLogEntry
from app.core.database import Database, table_of
from app.diary.models import DiaryEntry
from tests.clinicians.test_sharing import link
from tests.conftest import Account, assert_problem, count_rows

ENTRIES = table_of(DiaryEntry)
ENTRY = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4, "tags": ["weather"]}


def put(client: TestClient, path: str, content: bytes, headers: dict[str, str]) -> httpx2.Response:
    return client.put(
        path, content=content, headers={"Content-Type": "application/json", **headers}
    )


def body(**changes: Any) -> bytes:
    return json.dumps({**ENTRY, **changes}).encode()


def entry_path(record_id: uuid.UUID | str) -> str:
    return f"/v1/patients/me/entries/{record_id}"


@pytest.mark.parametrize(
    ("content", "extra", "status"),
    [
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 1, "pain": 4}', {}, 201),
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4, "sleep_hours": NaN}', {}, 422),
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4.0}', {}, 201),  # an integer
        (b'{"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4.5}', {}, 422),
        (b"\xef\xbb\xbf" + body(), {}, 201),  # a UTF-8 byte order mark
        (body(), {"Authorization": "Bearer  {token}"}, 201),  # the token is stripped
        (body(), {"Authorization": "bearer {token}"}, 201),  # the scheme is case-blind
    ],
)
def test_odd_requests(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    content: bytes,
    extra: dict[str, str],
    status: int,
) -> None:
    headers = {k: v.replace("{token}", patient.token) for k, v in (patient.headers | extra).items()}
    response = put(client, entry_path(uuid.uuid4()), content, headers)
    assert response.status_code == status, response.text
    if status != 201:
        assert_problem(response, status)
    assert portal(count_rows, db, ENTRIES, patient_id=patient.id) == (1 if status == 201 else 0)


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda rid: rid.replace("-", ""), id="hyphenless"),
        pytest.param(str.upper, id="upper-case"),
    ],
)
def test_other_spellings_of_a_record_id(
    client: TestClient, patient: Account, spell: Callable[[str], str]
) -> None:
    record_id = str(uuid.uuid4())
    response = put(client, entry_path(spell(record_id)), body(), patient.headers)
    assert response.status_code == 201, response.text
    assert response.json()["id"] == record_id


def test_clinicians(
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
        path = f"/v1/patients/{patient.id}/{collection}/{uuid.uuid4()}"
        response = put(client, path, content, caller.headers)
        assert response.status_code == status, response.text


def test_a_refused_body_counts_once_against_the_write_limit(
    app_with: Callable[..., TestClient],
    make_account: Callable[..., Account],
    db: Database,
    portal: Callable[..., Any],
) -> None:
    account = make_account("patient")
    c = app_with(writes_per_minute=3)
    refused = [
        put(c, entry_path(str(uuid.uuid4())), body(pain=11), account.headers) for _ in range(3)
    ]
    over = put(c, entry_path(str(uuid.uuid4())), body(), account.headers)

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
    refused = put(client, path, b'{"name": ""}', clinician.headers)
    assert_problem(refused, 422)
    log = table_of(AccessLogEntry)
    assert portal(count_rows, db, log, patient_id=patient.id) == 1
