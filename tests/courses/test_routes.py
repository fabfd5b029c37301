"""Treatment courses over HTTP (contract §3, with the record conventions of §0)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.database import Database
from app.courses.service import courses
from app.records.changes import tombstones
from app.sessions.service import sessions
from tests.conftest import Account, assert_problem, count_rows

COURSES = "/v1/patients/me/courses"
CONDITIONS = [
    "neck_pain", "low_back_pain", "osteoarthritis", "tension_headache", "migraine",
    "fibromyalgia", "postoperative_pain", "neuropathy", "other",
]  # fmt: skip
MODALITIES = ["acupuncture", "electroacupuncture", "dry_needling", "medical_acupuncture", "other"]
SERVER_FIELDS = ("id", "patient_id", "version", "created_at", "updated_at")


def course_url(course_id: uuid.UUID | str, patient: str = "me") -> str:
    return f"/v1/patients/{patient}/courses/{course_id}"


def course_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acupuncture for low back pain",
        "condition": "low_back_pain",
        "modality": "acupuncture",
        "start_date": "2026-10-01",
        "planned_sessions": 10,
        "practitioner": "Dr. Li",
        "pattern": "qi stagnation",
        "notes": "weekly on Tuesdays",
    }
    return body | overrides


def merge_patch(client: TestClient, url: str, patch: Any, account: Account, **headers: str) -> Any:
    return client.patch(
        url,
        content=json.dumps(patch),
        headers=account.headers | {"Content-Type": "application/merge-patch+json"} | headers,
    )


@pytest.fixture
def rows(db: Any, portal: Callable[..., Any]) -> Callable[..., int]:
    """How many rows of a table match, e.g. ``rows(courses.table, patient_id=...)``."""

    def count(table: Any, **where: Any) -> int:
        return int(portal(count_rows, db, table, **where))

    return count


@pytest.fixture
def make_course(client: TestClient) -> Callable[..., dict[str, Any]]:
    """PUT a new course for an account; returns the stored course."""

    def make(account: Account, course_id: uuid.UUID | None = None, **fields: Any) -> Any:
        response = client.put(
            course_url(course_id or uuid.uuid4()),
            json=course_body(**fields),
            headers=account.headers,
        )
        assert response.status_code == 201, response.text
        return response.json()

    return make


# --- create, replace, read -------------------------------------------------------------------


def test_put_creates_a_course(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    course_id = uuid.uuid4()
    response = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == course_url(course_id)
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert {k: v for k, v in body.items() if k not in SERVER_FIELDS} == course_body() | {
        "end_date": None
    }
    assert body["id"] == str(course_id)
    assert body["patient_id"] == str(patient.id)
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith(("Z", "+00:00"))
    assert rows(courses.table, patient_id=patient.id, id=course_id) == 1


def test_put_minimal_course_leaves_optional_fields_null(
    client: TestClient, patient: Account
) -> None:
    body = {"name": "Needling", "start_date": "2026-10-01"}
    response = client.put(course_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert response.status_code == 201, response.text
    stored = response.json()
    for name in ("condition", "modality", "end_date", "planned_sessions", "practitioner"):
        assert stored[name] is None
    assert (stored["pattern"], stored["notes"]) == (None, None)


def test_put_replaces_a_course(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    first = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    replacement = {"name": "Electro for the knee", "start_date": "2026-09-01"}
    response = client.put(course_url(course_id), json=replacement, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert "location" not in response.headers
    body = response.json()
    assert body["version"] == 2
    assert body["name"] == "Electro for the knee"
    assert body["start_date"] == "2026-09-01"
    # A replace is a whole record: fields left out are cleared.
    assert (body["condition"], body["planned_sessions"], body["notes"]) == (None, None, None)
    assert body["created_at"] == first.json()["created_at"]
    assert body["updated_at"] >= first.json()["updated_at"]
    assert client.get(course_url(course_id), headers=patient.headers).json() == body


def test_identical_replay_keeps_the_version(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    first = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    replay = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    assert replay.status_code == 200
    assert replay.headers["etag"] == '"1"'
    assert replay.json() == first.json()


def test_replay_of_what_get_returned_is_unchanged(client: TestClient, patient: Account) -> None:
    """Server fields sent back by a client are ignored; the id may be repeated."""
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    fetched = client.get(course_url(course_id), headers=patient.headers).json()
    replay = client.put(course_url(course_id), json=fetched, headers=patient.headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == fetched


def test_server_fields_from_the_client_are_ignored(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    body = course_body(
        version=41,
        patient_id=str(uuid.uuid4()),
        created_at="2000-01-01T00:00:00Z",
        updated_at="2000-01-01T00:00:00Z",
    )
    response = client.put(course_url(course_id), json=body, headers=patient.headers)
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 1
    assert response.json()["patient_id"] == str(patient.id)
    assert not response.json()["created_at"].startswith("2000")


def test_post_creates_with_a_server_id(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    response = client.post(COURSES, json=course_body(), headers=patient.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    course_id = uuid.UUID(body["id"])
    assert response.headers["location"] == course_url(course_id)
    assert response.headers["etag"] == '"1"'
    assert body["version"] == 1
    assert body["name"] == "Acupuncture for low back pain"
    fetched = client.get(response.headers["location"], headers=patient.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert rows(courses.table, patient_id=patient.id) == 1


def test_get_by_patient_uuid_equals_me(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    by_me = client.get(course_url(course_id), headers=patient.headers)
    by_id = client.get(course_url(course_id, str(patient.id)), headers=patient.headers)
    assert by_me.status_code == by_id.status_code == 200
    assert by_me.json() == by_id.json()
    assert by_me.headers["etag"] == '"1"'
    assert by_me.headers["cache-control"] == "no-store"


def test_get_unknown_course_is_404(client: TestClient, patient: Account) -> None:
    assert_problem(client.get(course_url(uuid.uuid4()), headers=patient.headers), 404)


# --- preconditions ----------------------------------------------------------------------------


def test_if_none_match_gives_304_when_unchanged(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    cached = client.get(course_url(course_id), headers=patient.headers | {"If-None-Match": '"1"'})
    assert cached.status_code == 304
    assert cached.headers["etag"] == '"1"'
    assert cached.content == b""
    client.put(course_url(course_id), json=course_body(name="Renamed"), headers=patient.headers)
    fresh = client.get(course_url(course_id), headers=patient.headers | {"If-None-Match": '"1"'})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == '"2"'
    assert fresh.json()["name"] == "Renamed"


@pytest.mark.parametrize("tag", ['"1"', 'W/"1"'])
def test_if_match_current_version_allows_the_write(
    client: TestClient, patient: Account, tag: str
) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    response = client.put(
        course_url(course_id),
        json=course_body(name="Renamed"),
        headers=patient.headers | {"If-Match": tag},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, patient: Account, method: str
) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    client.put(course_url(course_id), json=course_body(name="Second"), headers=patient.headers)
    stale = {"If-Match": '"1"'}
    if method == "put":
        response = client.put(
            course_url(course_id), json=course_body(name="Third"), headers=patient.headers | stale
        )
    elif method == "patch":
        response = merge_patch(client, course_url(course_id), {"name": "Third"}, patient, **stale)
    else:
        response = client.delete(course_url(course_id), headers=patient.headers | stale)
    assert_problem(response, 412)
    current = client.get(course_url(course_id), headers=patient.headers).json()
    assert (current["version"], current["name"]) == (2, "Second")


def test_if_match_on_a_missing_course_is_412_and_creates_nothing(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    response = client.put(
        course_url(uuid.uuid4()), json=course_body(), headers=patient.headers | {"If-Match": '"1"'}
    )
    assert_problem(response, 412)
    assert rows(courses.table, patient_id=patient.id) == 0


# --- merge patch ------------------------------------------------------------------------------


def test_patch_sets_end_date_and_keeps_other_fields(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    created = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    response = merge_patch(client, course_url(course_id), {"end_date": "2026-12-10"}, patient)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    expected = created.json() | {"end_date": "2026-12-10", "version": 2}
    expected["updated_at"] = response.json()["updated_at"]
    assert response.json() == expected
    assert client.get(course_url(course_id), headers=patient.headers).json() == expected


def test_patch_null_clears_end_date(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    client.put(
        course_url(course_id), json=course_body(end_date="2026-12-10"), headers=patient.headers
    )
    response = merge_patch(client, course_url(course_id), {"end_date": None}, patient)
    assert response.status_code == 200, response.text
    assert response.json()["end_date"] is None
    assert response.json()["version"] == 2
    assert response.json()["name"] == "Acupuncture for low back pain"
    assert client.get(course_url(course_id), headers=patient.headers).json()["end_date"] is None


def test_patch_that_changes_nothing_keeps_the_version(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    response = merge_patch(client, course_url(course_id), {"planned_sessions": 10}, patient)
    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_patch_accepts_plain_json_content_type(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    response = client.patch(course_url(course_id), json={"notes": "moved"}, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert response.json()["notes"] == "moved"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"start_date": None}, "start_date"),
        ({"condition": "back_ache"}, "condition"),
        ({"modality": "cupping"}, "modality"),
        ({"planned_sessions": 0}, "planned_sessions"),
        ({"colour": "red"}, "colour"),
        ({"id": "00000000-0000-4000-8000-000000000000"}, "id"),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(
    client: TestClient, patient: Account, patch: dict[str, Any], field: str
) -> None:
    course_id = uuid.uuid4()
    created = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    assert_problem(merge_patch(client, course_url(course_id), patch, patient), 422, field=field)
    assert client.get(course_url(course_id), headers=patient.headers).json() == created.json()


def test_patch_of_a_missing_course_is_404(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    response = merge_patch(client, course_url(uuid.uuid4()), {"name": "x"}, patient)
    assert_problem(response, 404)
    assert rows(courses.table) == 0


# --- delete -----------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    client.put(course_url(course_id), json=course_body(name="v2"), headers=patient.headers)
    response = client.delete(course_url(course_id), headers=patient.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(course_url(course_id), headers=patient.headers), 404)
    assert rows(courses.table, patient_id=patient.id) == 0
    assert rows(tombstones, patient_id=patient.id, kind="course", id=course_id) == 1
    assert rows(tombstones, patient_id=patient.id, kind="course", id=course_id, version=3) == 1
    # Deleting again is a safe retry.
    assert client.delete(course_url(course_id), headers=patient.headers).status_code == 204
    assert rows(tombstones, patient_id=patient.id) == 1


def test_delete_with_matching_if_match(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    response = client.delete(course_url(course_id), headers=patient.headers | {"If-Match": '"1"'})
    assert response.status_code == 204


def test_delete_of_a_never_existing_course_is_404(client: TestClient, patient: Account) -> None:
    assert_problem(client.delete(course_url(uuid.uuid4()), headers=patient.headers), 404)


def test_put_after_delete_recreates_with_a_higher_version(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    course_id = uuid.uuid4()
    client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    client.delete(course_url(course_id), headers=patient.headers)
    response = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    assert response.status_code == 201
    assert response.json()["version"] == 3  # 1 created, 2 deleted, 3 created again
    assert rows(tombstones, patient_id=patient.id) == 0


def test_deleting_a_course_detaches_its_sessions(
    client: TestClient,
    patient: Account,
    make_course: Callable[..., Any],
    rows: Callable[..., int],
) -> None:
    course = make_course(patient)
    kept = make_course(patient, name="Another course")
    attached, other = uuid.uuid4(), uuid.uuid4()
    session_url = "/v1/patients/me/sessions/{}".format
    for session_id, course_id in ((attached, course["id"]), (other, kept["id"])):
        body = {"course_id": course_id, "occurred_at": "2026-10-02T10:00:00+02:00"}
        created = client.put(session_url(session_id), json=body, headers=patient.headers)
        assert created.status_code == 201, created.text
    assert client.delete(course_url(course["id"]), headers=patient.headers).status_code == 204
    detached = client.get(session_url(attached), headers=patient.headers)
    assert detached.status_code == 200
    assert detached.json()["course_id"] is None
    assert detached.json()["version"] == 2
    assert detached.json()["modality"] == "acupuncture"  # inherited when written, kept
    assert detached.headers["etag"] == '"2"'
    untouched = client.get(session_url(other), headers=patient.headers).json()
    assert (untouched["course_id"], untouched["version"]) == (kept["id"], 1)
    assert rows(sessions.table, patient_id=patient.id) == 2


# --- validation -------------------------------------------------------------------------------


INVALID_BODIES = [
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": "   "}, "name", id="name-whitespace"),
    pytest.param({"name": "x" * 201}, "name", id="name-201"),
    pytest.param({"name": None}, "name", id="name-null"),
    pytest.param({"name": 5}, "name", id="name-number"),
    pytest.param({"condition": "back_ache"}, "condition", id="condition-unknown"),
    pytest.param({"condition": "Migraine"}, "condition", id="condition-case"),
    pytest.param({"modality": "cupping"}, "modality", id="modality-unknown"),
    pytest.param({"modality": "Acupuncture"}, "modality", id="modality-case"),
    pytest.param({"start_date": None}, "start_date", id="start-null"),
    pytest.param({"start_date": "2026-13-01"}, "start_date", id="start-bad"),
    pytest.param({"start_date": "2026-10-01T10:00:00"}, "start_date", id="start-datetime"),
    pytest.param({"end_date": "31.12.2026"}, "end_date", id="end-bad"),
    pytest.param({"planned_sessions": 0}, "planned_sessions", id="planned-0"),
    pytest.param({"planned_sessions": 101}, "planned_sessions", id="planned-101"),
    pytest.param({"planned_sessions": -1}, "planned_sessions", id="planned-negative"),
    pytest.param({"planned_sessions": "3"}, "planned_sessions", id="planned-string"),
    pytest.param({"planned_sessions": 2.5}, "planned_sessions", id="planned-float"),
    pytest.param({"planned_sessions": True}, "planned_sessions", id="planned-bool"),
    pytest.param({"practitioner": "x" * 201}, "practitioner", id="practitioner-201"),
    pytest.param({"pattern": "x" * 201}, "pattern", id="pattern-201"),
    pytest.param({"notes": "x" * 2001}, "notes", id="notes-2001"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"sessions_done": 3}, "sessions_done", id="unknown-field-2"),
]


@pytest.mark.parametrize(("overrides", "field"), INVALID_BODIES)
def test_invalid_course_is_422_and_stores_nothing(
    client: TestClient,
    patient: Account,
    rows: Callable[..., int],
    overrides: dict[str, Any],
    field: str,
) -> None:
    body = course_body(**overrides)
    assert_problem(
        client.put(course_url(uuid.uuid4()), json=body, headers=patient.headers), 422, field=field
    )
    assert_problem(client.post(COURSES, json=body, headers=patient.headers), 422, field=field)
    assert rows(courses.table) == 0
    assert rows(tombstones) == 0


@pytest.mark.parametrize(("overrides", "field"), INVALID_BODIES)
def test_invalid_replacement_leaves_the_course_unchanged(
    client: TestClient, patient: Account, overrides: dict[str, Any], field: str
) -> None:
    course_id = uuid.uuid4()
    created = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
    response = client.put(
        course_url(course_id), json=course_body(**overrides), headers=patient.headers
    )
    assert_problem(response, 422, field=field)
    assert client.get(course_url(course_id), headers=patient.headers).json() == created.json()


@pytest.mark.parametrize("missing", ["name", "start_date"])
def test_required_fields(
    client: TestClient, patient: Account, rows: Callable[..., int], missing: str
) -> None:
    body = course_body()
    del body[missing]
    response = client.put(course_url(uuid.uuid4()), json=body, headers=patient.headers)
    body_problem = assert_problem(response, 422, field=missing)
    assert body_problem["errors"][0]["msg"]
    assert rows(courses.table) == 0


def test_unknown_field_message_says_so(client: TestClient, patient: Account) -> None:
    response = client.put(
        course_url(uuid.uuid4()), json=course_body(colour="red"), headers=patient.headers
    )
    problem = assert_problem(response, 422, field="colour")
    assert {"loc": ["body", "colour"], "msg": "unknown field"} in problem["errors"]


@pytest.mark.parametrize("method", ["put", "post", "patch"])
def test_end_date_before_start_date_is_422_and_stores_nothing(
    client: TestClient, patient: Account, rows: Callable[..., int], method: str
) -> None:
    course_id = uuid.uuid4()
    body = course_body(start_date="2026-10-01", end_date="2026-09-30")
    if method == "put":
        response = client.put(course_url(course_id), json=body, headers=patient.headers)
    elif method == "post":
        response = client.post(COURSES, json=body, headers=patient.headers)
    else:
        created = client.put(course_url(course_id), json=course_body(), headers=patient.headers)
        response = merge_patch(client, course_url(course_id), {"end_date": "2026-09-30"}, patient)
    problem = assert_problem(response, 422)
    assert "end_date" in problem["detail"]
    if method == "patch":
        assert client.get(course_url(course_id), headers=patient.headers).json() == created.json()
    else:
        assert rows(courses.table) == 0


@pytest.mark.parametrize("method", ["put", "patch"])
def test_end_date_before_start_date_names_end_date(
    client: TestClient, patient: Account, method: str
) -> None:
    """The error's loc must point a client at the offending field, as for every other rule."""
    course_id = uuid.uuid4()
    if method == "put":
        body = course_body(start_date="2026-10-01", end_date="2026-09-30")
        response = client.put(course_url(course_id), json=body, headers=patient.headers)
    else:
        client.put(course_url(course_id), json=course_body(), headers=patient.headers)
        response = merge_patch(client, course_url(course_id), {"end_date": "2026-09-30"}, patient)
    assert_problem(response, 422, field="end_date")


def test_body_id_must_match_the_path(
    client: TestClient, patient: Account, rows: Callable[..., int]
) -> None:
    body = course_body(id=str(uuid.uuid4()))
    response = client.put(course_url(uuid.uuid4()), json=body, headers=patient.headers)
    assert_problem(response, 422, field="id")
    assert rows(courses.table) == 0


def test_body_may_repeat_the_path_id(client: TestClient, patient: Account) -> None:
    course_id = uuid.uuid4()
    response = client.put(
        course_url(course_id), json=course_body(id=str(course_id)), headers=patient.headers
    )
    assert response.status_code == 201
    assert response.json()["id"] == str(course_id)


def test_malformed_path_id_is_422(client: TestClient, patient: Account) -> None:
    response = client.put(course_url("not-a-uuid"), json=course_body(), headers=patient.headers)
    assert_problem(response, 422, field="record_id")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"name": "x"}, id="name-1"),
        pytest.param({"name": "x" * 200}, id="name-200"),
        pytest.param({"end_date": "2026-10-01"}, id="end-equals-start"),
        pytest.param({"end_date": "2026-12-31"}, id="end-after-start"),
        pytest.param({"planned_sessions": 1}, id="planned-1"),
        pytest.param({"planned_sessions": 100}, id="planned-100"),
        pytest.param({"practitioner": "x" * 200}, id="practitioner-200"),
        pytest.param({"pattern": "x" * 200}, id="pattern-200"),
        pytest.param({"notes": "x" * 2000}, id="notes-2000"),
        pytest.param({"condition": None, "modality": None}, id="no-condition-or-modality"),
    ],
)
def test_boundary_values_are_accepted(
    client: TestClient, patient: Account, overrides: dict[str, Any]
) -> None:
    response = client.put(
        course_url(uuid.uuid4()), json=course_body(**overrides), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    for name, value in overrides.items():
        assert stored[name] == value


@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_condition_is_accepted(client: TestClient, patient: Account, condition: str) -> None:
    response = client.put(
        course_url(uuid.uuid4()), json=course_body(condition=condition), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["condition"] == condition


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_modality_is_accepted(client: TestClient, patient: Account, modality: str) -> None:
    response = client.put(
        course_url(uuid.uuid4()), json=course_body(modality=modality), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["modality"] == modality


# --- list -------------------------------------------------------------------------------------


@pytest.fixture
def five_courses(make_course: Callable[..., Any], patient: Account) -> list[dict[str, Any]]:
    """Five courses, returned newest start_date first (two share a start_date)."""
    starts = ["2026-03-01", "2026-01-15", "2026-05-20", "2025-11-30", "2026-03-01"]
    made = [
        make_course(patient, name=f"course {i}", start_date=start) for i, start in enumerate(starts)
    ]
    return sorted(made, key=lambda c: (c["start_date"], c["id"]), reverse=True)


def test_list_is_newest_start_date_first(
    client: TestClient, patient: Account, five_courses: list[dict[str, Any]]
) -> None:
    response = client.get(COURSES, headers=patient.headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["next_cursor"] is None
    assert body["items"] == five_courses
    assert [c["start_date"] for c in body["items"]] == [
        "2026-05-20", "2026-03-01", "2026-03-01", "2026-01-15", "2025-11-30",
    ]  # fmt: skip


def test_list_paginates_with_a_cursor(
    client: TestClient, patient: Account, five_courses: list[dict[str, Any]]
) -> None:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get(COURSES, params=params, headers=patient.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "the cursor does not advance"
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [c for page in pages for c in page] == five_courses


@pytest.mark.parametrize(
    ("params", "starts"),
    [
        ({"from": "2026-01-15"}, ["2026-05-20", "2026-03-01", "2026-03-01", "2026-01-15"]),
        ({"to": "2026-01-15"}, ["2026-01-15", "2025-11-30"]),
        ({"from": "2026-03-01", "to": "2026-03-01"}, ["2026-03-01", "2026-03-01"]),
        ({"from": "2026-01-16", "to": "2026-05-19"}, ["2026-03-01", "2026-03-01"]),
        ({"from": "2026-05-21"}, []),
    ],
)
def test_list_filters_on_start_date(
    client: TestClient,
    patient: Account,
    five_courses: list[dict[str, Any]],
    params: dict[str, str],
    starts: list[str],
) -> None:
    response = client.get(COURSES, params=params, headers=patient.headers)
    assert response.status_code == 200, response.text
    assert [c["start_date"] for c in response.json()["items"]] == starts


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"from": "2026-02-30"}, "from"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "from"),
    ],
)
def test_list_rejects_bad_parameters(
    client: TestClient, patient: Account, params: dict[str, Any], field: str
) -> None:
    assert_problem(client.get(COURSES, params=params, headers=patient.headers), 422, field=field)


def test_list_shows_only_the_callers_courses(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_course: Callable[..., Any],
) -> None:
    mine = make_course(patient)
    make_course(other_patient, name="Theirs")
    items = client.get(COURSES, headers=patient.headers).json()["items"]
    assert items == [mine]


# --- access -----------------------------------------------------------------------------------


def test_other_patient_gets_404_and_changes_nothing(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_course: Callable[..., Any],
    rows: Callable[..., int],
) -> None:
    course = make_course(patient)
    url = course_url(course["id"], str(patient.id))
    headers = other_patient.headers
    assert_problem(client.get(url, headers=headers), 404)
    assert_problem(client.put(url, json=course_body(name="Hijacked"), headers=headers), 404)
    assert_problem(merge_patch(client, url, {"name": "Hijacked"}, other_patient), 404)
    assert_problem(client.delete(url, headers=headers), 404)
    fresh = course_url(uuid.uuid4(), str(patient.id))
    assert_problem(client.put(fresh, json=course_body(), headers=headers), 404)
    collection = f"/v1/patients/{patient.id}/courses"
    assert_problem(client.get(collection, headers=headers), 404)
    assert_problem(client.post(collection, json=course_body(), headers=headers), 404)
    assert client.get(course_url(course["id"]), headers=patient.headers).json() == course
    assert rows(courses.table, patient_id=patient.id) == 1
    assert rows(courses.table, patient_id=other_patient.id) == 0


def test_unknown_patient_id_is_404(client: TestClient, patient: Account) -> None:
    url = f"/v1/patients/{uuid.uuid4()}/courses"
    assert_problem(client.get(url, headers=patient.headers), 404)


def test_same_id_under_another_patient_is_a_separate_course(
    client: TestClient,
    patient: Account,
    other_patient: Account,
    make_course: Callable[..., Any],
) -> None:
    course_id = uuid.uuid4()
    mine = make_course(patient, course_id)
    theirs = make_course(other_patient, course_id, name="Theirs")
    assert theirs["patient_id"] == str(other_patient.id)
    assert client.delete(course_url(course_id), headers=other_patient.headers).status_code == 204
    assert client.get(course_url(course_id), headers=patient.headers).json() == mine


def test_unlinked_clinician_gets_404(
    client: TestClient,
    patient: Account,
    clinician: Account,
    make_course: Callable[..., Any],
    rows: Callable[..., int],
) -> None:
    course = make_course(patient)
    url = course_url(course["id"], str(patient.id))
    assert_problem(client.get(url, headers=clinician.headers), 404)
    assert_problem(
        client.put(url, json=course_body(name="Changed"), headers=clinician.headers), 404
    )
    assert_problem(client.get(f"/v1/patients/{patient.id}/courses", headers=clinician.headers), 404)
    assert_problem(client.get(COURSES, headers=clinician.headers), 404)
    assert client.get(course_url(course["id"]), headers=patient.headers).json() == course
    assert rows(courses.table) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", COURSES),
        ("post", COURSES),
        ("get", course_url("8e4f1a52-2a38-4a4c-9d55-4a3c11111111")),
        ("put", course_url("8e4f1a52-2a38-4a4c-9d55-4a3c11111111")),
        ("patch", course_url("8e4f1a52-2a38-4a4c-9d55-4a3c11111111")),
        ("delete", course_url("8e4f1a52-2a38-4a4c-9d55-4a3c11111111")),
    ],
)
def test_no_token_is_401(
    client: TestClient, rows: Callable[..., int], method: str, path: str
) -> None:
    kwargs: dict[str, Any] = {} if method in ("get", "delete") else {"json": course_body()}
    response = client.request(method.upper(), path, **kwargs)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert rows(courses.table) == 0


def test_invalid_token_is_401(client: TestClient) -> None:
    response = client.get(COURSES, headers={"Authorization": "Bearer not.a.token"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("start_date", [20260309, "20260309", 1773014400, "2026-3-9"])
def test_a_date_must_be_written_as_yyyy_mm_dd(
    client: TestClient, patient: Account, db: Database, portal: Callable[..., Any], start_date: Any
) -> None:
    response = client.post(
        "/v1/patients/me/courses",
        json={"name": "x", "start_date": start_date},
        headers=patient.headers,
    )
    assert_problem(response, 422, field="start_date")
    assert portal(count_rows, db, courses.table) == 0
