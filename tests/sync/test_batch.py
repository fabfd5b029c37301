"""A phone back from a week offline: batches with duplicates, replays, stale versions and
bad items; two devices editing one entry. On both databases."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from fastapi.testclient import TestClient

from app.core.database import Database
from app.diary.service import entries
from tests.conftest import Account, assert_problem, count_rows

BATCH = "/v1/patients/me/entries/batch"


def entry(day: int, pain: int, hour: int = 8, **fields: Any) -> dict[str, Any]:
    when = dt.datetime(2026, 11, 10, hour, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    return {
        "id": str(uuid.uuid4()),
        "recorded_at": (when + dt.timedelta(days=day)).isoformat(),
        "pain": pain,
    } | fields


def post(client: TestClient, who: Account, items: Sequence[object]) -> list[dict[str, Any]]:
    """The batch's results; ``items`` are any JSON values (a bad item is a result too)."""
    response = client.post(BATCH, json={"items": items}, headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def stored(client: TestClient, who: Account, entry_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/patients/me/entries/{entry_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_week_offline(
    client: TestClient, patient: Account, db: Database, portal: Callable[..., Any]
) -> None:
    # Already on the server from before the phone went offline: one entry at version 1.
    known = entry(0, 5)
    assert post(client, patient, [known])[0]["status"] == "created"
    week = [entry(day, 4 + day % 3, hour) for day in range(1, 8) for hour in (8, 21)]
    corrected = {**week[3], "pain": 9, "notes": "worse after the drive"}  # edited later
    edit_known = {**known, "pain": 6, "if_version": 1}
    bad = entry(2, 11)
    items = [*week, corrected, edit_known, bad]
    results = post(client, patient, items)

    assert [r["status"] for r in results[:14]] == ["created"] * 14
    assert results[3] == results[14]  # superseded by the later edit: the same outcome
    assert results[14] == {"id": week[3]["id"], "status": "created", "version": 1, "errors": None}
    assert results[15] == {"id": known["id"], "status": "updated", "version": 2, "errors": None}
    assert results[16]["status"] == "invalid" and results[16]["id"] == bad["id"]
    assert results[16]["errors"] == [
        {"loc": ["pain"], "msg": "Input should be less than or equal to 10"}
    ]
    assert stored(client, patient, week[3]["id"])["pain"] == 9  # what the user entered last
    assert stored(client, patient, known["id"])["pain"] == 6
    assert portal(count_rows, db, entries.table, patient_id=patient.id) == 15

    # The response was lost: the phone sends the very same batch again. Nothing changes.
    replay = post(client, patient, items)
    assert [r["status"] for r in replay[:16]] == ["unchanged"] * 16
    assert replay[15]["version"] == 2 and replay[16]["status"] == "invalid"
    assert portal(count_rows, db, entries.table, patient_id=patient.id) == 15
    assert stored(client, patient, known["id"])["version"] == 2


def test_each_item_stands_alone(client: TestClient, patient: Account) -> None:
    good = entry(1, 3)
    items = [
        good,
        {"recorded_at": "2026-11-11T08:00:00+01:00", "pain": 3},  # no id
        entry(1, 3, unknown_field=1),
        entry(1, 3) | {"recorded_at": "2026-11-11T08:00:00"},  # naive
        entry(1, 3) | {"local_date": "2999-01-01"},  # a rule checked after parsing
        "not an object",
    ]
    results = post(client, patient, items)
    assert [r["status"] for r in results] == ["created"] + ["invalid"] * 5
    assert results[1]["id"] is None and results[1]["errors"] == [
        {"loc": ["id"], "msg": "Field required"}
    ]
    assert results[2]["errors"] == [{"loc": ["unknown_field"], "msg": "unknown field"}]
    assert results[3]["errors"][0]["loc"] == ["recorded_at"]
    assert results[4]["errors"][0]["loc"] == ["body", "local_date"]
    assert stored(client, patient, good["id"])["pain"] == 3


def test_if_version_conflicts(client: TestClient, patient: Account) -> None:
    first = entry(1, 5)
    post(client, patient, [first])
    post(client, patient, [{**first, "pain": 6}])  # another device: now version 2
    missing = entry(2, 4)
    results = post(
        client,
        patient,
        [
            {**first, "pain": 7, "if_version": 1},  # stale
            {**missing, "if_version": 3},  # the record is not there at that version
            {**entry(3, 2), "if_version": 0},  # 0: create only if absent
        ],
    )
    assert [(r["status"], r["version"]) for r in results] == [
        ("conflict", 2),
        ("conflict", None),
        ("created", 1),
    ]
    assert stored(client, patient, first["id"])["pain"] == 6  # nothing overwritten
    assert (
        client.get(f"/v1/patients/me/entries/{missing['id']}", headers=patient.headers).status_code
        == 404
    )


def test_a_deleted_entry_edited_elsewhere_is_a_conflict_and_recreating_continues_versions(
    client: TestClient, patient: Account
) -> None:
    item = entry(1, 5)
    post(client, patient, [item])
    assert (
        client.delete(f"/v1/patients/me/entries/{item['id']}", headers=patient.headers).status_code
        == 204
    )
    assert post(client, patient, [{**item, "pain": 8, "if_version": 1}])[0]["status"] == "conflict"
    recreated = post(client, patient, [{**item, "pain": 8}])[0]
    assert recreated == {"id": item["id"], "status": "created", "version": 3, "errors": None}


def test_more_than_500_items_is_refused_whole(
    client: TestClient, patient: Account, db: Database, portal: Callable[..., Any]
) -> None:
    response = client.post(
        BATCH, json={"items": [entry(1, 1) for _ in range(501)]}, headers=patient.headers
    )
    assert_problem(response, 422, field="items")
    assert portal(count_rows, db, entries.table) == 0
    assert_problem(client.post(BATCH, json={"entries": []}, headers=patient.headers), 422)
    assert post(client, patient, []) == []


def test_only_the_patient_writes_a_batch(
    client: TestClient, patient: Account, other_patient: Account, clinician: Account
) -> None:
    from tests.clinicians.test_sharing import link

    url = f"/v1/patients/{patient.id}/entries/batch"
    assert_problem(client.post(url, json={"items": []}, headers=other_patient.headers), 404)
    link(client, clinician, patient)
    assert_problem(client.post(url, json={"items": []}, headers=clinician.headers), 403)
    assert_problem(client.post(url, json={"items": []}), 401)


def test_a_batch_takes_a_fixed_number_of_statements(
    client: TestClient, patient: Account, statements: list[str]
) -> None:
    existing = [entry(1, 2) for _ in range(50)]
    post(client, patient, existing)
    statements.clear()
    items = [{**e, "pain": 3} for e in existing] + [entry(2, 4) for _ in range(150)]
    results = post(client, patient, items)
    assert {r["status"] for r in results} == {"updated", "created"}
    # counter, locked read, tombstones, insert (executemany), update (executemany)
    writes = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SELECT 1"))]
    assert len(writes) <= 6, writes


def test_two_devices_edit_the_same_entry(client: TestClient, patient: Account) -> None:
    url = f"/v1/patients/me/entries/{uuid.uuid4()}"
    base = {"recorded_at": "2026-11-20T08:00:00+01:00", "pain": 5}
    assert client.put(url, json=base, headers=patient.headers).status_code == 201
    phone = client.put(
        url, json={**base, "pain": 6}, headers={**patient.headers, "If-Match": '"1"'}
    )
    assert phone.status_code == 200 and phone.headers["etag"] == '"2"'
    tablet = client.put(
        url, json={**base, "notes": "slept badly"}, headers={**patient.headers, "If-Match": '"1"'}
    )
    assert_problem(tablet, 412)
    # The tablet fetches the newest state and applies its own change on top: nothing lost.
    latest = client.get(url, headers=patient.headers)
    merged = client.patch(
        url,
        json={"notes": "slept badly"},
        headers={**patient.headers, "If-Match": latest.headers["etag"]},
    )
    assert merged.status_code == 200
    assert (merged.json()["pain"], merged.json()["notes"], merged.json()["version"]) == (
        6,
        "slept badly",
        3,
    )
    # The phone's response was lost and it retries its write with the old tag: already applied.
    retry = client.put(
        url,
        json={**base, "pain": 6, "notes": "slept badly"},
        headers={**patient.headers, "If-Match": '"1"'},
    )
    assert retry.status_code == 200 and retry.json()["version"] == 3
