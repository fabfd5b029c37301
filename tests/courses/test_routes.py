"""Treatment courses over HTTP: the rules of courses alone (contract §3). The rules every
kind of record shares are tested in ``tests/records/test_contract.py``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, assert_problem
from tests.records.kinds import COURSE, SESSION, Records, assert_refused, invalid_cases

CONDITIONS = [
    "neck_pain", "low_back_pain", "osteoarthritis", "tension_headache", "migraine",
    "fibromyalgia", "postoperative_pain", "neuropathy", "other",
]  # fmt: skip
MODALITIES = ["acupuncture", "electroacupuncture", "dry_needling", "medical_acupuncture", "other"]


@pytest.fixture
def courses(client: TestClient, patient: Account) -> Records:
    return Records(client, patient, COURSE)


# --- a deleted course ------------------------------------------------------------------------


def test_deleting_a_course_detaches_its_sessions(
    client: TestClient, patient: Account, courses: Records
) -> None:
    course = courses.create()
    kept = courses.create(name="Another course")
    sessions = Records(client, patient, SESSION)
    attached, other = str(uuid.uuid4()), str(uuid.uuid4())
    for session_id, course_id in ((attached, course["id"]), (other, kept["id"])):
        body = {"course_id": course_id, "occurred_at": "2026-10-02T10:00:00+02:00"}
        created = sessions.put(session_id, body)
        assert created.status_code == 201, created.text

    assert courses.delete(course["id"]).status_code == 204

    detached = sessions.get(attached)
    assert detached.status_code == 200
    assert detached.json()["course_id"] is None
    assert detached.json()["version"] == 2
    assert detached.json()["modality"] == "acupuncture"  # inherited when written, kept
    assert detached.headers["etag"] == '"2"'
    untouched = sessions.get(other).json()
    assert (untouched["course_id"], untouched["version"]) == (kept["id"], 1)
    assert sessions.count(patient_id=patient.id) == 2


# --- validation -------------------------------------------------------------------------------


#: The values each field refuses.
INVALID = invalid_cases(
    {
        "name": ["", "   ", "x" * 201, None, 5],
        "condition": ["back_ache", "Migraine"],
        "modality": ["cupping", "Acupuncture"],
        "start_date": [None, "2026-13-01", "2026-10-01T10:00:00"],
        "end_date": ["31.12.2026"],
        "planned_sessions": [0, 101, -1, "3", 2.5, True],
        "practitioner": ["x" * 201],
        "pattern": ["x" * 201],
        "notes": ["x" * 2001],
        "sessions_done": [3],  # no such field
    }
)


@pytest.mark.parametrize(("fields", "loc"), INVALID)
def test_invalid_course_is_refused(courses: Records, fields: dict[str, Any], loc: str) -> None:
    assert_refused(courses, fields, loc)


def test_end_date_before_start_date_is_422_naming_end_date(courses: Records) -> None:
    """The error's loc must point a client at the offending field, as for every other rule."""
    problems = assert_refused(
        courses, {"end_date": "2026-09-30"}, "body.end_date", start_date="2026-10-01"
    )
    assert all("end_date" in problem["detail"] for problem in problems)


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
def test_boundary_values_are_accepted(courses: Records, overrides: dict[str, Any]) -> None:
    stored = courses.create(**overrides)  # start_date 2026-10-01
    assert {name: stored[name] for name in overrides} == overrides


@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_condition_is_accepted(courses: Records, condition: str) -> None:
    assert courses.create(condition=condition)["condition"] == condition


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_modality_is_accepted(courses: Records, modality: str) -> None:
    assert courses.create(modality=modality)["modality"] == modality


@pytest.mark.parametrize("start_date", [20260309, "20260309", 1773014400, "2026-3-9"])
def test_a_date_must_be_written_as_yyyy_mm_dd(courses: Records, start_date: Any) -> None:
    response = courses.post({"name": "x", "start_date": start_date})
    assert_problem(response, 422, field="start_date")
    assert courses.count() == 0
