"""The summary endpoints over HTTP, on both databases."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.trends.schemas import CourseSummary, PatientSummary
from tests.conftest import Account, assert_problem
from tests.trends.test_summaries import ALL_KEYS

COURSE_ID = "c0000000-0000-4000-8000-000000000001"


def put(client: TestClient, who: Account, path: str, body: dict[str, Any]) -> None:
    response = client.put(f"/v1/patients/me/{path}", json=body, headers=who.headers)
    assert response.status_code == 201, response.text


def entry(client: TestClient, who: Account, day: str, pain: int, **fields: Any) -> None:
    body = {"recorded_at": f"{day}T09:00:00+01:00", "pain": pain} | fields
    put(client, who, f"entries/{uuid.uuid4()}", body)


@pytest.fixture
def course_history(client: TestClient, patient: Account) -> None:
    """The hand-worked case of test_summaries.py, entered through the API."""
    put(
        client,
        patient,
        f"courses/{COURSE_ID}",
        {
            "name": "Neck pain acupuncture",
            "modality": "acupuncture",
            "start_date": "2026-03-09",
            "end_date": "2026-03-20",
            "planned_sessions": 8,
        },
    )
    entry(
        client, patient, "2026-03-02", 6, pain_worst=7, sleep_hours=6.0, stress=4, tags=["weather"]
    )
    entry(client, patient, "2026-03-03", 8, pain_worst=9, sleep_hours=5.0, tags=["weather"])
    entry(
        client,
        patient,
        "2026-03-03",
        6,
        tags=["weather", "yoga"],
        medications=[{"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"}],
    )
    entry(client, patient, "2026-03-05", 7, tags=["weather"])
    for day, pain in [("2026-03-16", 3), ("2026-03-18", 4), ("2026-03-22", 2), ("2026-03-23", 10)]:
        entry(client, patient, day, pain)
    for day, before, after, linked in [
        ("2026-03-09", 6, 4, True),
        ("2026-03-16", 5, 2, True),
        ("2026-03-12", 5, None, True),
        ("2026-03-10", 9, 0, False),  # another course's or none: not counted
    ]:
        body: dict[str, Any] = {"occurred_at": f"{day}T10:00:00+01:00", "pain_before": before}
        if after is not None:
            body["pain_after"] = after
        if linked:
            body["course_id"] = COURSE_ID
        put(client, patient, f"sessions/{uuid.uuid4()}", body)


def summary_url(patient_id: str = "me", course_id: str = COURSE_ID) -> str:
    return f"/v1/patients/{patient_id}/courses/{course_id}/summary"


@pytest.mark.usefixtures("course_history")
def test_course_summary_matches_the_hand_worked_case(client: TestClient, patient: Account) -> None:
    response = client.get(summary_url(), params={"as_of": "2026-03-22"}, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    s = response.json()
    assert set(s) == ALL_KEYS
    CourseSummary.model_validate(s)  # the response conforms to its documented schema
    assert s["course_id"] == COURSE_ID and s["as_of"] == "2026-03-22"
    assert len(s["daily"]) == 6
    assert s["daily"][1]["pain"] == 7.0 and s["daily"][1]["as_needed"] is True
    assert s["baseline_method"] == "pre_course"
    assert s["baseline"]["pain_mean"] == round(20 / 3, 3)
    assert s["baseline"]["sleep_hours_mean"] == 5.5
    assert s["current"]["pain_mean"] == 3.0
    assert s["reduction_pct"] == 55.0 and s["category"] == "substantial" and s["responder"]
    assert s["follow_up_reduction_pct"] == round(100 * (20 / 3 - 2) / (20 / 3), 3)
    assert [(x["number"], x["local_date"], x["relief"]) for x in s["sessions"]] == [
        (1, "2026-03-09", 2),
        (2, "2026-03-12", None),
        (3, "2026-03-16", 3),
    ]
    assert s["sessions"][0]["occurred_at"] == "2026-03-09T10:00:00+01:00"
    assert (s["sessions_completed"], s["planned_sessions"], s["mean_relief"]) == (3, 8, 2.5)
    assert s["time_to_response_days"] == 13
    assert s["adherence_pct"] == round(100 * 6 / 21, 3)
    assert s["tag_effects"][0]["tag"] == "weather"
    assert s["warnings"] == ["insufficient_data_for_trend"]


@pytest.mark.usefixtures("course_history")
def test_a_summary_takes_two_queries_then_one_while_the_data_is_unchanged(
    client: TestClient, patient: Account, statements: list[str]
) -> None:
    params = {"as_of": "2026-03-22"}
    first = client.get(summary_url(), params=params, headers=patient.headers)
    assert first.status_code == 200
    reads = [q for q in statements if "FROM" in q.upper()]
    # The data version with the course and its sessions; the entries' daily series.
    assert len(reads) == 2, reads
    assert "change_counters" in reads[0] and "diary_entries" in reads[1], reads
    statements.clear()
    again = client.get(summary_url(), params=params, headers=patient.headers)
    assert again.content == first.content
    reads = [q for q in statements if "FROM" in q.upper()]
    assert len(reads) == 1 and "change_counters" in reads[0], reads


@pytest.mark.usefixtures("course_history")
@pytest.mark.parametrize(
    "change", ["new entry", "edited entry", "deleted entry", "course", "session"]
)
def test_a_summary_is_never_stale_after_a_write(
    client: TestClient, patient: Account, change: str
) -> None:
    """Whatever the patient writes, the very next summary is computed from it."""
    params = {"as_of": "2026-03-22"}
    before = client.get(summary_url(), params=params, headers=patient.headers).json()
    assert before["current"]["pain_mean"] == 3.0
    entry_id = str(uuid.uuid4())
    put(
        client,
        patient,
        f"entries/{entry_id}",
        {"recorded_at": "2026-03-20T09:00:00+01:00", "pain": 9},
    )
    expected = {"pain_mean": round((3 + 4 + 2 + 9) / 4, 3), "days": 4}
    if change == "edited entry":
        response = client.patch(
            f"/v1/patients/me/entries/{entry_id}", json={"pain": 5}, headers=patient.headers
        )
        assert response.status_code == 200
        expected = {"pain_mean": round((3 + 4 + 2 + 5) / 4, 3), "days": 4}
    elif change == "deleted entry":
        response = client.delete(f"/v1/patients/me/entries/{entry_id}", headers=patient.headers)
        assert response.status_code == 204
        expected = {"pain_mean": 3.0, "days": 3}
    elif change == "course":
        response = client.patch(
            f"/v1/patients/me/courses/{COURSE_ID}",
            json={"planned_sessions": 12},
            headers=patient.headers,
        )
        assert response.status_code == 200
    elif change == "session":
        session = {"occurred_at": "2026-03-19T10:00:00+01:00", "pain_before": 4}
        put(client, patient, f"sessions/{uuid.uuid4()}", session | {"course_id": COURSE_ID})
    after = client.get(summary_url(), params=params, headers=patient.headers).json()
    assert after["current"]["pain_mean"] == expected["pain_mean"]
    assert after["current"]["days_with_data"] == expected["days"]
    assert after["planned_sessions"] == (12 if change == "course" else 8)
    assert after["sessions_completed"] == (4 if change == "session" else 3)


@pytest.mark.usefixtures("course_history")
def test_summaries_of_other_days_and_windows_are_kept_apart(
    client: TestClient, patient: Account
) -> None:
    one = client.get(summary_url(), params={"as_of": "2026-03-22"}, headers=patient.headers)
    two = client.get(summary_url(), params={"as_of": "2026-03-23"}, headers=patient.headers)
    assert (one.json()["as_of"], two.json()["as_of"]) == ("2026-03-22", "2026-03-23")
    assert one.json()["current"]["pain_mean"] != two.json()["current"]["pain_mean"]
    window = {"from": "2026-03-16", "to": "2026-03-22"}
    first = client.get("/v1/patients/me/summary", params=window, headers=patient.headers).json()
    longer = client.get(
        "/v1/patients/me/summary", params=window | {"to": "2026-03-23"}, headers=patient.headers
    ).json()
    assert [d["local_date"] for d in first["daily"]][-1] == "2026-03-22"
    assert [d["local_date"] for d in longer["daily"]][-1] == "2026-03-23"
    put(
        client,
        patient,
        f"entries/{uuid.uuid4()}",
        {"recorded_at": "2026-03-17T09:00:00+01:00", "pain": 1},
    )
    refreshed = client.get("/v1/patients/me/summary", params=window, headers=patient.headers).json()
    assert len(refreshed["daily"]) == len(first["daily"]) + 1


@pytest.mark.usefixtures("course_history")
def test_as_of_defaults_to_today_in_the_patients_zone(client: TestClient, patient: Account) -> None:
    response = client.get(summary_url(), headers=patient.headers)
    assert response.status_code == 200
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()  # the fixture patient's zone
    assert response.json()["as_of"] == today.isoformat()


def test_a_course_without_entries_answers_with_nulls(client: TestClient, patient: Account) -> None:
    put(client, patient, f"courses/{COURSE_ID}", {"name": "New", "start_date": "2026-03-09"})
    s = client.get(summary_url(), params={"as_of": "2026-03-10"}, headers=patient.headers).json()
    assert set(s) == ALL_KEYS
    CourseSummary.model_validate(s)
    assert s["baseline"] is None and s["current"] is None and s["trend"] is None
    assert s["end_of_course"] is None and s["follow_up"] is None
    assert s["warnings"] == [
        "insufficient_baseline",
        "insufficient_recent_data",
        "insufficient_data_for_trend",
    ]


@pytest.mark.usefixtures("course_history")
def test_another_patients_entries_never_reach_a_summary(
    client: TestClient, patient: Account, other_patient: Account
) -> None:
    put(
        client,
        other_patient,
        f"courses/{COURSE_ID}",
        {"name": "Theirs", "start_date": "2026-03-09"},
    )
    for day in ("2026-03-16", "2026-03-17", "2026-03-18"):
        entry(client, other_patient, day, 10)
    s = client.get(summary_url(), params={"as_of": "2026-03-22"}, headers=patient.headers).json()
    assert s["current"]["pain_mean"] == 3.0
    theirs = client.get(
        summary_url(), params={"as_of": "2026-03-22"}, headers=other_patient.headers
    )
    assert theirs.json()["current"]["pain_mean"] == 10.0


@pytest.mark.usefixtures("course_history")
def test_who_may_read_a_summary(
    client: TestClient, patient: Account, other_patient: Account, clinician: Account
) -> None:
    own = client.get(
        summary_url(str(patient.id)), params={"as_of": "2026-03-22"}, headers=patient.headers
    )
    assert own.status_code == 200
    for who in (other_patient, clinician):
        assert_problem(client.get(summary_url(str(patient.id)), headers=who.headers), 404)
    assert_problem(client.get(summary_url()), 401)
    assert_problem(
        client.get(summary_url(course_id=str(uuid.uuid4())), headers=patient.headers), 404
    )


@pytest.mark.parametrize("as_of", ["2026-02-30", "yesterday", "1899-12-31", "2026-03-22T10:30:00"])
def test_bad_as_of_is_422(client: TestClient, patient: Account, as_of: str) -> None:
    response = client.get(summary_url(), params={"as_of": as_of}, headers=patient.headers)
    assert_problem(response, 422, field="as_of")


@pytest.mark.usefixtures("course_history")
def test_patient_summary_window(client: TestClient, patient: Account) -> None:
    url = "/v1/patients/me/summary"
    response = client.get(
        url, params={"from": "2026-03-02", "to": "2026-03-22"}, headers=patient.headers
    )
    assert response.status_code == 200, response.text
    s = response.json()
    PatientSummary.model_validate(s)
    assert (s["from"], s["to"]) == ("2026-03-02", "2026-03-22")
    assert s["daily"][0]["local_date"] == "2026-03-02" and len(s["daily"]) == 6
    assert [w["week"] for w in s["weekly"]] == [0, 1, 2]
    assert s["weekly"][0]["pain_mean"] == round(20 / 3, 3)
    assert s["trend"] is None and s["warnings"] == ["insufficient_data_for_trend"]
    assert s["tag_effects"][0]["difference"] == round(20 / 3 - 3, 3)

    default = client.get(url, headers=patient.headers).json()
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    assert default["to"] == today.isoformat()
    assert default["from"] == (today - dt.timedelta(days=27)).isoformat()

    assert_problem(
        client.get(url, params={"from": "2026-03-22", "to": "2026-03-02"}, headers=patient.headers),
        422,
        field="from",
    )
    assert_problem(
        client.get(url, params={"from": "2020-01-01", "to": "2026-03-02"}, headers=patient.headers),
        422,
        field="from",
    )


@pytest.mark.parametrize("as_of", ["1773014400", "20260322"])
def test_as_of_is_not_read_as_unix_time(client: TestClient, patient: Account, as_of: str) -> None:
    put(client, patient, f"courses/{COURSE_ID}", {"name": "New", "start_date": "2026-03-09"})
    response = client.get(summary_url(), params={"as_of": as_of}, headers=patient.headers)
    assert_problem(response, 422, field="as_of")


def test_as_needed_is_decided_by_the_kind_alone(client: TestClient, patient: Account) -> None:
    put(client, patient, f"courses/{COURSE_ID}", {"name": "New", "start_date": "2026-03-09"})
    preventive = {"name": "as_needed", "kind": "preventive"}  # a name is not a kind
    rescue = {"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"}
    entry(client, patient, "2026-03-09", 5, medications=[preventive])
    entry(client, patient, "2026-03-10", 5, medications=[preventive, rescue])
    entry(client, patient, "2026-03-11", 5)
    entry(client, patient, "2026-03-11", 6, tags=["weather", "long drive"])
    daily = client.get(
        summary_url(), params={"as_of": "2026-03-11"}, headers=patient.headers
    ).json()["daily"]
    assert [(d["local_date"], d["as_needed"]) for d in daily] == [
        ("2026-03-09", False),
        ("2026-03-10", True),
        ("2026-03-11", False),
    ]
