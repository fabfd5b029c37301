"""Session events over HTTP (contract §4, with the record conventions of §0)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.records.changes import tombstones
from app.sessions.service import sessions
from tests.conftest import Account, assert_problem, count_rows

SESSIONS = "/v1/patients/me/sessions"
MODALITIES = ["acupuncture", "electroacupuncture", "dry_needling", "medical_acupuncture", "other"]
ADVERSE_EVENTS = ["bruising", "bleeding", "soreness", "dizziness", "fainting", "fatigue", "other"]
SERVER_FIELDS = ("id", "patient_id", "version", "created_at", "updated_at", "local_date")


def session_url(session_id: uuid.UUID | str, patient: str = "me") -> str:
    return f"/v1/patients/{patient}/sessions/{session_id}"


def session_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_at": "2026-10-06T18:30:00+02:00",
        "points": ["LI4", "ST36"],
        "duration_minutes": 30,
        "pain_before": 6,
        "pain_after": 3,
        "adverse_events": [],
        "practitioner": "Dr. Li",
        "notes": "felt warm",
    }
    return body | overrides


def merge_patch(client: TestClient, url: str, patch: Any, account: Account, **headers: str) -> Any:
    return client.patch(
        url,
        content=json.dumps(patch),
        headers=account.headers | {"Content-Type": "application/merge-patch+json"} | headers,
    )


@pytest.fixture
def stored_sessions(db: Any, portal: Callable[..., Any]) -> Callable[..., int]:
    """How many session rows match, e.g. ``stored_sessions(patient_id=...)``."""

    def count(**where: Any) -> int:
        return int(portal(count_rows, db, sessions.table, **where))

    return count


@pytest.fixture
def make_course(client: TestClient) -> Callable[..., dict[str, Any]]:
    """PUT a course for an account (modality acupuncture unless given); returns it."""

    def make(account: Account, **fields: Any) -> Any:
        body = {"name": "Needling", "start_date": "2026-10-01", "modality": "acupuncture"}
        url = f"/v1/patients/me/courses/{uuid.uuid4()}"
        response = client.put(url, json=body | fields, headers=account.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def make_session(client: TestClient) -> Callable[..., dict[str, Any]]:
    """PUT a new session for an account; returns the stored session."""

    def make(account: Account, session_id: uuid.UUID | None = None, **fields: Any) -> Any:
        url = session_url(session_id or uuid.uuid4())
        response = client.put(url, json=session_body(**fields), headers=account.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


# --- create, replace, read, delete ------------------------------------------------------------


def test_put_creates_a_session(
    client: TestClient, patient: Account, stored_sessions: Callable[..., int]
) -> None:
    session_id = uuid.uuid4()
    response = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == session_url(session_id)
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert {k: v for k, v in body.items() if k not in SERVER_FIELDS} == session_body() | {
        "course_id": None,
        "modality": None,
        "electro_frequency_hz": None,
    }
    assert body["id"] == str(session_id)
    assert body["patient_id"] == str(patient.id)
    assert body["local_date"] == "2026-10-06"
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"]
    assert stored_sessions(patient_id=patient.id, id=session_id) == 1
    assert client.get(session_url(session_id), headers=patient.headers).json() == body


def test_minimal_session_has_empty_lists(client: TestClient, patient: Account) -> None:
    body = {"occurred_at": "2026-10-06T18:30:00+02:00"}
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert (stored["points"], stored["adverse_events"]) == ([], [])
    for name in ("course_id", "modality", "electro_frequency_hz", "duration_minutes"):
        assert stored[name] is None
    for name in ("pain_before", "pain_after", "practitioner", "notes"):
        assert stored[name] is None


def test_put_replaces_a_session(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    first = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    replacement = {"occurred_at": "2026-10-07T09:00:00+02:00", "points": ["GB20"]}
    response = client.put(session_url(session_id), json=replacement, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert body["version"] == 2
    assert (body["occurred_at"], body["local_date"]) == ("2026-10-07T09:00:00+02:00", "2026-10-07")
    assert body["points"] == ["GB20"]
    assert (body["pain_before"], body["notes"]) == (None, None)
    assert body["created_at"] == first.json()["created_at"]
    assert client.get(session_url(session_id), headers=patient.headers).json() == body


def test_identical_replay_keeps_the_version(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    first = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    replay = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    assert replay.status_code == 200
    assert replay.headers["etag"] == '"1"'
    assert replay.json() == first.json()


def test_replay_with_an_inherited_modality_is_unchanged(
    client: TestClient, patient: Account, make_course: Callable[..., Any]
) -> None:
    course = make_course(patient, modality="electroacupuncture")
    session_id = uuid.uuid4()
    body = session_body(course_id=course["id"], electro_frequency_hz=2.5)
    first = client.put(session_url(session_id), json=body, headers=patient.headers)
    assert first.status_code == 201, first.text
    replay = client.put(session_url(session_id), json=body, headers=patient.headers)
    assert replay.status_code == 200
    assert replay.json()["version"] == 1


def test_replay_of_what_get_returned_is_unchanged(client: TestClient, patient: Account) -> None:
    """A phone that PUTs back the record it read (server fields included) changes nothing."""
    session_id = uuid.uuid4()
    client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    fetched = client.get(session_url(session_id), headers=patient.headers).json()
    replay = client.put(session_url(session_id), json=fetched, headers=patient.headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == fetched


def test_post_creates_with_a_server_id(
    client: TestClient, patient: Account, stored_sessions: Callable[..., int]
) -> None:
    response = client.post(SESSIONS, json=session_body(), headers=patient.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == session_url(body["id"])
    assert response.headers["etag"] == '"1"'
    assert client.get(response.headers["location"], headers=patient.headers).json() == body
    assert stored_sessions(patient_id=patient.id) == 1


def test_if_none_match_and_if_match(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    url = session_url(session_id)
    client.put(url, json=session_body(), headers=patient.headers)
    cached = client.get(url, headers=patient.headers | {"If-None-Match": '"1"'})
    assert (cached.status_code, cached.headers["etag"]) == (304, '"1"')
    updated = client.put(
        url, json=session_body(pain_after=2), headers=patient.headers | {"If-Match": '"1"'}
    )
    assert updated.status_code == 200
    assert updated.json()["version"] == 2
    stale = client.put(
        url, json=session_body(pain_after=1), headers=patient.headers | {"If-Match": '"1"'}
    )
    assert_problem(stale, 412)
    assert_problem(merge_patch(client, url, {"pain_after": 1}, patient, **{"If-Match": '"1"'}), 412)
    assert_problem(client.delete(url, headers=patient.headers | {"If-Match": '"1"'}), 412)
    current = client.get(url, headers=patient.headers).json()
    assert (current["version"], current["pain_after"]) == (2, 2)


def test_patch_changes_and_clears_fields(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    created = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    patch = {"pain_after": 1, "notes": None, "points": ["sj5", "LI4"]}
    response = merge_patch(client, session_url(session_id), patch, patient)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    expected = created.json() | {"pain_after": 1, "notes": None, "points": ["TE5", "LI4"]}
    expected |= {"version": 2, "updated_at": response.json()["updated_at"]}
    assert response.json() == expected
    assert client.get(session_url(session_id), headers=patient.headers).json() == expected


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"occurred_at": None}, "occurred_at"),
        ({"occurred_at": "2026-10-06T18:30:00"}, "occurred_at"),
        ({"pain_after": 11}, "pain_after"),
        ({"points": ["LU12"]}, "points"),
        ({"electro_frequency_hz": 2}, "electro_frequency_hz"),
        ({"course_id": "00000000-0000-4000-8000-000000000000"}, "course_id"),
        ({"colour": "red"}, "colour"),
        ({"id": "00000000-0000-4000-8000-000000000000"}, "id"),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(
    client: TestClient, patient: Account, patch: dict[str, Any], field: str
) -> None:
    session_id = uuid.uuid4()
    created = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    assert_problem(merge_patch(client, session_url(session_id), patch, patient), 422, field=field)
    assert client.get(session_url(session_id), headers=patient.headers).json() == created.json()


def test_delete_leaves_a_tombstone(
    client: TestClient, patient: Account, db: Any, portal: Callable[..., Any]
) -> None:
    session_id = uuid.uuid4()
    client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    response = client.delete(session_url(session_id), headers=patient.headers)
    assert response.status_code == 204
    assert_problem(client.get(session_url(session_id), headers=patient.headers), 404)
    where = {"patient_id": patient.id, "kind": "session", "id": session_id, "version": 2}
    assert portal(count_rows, db, tombstones, **where) == 1
    assert portal(count_rows, db, sessions.table) == 0
    assert client.delete(session_url(session_id), headers=patient.headers).status_code == 204


# --- the course link and the modality ---------------------------------------------------------


def test_session_in_one_of_the_patients_courses(
    client: TestClient, patient: Account, make_course: Callable[..., Any]
) -> None:
    course = make_course(patient)
    response = client.put(
        session_url(uuid.uuid4()),
        json=session_body(course_id=course["id"]),
        headers=patient.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["course_id"] == course["id"]


@pytest.mark.parametrize("whose", ["other_patient", "nobody"])
@pytest.mark.parametrize("method", ["put", "post"])
def test_course_of_another_patient_or_none_is_422_and_stores_nothing(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_course: Callable[..., Any],
    stored_sessions: Callable[..., int],
    whose: str,
    method: str,
) -> None:
    course_id = make_course(other_patient)["id"] if whose == "other_patient" else str(uuid.uuid4())
    body = session_body(course_id=course_id)
    if method == "put":
        response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    else:
        response = client.post(SESSIONS, json=body, headers=patient.headers)
    problem = assert_problem(response, 422, field="course_id")
    assert "course_id" in problem["detail"]
    assert stored_sessions() == 0


def test_moving_a_session_to_another_patients_course_changes_nothing(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_course: Callable[..., Any],
) -> None:
    mine = make_course(patient)
    theirs = make_course(other_patient)
    session_id = uuid.uuid4()
    created = client.put(
        session_url(session_id), json=session_body(course_id=mine["id"]), headers=patient.headers
    )
    response = client.put(
        session_url(session_id), json=session_body(course_id=theirs["id"]), headers=patient.headers
    )
    assert_problem(response, 422, field="course_id")
    assert client.get(session_url(session_id), headers=patient.headers).json() == created.json()


@pytest.mark.parametrize(
    ("course_modality", "session_modality", "stored"),
    [
        pytest.param("electroacupuncture", None, "electroacupuncture", id="inherited"),
        pytest.param("dry_needling", None, "dry_needling", id="inherited-2"),
        pytest.param("electroacupuncture", "acupuncture", "acupuncture", id="explicit-wins"),
        pytest.param(None, "other", "other", id="course-without-modality"),
        pytest.param(None, None, None, id="neither"),
    ],
)
def test_modality_defaults_to_the_courses(
    client: TestClient,
    patient: Account,
    make_course: Callable[..., Any],
    course_modality: str | None,
    session_modality: str | None,
    stored: str | None,
) -> None:
    course = make_course(patient, modality=course_modality)
    body = session_body(course_id=course["id"])
    if session_modality is not None:
        body["modality"] = session_modality
    session_id = uuid.uuid4()
    response = client.put(session_url(session_id), json=body, headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.json()["modality"] == stored
    assert client.get(session_url(session_id), headers=patient.headers).json()["modality"] == stored


def test_without_course_or_modality_the_modality_is_null(
    client: TestClient, patient: Account
) -> None:
    response = client.put(session_url(uuid.uuid4()), json=session_body(), headers=patient.headers)
    assert response.json()["modality"] is None


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_modality_is_accepted(client: TestClient, patient: Account, modality: str) -> None:
    response = client.put(
        session_url(uuid.uuid4()), json=session_body(modality=modality), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["modality"] == modality


# --- electroacupuncture frequency -------------------------------------------------------------


@pytest.mark.parametrize("hz", [0.5, 2, 100, 200])
def test_frequency_with_electroacupuncture(client: TestClient, patient: Account, hz: float) -> None:
    body = session_body(modality="electroacupuncture", electro_frequency_hz=hz)
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.json()["electro_frequency_hz"] == hz


def test_frequency_with_electroacupuncture_inherited_from_the_course(
    client: TestClient, patient: Account, make_course: Callable[..., Any]
) -> None:
    course = make_course(patient, modality="electroacupuncture")
    body = session_body(course_id=course["id"], electro_frequency_hz=2.0)
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.json()["modality"] == "electroacupuncture"
    assert response.json()["electro_frequency_hz"] == 2.0


NO_COURSE = "no course"


@pytest.mark.parametrize(
    ("course_modality", "session_modality"),
    [
        pytest.param(NO_COURSE, None, id="no-modality"),
        pytest.param(NO_COURSE, "acupuncture", id="acupuncture"),
        pytest.param(NO_COURSE, "dry_needling", id="dry-needling"),
        pytest.param(NO_COURSE, "other", id="other"),
        pytest.param("acupuncture", None, id="inherited-acupuncture"),
        pytest.param(None, None, id="course-without-modality"),
        pytest.param("electroacupuncture", "acupuncture", id="explicit-overrides-electro-course"),
    ],
)
def test_frequency_without_electroacupuncture_is_422(
    client: TestClient,
    patient: Account,
    make_course: Callable[..., Any],
    stored_sessions: Callable[..., int],
    course_modality: str | None,
    session_modality: str | None,
) -> None:
    body = session_body(electro_frequency_hz=2)
    if course_modality != NO_COURSE:
        body["course_id"] = make_course(patient, modality=course_modality)["id"]
    if session_modality is not None:
        body["modality"] = session_modality
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert_problem(response, 422, field="electro_frequency_hz")
    assert stored_sessions() == 0


def test_changing_modality_away_from_electro_with_a_frequency_is_422(
    client: TestClient, patient: Account
) -> None:
    session_id = uuid.uuid4()
    body = session_body(modality="electroacupuncture", electro_frequency_hz=10)
    created = client.put(session_url(session_id), json=body, headers=patient.headers)
    response = merge_patch(client, session_url(session_id), {"modality": "acupuncture"}, patient)
    assert_problem(response, 422, field="electro_frequency_hz")
    assert client.get(session_url(session_id), headers=patient.headers).json() == created.json()


# --- field validation -------------------------------------------------------------------------


INVALID_BODIES = [
    pytest.param({"electro_frequency_hz": 0.4}, "electro_frequency_hz", id="hz-0.4"),
    pytest.param({"electro_frequency_hz": 201}, "electro_frequency_hz", id="hz-201"),
    pytest.param({"electro_frequency_hz": 0}, "electro_frequency_hz", id="hz-0"),
    pytest.param({"electro_frequency_hz": -2}, "electro_frequency_hz", id="hz-negative"),
    pytest.param({"duration_minutes": 0}, "duration_minutes", id="duration-0"),
    pytest.param({"duration_minutes": 241}, "duration_minutes", id="duration-241"),
    pytest.param({"duration_minutes": 30.5}, "duration_minutes", id="duration-float"),
    pytest.param({"duration_minutes": "30"}, "duration_minutes", id="duration-string"),
    pytest.param({"pain_before": -1}, "pain_before", id="before-negative"),
    pytest.param({"pain_before": 11}, "pain_before", id="before-11"),
    pytest.param({"pain_before": "5"}, "pain_before", id="before-string"),
    pytest.param({"pain_before": 5.5}, "pain_before", id="before-float"),
    pytest.param({"pain_after": -1}, "pain_after", id="after-negative"),
    pytest.param({"pain_after": 11}, "pain_after", id="after-11"),
    pytest.param({"pain_after": "2"}, "pain_after", id="after-string"),
    pytest.param({"adverse_events": ["headache"]}, "adverse_events", id="adverse-unknown"),
    pytest.param({"adverse_events": ["Bruising"]}, "adverse_events", id="adverse-case"),
    pytest.param({"adverse_events": "bruising"}, "adverse_events", id="adverse-not-a-list"),
    pytest.param({"points": [f"BL{n}" for n in range(1, 62)]}, "points", id="points-61"),
    pytest.param({"points": "LI4"}, "points", id="points-not-a-list"),
    pytest.param({"points": [4]}, "points", id="points-number"),
    pytest.param({"points": ["LI4" + " " * 30]}, "points", id="points-long-string"),
    pytest.param({"modality": "cupping"}, "modality", id="modality-unknown"),
    pytest.param({"practitioner": "x" * 201}, "practitioner", id="practitioner-201"),
    pytest.param({"notes": "x" * 2001}, "notes", id="notes-2001"),
    pytest.param({"occurred_at": "2026-10-06T18:30:00"}, "occurred_at", id="naive"),
    pytest.param({"occurred_at": "2026-10-06"}, "occurred_at", id="date-only"),
    pytest.param({"occurred_at": "yesterday"}, "occurred_at", id="not-a-time"),
    pytest.param({"occurred_at": None}, "occurred_at", id="occurred-null"),
    pytest.param({"course_id": "not-a-uuid"}, "course_id", id="course-not-uuid"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"local_day": "2026-10-06"}, "local_day", id="unknown-field-typo"),
]


@pytest.mark.parametrize(("overrides", "field"), INVALID_BODIES)
def test_invalid_session_is_422_and_stores_nothing(
    client: TestClient,
    patient: Account,
    stored_sessions: Callable[..., int],
    overrides: dict[str, Any],
    field: str,
) -> None:
    body = session_body(modality="electroacupuncture") | overrides
    assert_problem(
        client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers), 422, field=field
    )
    assert_problem(client.post(SESSIONS, json=body, headers=patient.headers), 422, field=field)
    assert stored_sessions() == 0


@pytest.mark.parametrize(("overrides", "field"), INVALID_BODIES)
def test_invalid_replacement_leaves_the_session_unchanged(
    client: TestClient, patient: Account, overrides: dict[str, Any], field: str
) -> None:
    session_id = uuid.uuid4()
    created = client.put(session_url(session_id), json=session_body(), headers=patient.headers)
    body = session_body(modality="electroacupuncture") | overrides
    assert_problem(
        client.put(session_url(session_id), json=body, headers=patient.headers), 422, field=field
    )
    assert client.get(session_url(session_id), headers=patient.headers).json() == created.json()


def test_occurred_at_is_required(
    client: TestClient, patient: Account, stored_sessions: Callable[..., int]
) -> None:
    body = session_body()
    del body["occurred_at"]
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert_problem(response, 422, field="occurred_at")
    assert stored_sessions() == 0


def test_body_id_must_match_the_path(
    client: TestClient, patient: Account, stored_sessions: Callable[..., int]
) -> None:
    body = session_body(id=str(uuid.uuid4()))
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert_problem(response, 422, field="id")
    assert stored_sessions() == 0


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"duration_minutes": 1}, id="duration-1"),
        pytest.param({"duration_minutes": 240}, id="duration-240"),
        pytest.param({"pain_before": 0, "pain_after": 0}, id="pain-0"),
        pytest.param({"pain_before": 10, "pain_after": 10}, id="pain-10"),
        pytest.param({"adverse_events": ADVERSE_EVENTS}, id="every-adverse-event"),
        pytest.param({"points": [f"BL{n}" for n in range(1, 61)]}, id="points-60"),
        pytest.param({"practitioner": "x" * 200}, id="practitioner-200"),
        pytest.param({"notes": "x" * 2000}, id="notes-2000"),
        pytest.param({"id": "5f0c7c2e-3b1a-4b59-9a53-0c1f7a4e2b11"}, id="body-repeats-id"),
    ],
)
def test_boundary_values_are_accepted(
    client: TestClient, patient: Account, overrides: dict[str, Any]
) -> None:
    session_id = overrides.get("id", uuid.uuid4())
    response = client.put(
        session_url(session_id), json=session_body(**overrides), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    for name, value in overrides.items():
        assert stored[name] == value


@pytest.mark.parametrize("event", ADVERSE_EVENTS)
def test_each_adverse_event_is_accepted(client: TestClient, patient: Account, event: str) -> None:
    response = client.put(
        session_url(uuid.uuid4()),
        json=session_body(adverse_events=[event]),
        headers=patient.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["adverse_events"] == [event]


def test_duplicate_adverse_events_collapse(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    events = ["soreness", "bruising", "soreness", "bruising"]
    response = client.put(
        session_url(session_id), json=session_body(adverse_events=events), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["adverse_events"] == ["soreness", "bruising"]
    fetched = client.get(session_url(session_id), headers=patient.headers).json()
    assert fetched["adverse_events"] == ["soreness", "bruising"]


# --- points -----------------------------------------------------------------------------------


def test_points_are_normalised_and_deduplicated(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    raw = ["li 4", "LI-4", "sj5", "liv3", "du20", "ren12", "ub40", "ex-hn3", "EX HN 3", "st36"]
    expected = ["LI4", "TE5", "LR3", "GV20", "CV12", "BL40", "EX-HN3", "ST36"]
    response = client.put(
        session_url(session_id), json=session_body(points=raw), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["points"] == expected
    assert client.get(session_url(session_id), headers=patient.headers).json()["points"] == expected
    # Sending the normalised form again is an identical replay.
    replay = client.put(
        session_url(session_id), json=session_body(points=expected), headers=patient.headers
    )
    assert (replay.status_code, replay.json()["version"]) == (200, 1)


@pytest.mark.parametrize("code", ["LU12", "XX1", "EX-CA2", "LU0", "SJ24", "GV29"])
def test_unknown_point_is_422_naming_it(
    client: TestClient, patient: Account, stored_sessions: Callable[..., int], code: str
) -> None:
    body = session_body(points=["LI4", code, "ST36"])
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    problem = assert_problem(response, 422, field="points")
    assert code in problem["detail"]
    assert any(code in error["msg"] for error in problem["errors"])
    assert "LI4" not in problem["detail"]
    assert stored_sessions() == 0


def test_every_unknown_point_is_named(client: TestClient, patient: Account) -> None:
    body = session_body(points=["LU12", "LI4", "XX1"])
    response = client.put(session_url(uuid.uuid4()), json=body, headers=patient.headers)
    problem = assert_problem(response, 422, field="points")
    assert "LU12" in problem["detail"]
    assert "XX1" in problem["detail"]


# --- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "local_date"),
    [
        ("2026-11-20T23:30:00-05:00", "2026-11-20"),  # already 11-21 in UTC
        ("2026-11-21T00:30:00+09:00", "2026-11-21"),  # still 11-20 in UTC
        ("2026-11-20T10:00:00+05:30", "2026-11-20"),
        ("2026-11-20T10:00:00-03:30", "2026-11-20"),
        ("2026-11-21T06:15:00+14:00", "2026-11-21"),
    ],
)
def test_occurred_at_keeps_its_offset_and_gives_the_local_date(
    client: TestClient, patient: Account, occurred_at: str, local_date: str
) -> None:
    session_id = uuid.uuid4()
    response = client.put(
        session_url(session_id), json=session_body(occurred_at=occurred_at), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    fetched = client.get(session_url(session_id), headers=patient.headers).json()
    for body in (response.json(), fetched):
        assert body["occurred_at"] == occurred_at
        assert body["local_date"] == local_date


def test_utc_occurred_at_is_the_same_instant(client: TestClient, patient: Account) -> None:
    session_id = uuid.uuid4()
    client.put(
        session_url(session_id),
        json=session_body(occurred_at="2026-11-20T23:30:00Z"),
        headers=patient.headers,
    )
    fetched = client.get(session_url(session_id), headers=patient.headers).json()
    returned = dt.datetime.fromisoformat(fetched["occurred_at"])
    assert returned == dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    assert returned.utcoffset() == dt.timedelta(0)
    assert fetched["local_date"] == "2026-11-20"


# --- list -------------------------------------------------------------------------------------


@pytest.fixture
def course_pair(make_course: Callable[..., Any], patient: Account) -> tuple[str, str]:
    return make_course(patient)["id"], make_course(patient, name="Second course")["id"]


@pytest.fixture
def six_sessions(
    make_session: Callable[..., Any], patient: Account, course_pair: tuple[str, str]
) -> dict[str, dict[str, Any]]:
    """Six sessions by name; ``tie_a`` and ``tie_b`` are the same instant in two offsets."""
    first, second = course_pair
    spec = {
        "oldest": ("2026-11-02T09:00:00+01:00", first),
        "late_night": ("2026-11-20T23:30:00-05:00", first),  # 2026-11-21 04:30 UTC
        "early_next": ("2026-11-21T03:00:00+00:00", second),
        "tie_a": ("2026-11-10T12:00:00+01:00", None),
        "tie_b": ("2026-11-10T11:00:00+00:00", second),
        "newest": ("2026-11-25T08:00:00+01:00", first),
    }
    return {
        name: make_session(patient, occurred_at=at, course_id=course)
        for name, (at, course) in spec.items()
    }


def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(s: dict[str, Any]) -> tuple[dt.datetime, uuid.UUID]:
        return dt.datetime.fromisoformat(s["occurred_at"]), uuid.UUID(s["id"])

    return sorted(items, key=key, reverse=True)


def test_list_is_newest_first_by_instant(
    client: TestClient, patient: Account, six_sessions: dict[str, dict[str, Any]]
) -> None:
    response = client.get(SESSIONS, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["next_cursor"] is None
    assert body["items"] == newest_first(list(six_sessions.values()))
    names = {s["id"]: name for name, s in six_sessions.items()}
    order = [names[s["id"]] for s in body["items"]]
    assert order[:3] == ["newest", "late_night", "early_next"]
    assert sorted(order[3:5]) == ["tie_a", "tie_b"]
    assert order[5] == "oldest"


@pytest.mark.parametrize(("limit", "sizes"), [(4, [4, 2]), (1, [1] * 6)])
def test_list_paginates_with_a_cursor(
    client: TestClient,
    patient: Account,
    six_sessions: dict[str, dict[str, Any]],
    limit: int,
    sizes: list[int],
) -> None:
    """limit=4 splits the two same-instant sessions across pages: the id breaks the tie."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get(SESSIONS, params=params, headers=patient.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 7, "the cursor does not advance"
    assert [len(page) for page in pages] == sizes
    assert [s for page in pages for s in page] == newest_first(list(six_sessions.values()))


def test_list_filters_by_course(
    client: TestClient,
    patient: Account,
    course_pair: tuple[str, str],
    six_sessions: dict[str, dict[str, Any]],
) -> None:
    first, second = course_pair
    for course_id, names in (
        (first, ["newest", "late_night", "oldest"]),
        (second, ["early_next", "tie_b"]),
    ):
        response = client.get(SESSIONS, params={"course_id": course_id}, headers=patient.headers)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [six_sessions[name] for name in names]
    unknown = client.get(SESSIONS, params={"course_id": str(uuid.uuid4())}, headers=patient.headers)
    assert unknown.json() == {"items": [], "next_cursor": None}


def test_list_by_course_paginates(
    client: TestClient,
    patient: Account,
    course_pair: tuple[str, str],
    six_sessions: dict[str, dict[str, Any]],
) -> None:
    params: dict[str, Any] = {"course_id": course_pair[0], "limit": 2}
    page1 = client.get(SESSIONS, params=params, headers=patient.headers).json()
    assert page1["items"] == [six_sessions["newest"], six_sessions["late_night"]]
    assert page1["next_cursor"] is not None
    params["cursor"] = page1["next_cursor"]
    page2 = client.get(SESSIONS, params=params, headers=patient.headers).json()
    assert page2 == {"items": [six_sessions["oldest"]], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"from": "2026-11-20", "to": "2026-11-20"}, ["late_night"]),
        ({"from": "2026-11-21", "to": "2026-11-21"}, ["early_next"]),
        ({"from": "2026-11-21"}, ["newest", "early_next"]),
        ({"to": "2026-11-10"}, ["tie_a", "tie_b", "oldest"]),
        (
            {"from": "2026-11-03", "to": "2026-11-24"},
            ["late_night", "early_next", "tie_a", "tie_b"],
        ),
        ({"from": "2026-11-26"}, []),
    ],
)
def test_list_filters_on_local_date(
    client: TestClient,
    patient: Account,
    six_sessions: dict[str, dict[str, Any]],
    params: dict[str, str],
    names: list[str],
) -> None:
    response = client.get(SESSIONS, params=params, headers=patient.headers)
    assert response.status_code == 200, response.text
    expected = newest_first([six_sessions[name] for name in names])
    assert response.json()["items"] == expected


def test_list_combines_course_and_dates(
    client: TestClient,
    patient: Account,
    course_pair: tuple[str, str],
    six_sessions: dict[str, dict[str, Any]],
) -> None:
    params = {"course_id": course_pair[0], "from": "2026-11-03", "to": "2026-11-24"}
    response = client.get(SESSIONS, params=params, headers=patient.headers)
    assert response.json()["items"] == [six_sessions["late_night"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"course_id": "not-a-uuid"}, "course_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"to": "20261120"}, "to"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "from"),
    ],
)
def test_list_rejects_bad_parameters(
    client: TestClient, patient: Account, params: dict[str, Any], field: str
) -> None:
    assert_problem(client.get(SESSIONS, params=params, headers=patient.headers), 422, field=field)


# --- access -----------------------------------------------------------------------------------


def test_other_patient_gets_404_and_changes_nothing(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_session: Callable[..., Any],
    stored_sessions: Callable[..., int],
) -> None:
    session = make_session(patient)
    url = session_url(session["id"], str(patient.id))
    headers = other_patient.headers
    assert_problem(client.get(url, headers=headers), 404)
    assert_problem(client.put(url, json=session_body(pain_after=0), headers=headers), 404)
    assert_problem(merge_patch(client, url, {"pain_after": 0}, other_patient), 404)
    assert_problem(client.delete(url, headers=headers), 404)
    fresh = session_url(uuid.uuid4(), str(patient.id))
    assert_problem(client.put(fresh, json=session_body(), headers=headers), 404)
    collection = f"/v1/patients/{patient.id}/sessions"
    assert_problem(client.get(collection, headers=headers), 404)
    assert_problem(client.post(collection, json=session_body(), headers=headers), 404)
    assert client.get(session_url(session["id"]), headers=patient.headers).json() == session
    assert stored_sessions(patient_id=patient.id) == 1
    assert stored_sessions(patient_id=other_patient.id) == 0


def test_own_list_hides_other_patients_sessions(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_session: Callable[..., Any],
) -> None:
    mine = make_session(patient)
    make_session(other_patient)
    assert client.get(SESSIONS, headers=patient.headers).json()["items"] == [mine]


def test_unlinked_clinician_gets_404(
    client: TestClient,
    patient: Account,
    clinician: Account,
    make_session: Callable[..., Any],
    stored_sessions: Callable[..., int],
) -> None:
    session = make_session(patient)
    url = session_url(session["id"], str(patient.id))
    headers = clinician.headers
    assert_problem(client.get(url, headers=headers), 404)
    assert_problem(client.put(url, json=session_body(pain_after=0), headers=headers), 404)
    assert_problem(client.get(f"/v1/patients/{patient.id}/sessions", headers=headers), 404)
    assert_problem(client.get(SESSIONS, headers=headers), 404)
    assert client.get(session_url(session["id"]), headers=patient.headers).json() == session
    assert stored_sessions() == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", SESSIONS),
        ("post", SESSIONS),
        ("get", session_url("8e4f1a52-2a38-4a4c-9d55-4a3c22222222")),
        ("put", session_url("8e4f1a52-2a38-4a4c-9d55-4a3c22222222")),
        ("patch", session_url("8e4f1a52-2a38-4a4c-9d55-4a3c22222222")),
        ("delete", session_url("8e4f1a52-2a38-4a4c-9d55-4a3c22222222")),
    ],
)
def test_no_token_is_401(
    client: TestClient, stored_sessions: Callable[..., int], method: str, path: str
) -> None:
    kwargs: dict[str, Any] = {} if method in ("get", "delete") else {"json": session_body()}
    response = client.request(method.upper(), path, **kwargs)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert stored_sessions() == 0


def test_openapi_states_the_electroacupuncture_frequency_range(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    frequency = schemas["SessionIn"]["properties"]["electro_frequency_hz"]["anyOf"][0]
    assert frequency == {"type": "number", "minimum": 0.5, "maximum": 200}
