"""Session events over HTTP: the rules of sessions alone (contract §4) — the course link,
the modality and its frequency, acupuncture points, the local date. The rules every kind
of record shares are tested in ``tests/records/test_contract.py``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, assert_problem
from tests.records.kinds import (
    COURSE,
    SESSION,
    Records,
    assert_invalid,
    assert_refused,
    invalid_cases,
)

MODALITIES = ["acupuncture", "electroacupuncture", "dry_needling", "medical_acupuncture", "other"]
ADVERSE_EVENTS = ["bruising", "bleeding", "soreness", "dizziness", "fainting", "fatigue", "other"]


@pytest.fixture
def sessions(client: TestClient, patient: Account) -> Records:
    return Records(client, patient, SESSION)


@pytest.fixture
def courses(client: TestClient, patient: Account) -> Records:
    """The patient's courses (modality acupuncture unless a test gives another)."""
    return Records(client, patient, COURSE)


# --- the course link and the modality ---------------------------------------------------------


def test_session_in_one_of_the_patients_courses(sessions: Records, courses: Records) -> None:
    course = courses.create()
    assert sessions.create(course_id=course["id"])["course_id"] == course["id"]


@pytest.mark.parametrize("whose", ["other_patient", "nobody"])
def test_course_of_another_patient_or_none_is_refused(
    client: TestClient,
    sessions: Records,
    courses: Records,
    other_patient: Account,
    whose: str,
) -> None:
    """Neither a new session nor a move of one (PUT or merge patch) may point there."""
    mine = courses.create()["id"]
    if whose == "other_patient":
        elsewhere = Records(client, other_patient, COURSE).create()["id"]
    else:
        elsewhere = str(uuid.uuid4())
    problems = assert_refused(sessions, {"course_id": elsewhere}, "body.course_id", course_id=mine)
    assert all("course_id" in problem["detail"] for problem in problems)


def test_replay_with_an_inherited_modality_is_unchanged(
    sessions: Records, courses: Records
) -> None:
    course = courses.create(modality="electroacupuncture")
    session_id = str(uuid.uuid4())
    body = SESSION.body(course_id=course["id"], electro_frequency_hz=2.5)
    assert sessions.put(session_id, body).status_code == 201
    replay = sessions.put(session_id, body)
    assert (replay.status_code, replay.json()["version"]) == (200, 1)


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
    sessions: Records,
    courses: Records,
    course_modality: str | None,
    session_modality: str | None,
    stored: str | None,
) -> None:
    course = courses.create(modality=course_modality)
    fields: dict[str, Any] = {"course_id": course["id"]}
    if session_modality is not None:
        fields["modality"] = session_modality
    created = sessions.create(**fields)
    assert created["modality"] == stored
    assert sessions.get(created["id"]).json()["modality"] == stored


def test_without_course_or_modality_the_modality_is_null(sessions: Records) -> None:
    assert sessions.create()["modality"] is None


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_modality_is_accepted(sessions: Records, modality: str) -> None:
    assert sessions.create(modality=modality)["modality"] == modality


# --- electroacupuncture frequency -------------------------------------------------------------


@pytest.mark.parametrize("hz", [0.5, 2, 100, 200])
def test_frequency_with_electroacupuncture(sessions: Records, hz: float) -> None:
    created = sessions.create(modality="electroacupuncture", electro_frequency_hz=hz)
    assert created["electro_frequency_hz"] == hz


def test_frequency_with_electroacupuncture_inherited_from_the_course(
    sessions: Records, courses: Records
) -> None:
    course = courses.create(modality="electroacupuncture")
    created = sessions.create(course_id=course["id"], electro_frequency_hz=2.0)
    assert (created["modality"], created["electro_frequency_hz"]) == ("electroacupuncture", 2.0)


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
def test_frequency_without_electroacupuncture_is_refused(
    sessions: Records,
    courses: Records,
    course_modality: str | None,
    session_modality: str | None,
) -> None:
    base: dict[str, Any] = {}
    if course_modality != NO_COURSE:
        base["course_id"] = courses.create(modality=course_modality)["id"]
    if session_modality is not None:
        base["modality"] = session_modality
    assert_refused(sessions, {"electro_frequency_hz": 2}, "body.electro_frequency_hz", **base)


def test_changing_modality_away_from_electro_with_a_frequency_is_422(sessions: Records) -> None:
    created = sessions.create(modality="electroacupuncture", electro_frequency_hz=10)
    response = sessions.patch(created["id"], {"modality": "acupuncture"})
    assert_invalid(response, "body.electro_frequency_hz")
    assert sessions.get(created["id"]).json() == created


# --- field validation -------------------------------------------------------------------------


#: The values each field refuses, by the location the error names.
INVALID = invalid_cases(
    {
        "electro_frequency_hz": [0.4, 201, 0, -2],
        "duration_minutes": [0, 241, 30.5, "30"],
        "pain_before": [-1, 11, "5", 5.5],
        "pain_after": [-1, 11, "2"],
        "adverse_events": ["bruising"],
        "adverse_events.0": [["headache"], ["Bruising"]],
        "points": [[f"BL{n}" for n in range(1, 62)], "LI4"],
        "points.0": [[4], ["LI4" + " " * 30]],
        "modality": ["cupping"],
        "practitioner": ["x" * 201],
        "notes": ["x" * 2001],
        "occurred_at": ["2026-10-06T18:30:00", "2026-10-06", "yesterday", None],
        "course_id": ["not-a-uuid"],
        "local_day": ["2026-10-06"],  # no such field
    }
)


@pytest.mark.parametrize(("fields", "loc"), INVALID)
def test_invalid_session_is_refused(sessions: Records, fields: dict[str, Any], loc: str) -> None:
    """On an electroacupuncture session, so that a frequency is refused for its value."""
    assert_refused(sessions, fields, loc, modality="electroacupuncture")


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
    ],
)
def test_boundary_values_are_accepted(sessions: Records, overrides: dict[str, Any]) -> None:
    stored = sessions.create(**overrides)
    assert {name: stored[name] for name in overrides} == overrides


@pytest.mark.parametrize("event", ADVERSE_EVENTS)
def test_each_adverse_event_is_accepted(sessions: Records, event: str) -> None:
    assert sessions.create(adverse_events=[event])["adverse_events"] == [event]


def test_duplicate_adverse_events_collapse(sessions: Records) -> None:
    created = sessions.create(adverse_events=["soreness", "bruising", "soreness", "bruising"])
    assert created["adverse_events"] == ["soreness", "bruising"]
    assert sessions.get(created["id"]).json()["adverse_events"] == ["soreness", "bruising"]


# --- points -----------------------------------------------------------------------------------


def test_points_are_normalised_and_deduplicated(sessions: Records) -> None:
    raw = ["li 4", "LI-4", "sj5", "liv3", "du20", "ren12", "ub40", "ex-hn3", "EX HN 3", "st36"]
    expected = ["LI4", "TE5", "LR3", "GV20", "CV12", "BL40", "EX-HN3", "ST36"]
    created = sessions.create(points=raw)
    assert created["points"] == expected
    assert sessions.get(created["id"]).json()["points"] == expected
    # Sending the normalised form again is an identical replay.
    replay = sessions.put(created["id"], SESSION.body(points=expected))
    assert (replay.status_code, replay.json()["version"]) == (200, 1)
    # A merge patch's points are normalised too.
    patched = sessions.patch(created["id"], {"points": ["sj5", "LI4"]})
    assert (patched.json()["points"], patched.json()["version"]) == (["TE5", "LI4"], 2)


@pytest.mark.parametrize("code", ["LU12", "XX1", "EX-CA2", "LU0", "SJ24", "GV29"])
def test_unknown_point_is_refused_naming_it(sessions: Records, code: str) -> None:
    for problem in assert_refused(sessions, {"points": ["LI4", code, "ST36"]}, "body.points"):
        assert code in problem["detail"]
        assert any(code in error["msg"] for error in problem["errors"])
        assert "LI4" not in problem["detail"]


def test_every_unknown_point_is_named(sessions: Records) -> None:
    response = sessions.put(uuid.uuid4(), SESSION.body(points=["LU12", "LI4", "XX1"]))
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
    sessions: Records, occurred_at: str, local_date: str
) -> None:
    created = sessions.create(occurred_at=occurred_at)
    for body in (created, sessions.get(created["id"]).json()):
        assert (body["occurred_at"], body["local_date"]) == (occurred_at, local_date)


def test_utc_occurred_at_is_the_same_instant(sessions: Records) -> None:
    created = sessions.create(occurred_at="2026-11-20T23:30:00Z")
    fetched = sessions.get(created["id"]).json()
    returned = dt.datetime.fromisoformat(fetched["occurred_at"])
    assert returned == dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    assert returned.utcoffset() == dt.timedelta(0)
    assert fetched["local_date"] == "2026-11-20"


# --- the list: by instant, by course ----------------------------------------------------------


@pytest.fixture
def course_pair(courses: Records) -> tuple[str, str]:
    return courses.create()["id"], courses.create(name="Second course")["id"]


@pytest.fixture
def six_sessions(sessions: Records, course_pair: tuple[str, str]) -> dict[str, dict[str, Any]]:
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
        name: sessions.create(occurred_at=at, course_id=course)
        for name, (at, course) in spec.items()
    }


def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(s: dict[str, Any]) -> tuple[dt.datetime, uuid.UUID]:
        return dt.datetime.fromisoformat(s["occurred_at"]), uuid.UUID(s["id"])

    return sorted(items, key=key, reverse=True)


def test_list_is_newest_first_by_instant(
    sessions: Records, six_sessions: dict[str, dict[str, Any]]
) -> None:
    body = sessions.page().json()
    assert body["items"] == newest_first(list(six_sessions.values()))
    names = {s["id"]: name for name, s in six_sessions.items()}
    order = [names[s["id"]] for s in body["items"]]
    assert order[:3] == ["newest", "late_night", "early_next"]
    assert sorted(order[3:5]) == ["tie_a", "tie_b"]
    assert order[5] == "oldest"


@pytest.mark.parametrize(("limit", "sizes"), [(4, [4, 2]), (1, [1] * 6)])
def test_list_paginates_across_offsets(
    sessions: Records,
    six_sessions: dict[str, dict[str, Any]],
    limit: int,
    sizes: list[int],
) -> None:
    """limit=4 splits the two same-instant sessions across pages: the id breaks the tie."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = sessions.page(**params).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 7, "the cursor does not advance"
    assert [len(page) for page in pages] == sizes
    assert [s for page in pages for s in page] == newest_first(list(six_sessions.values()))


def test_list_filters_by_course(
    sessions: Records, course_pair: tuple[str, str], six_sessions: dict[str, dict[str, Any]]
) -> None:
    first, second = course_pair
    for course_id, names in (
        (first, ["newest", "late_night", "oldest"]),
        (second, ["early_next", "tie_b"]),
    ):
        response = sessions.page(course_id=course_id)
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [six_sessions[name] for name in names]
    unknown = sessions.page(course_id=str(uuid.uuid4()))
    assert unknown.json() == {"items": [], "next_cursor": None}


def test_list_by_course_paginates(
    sessions: Records, course_pair: tuple[str, str], six_sessions: dict[str, dict[str, Any]]
) -> None:
    page1 = sessions.page(course_id=course_pair[0], limit=2).json()
    assert page1["items"] == [six_sessions["newest"], six_sessions["late_night"]]
    assert page1["next_cursor"] is not None
    page2 = sessions.page(course_id=course_pair[0], limit=2, cursor=page1["next_cursor"]).json()
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
def test_list_filters_on_the_local_date_of_each_offset(
    sessions: Records,
    six_sessions: dict[str, dict[str, Any]],
    params: dict[str, str],
    names: list[str],
) -> None:
    expected = newest_first([six_sessions[name] for name in names])
    assert sessions.page(**params).json()["items"] == expected


def test_list_combines_course_and_dates(
    sessions: Records, course_pair: tuple[str, str], six_sessions: dict[str, dict[str, Any]]
) -> None:
    params = {"course_id": course_pair[0], "from": "2026-11-03", "to": "2026-11-24"}
    assert sessions.page(**params).json()["items"] == [six_sessions["late_night"]]


def test_list_by_a_course_id_that_is_not_a_uuid_is_422(sessions: Records) -> None:
    assert_invalid(sessions.page(course_id="not-a-uuid"), "query.course_id")


def test_openapi_states_the_electroacupuncture_frequency_range(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    frequency = schemas["SessionIn"]["properties"]["electro_frequency_hz"]["anyOf"][0]
    assert frequency == {"type": "number", "minimum": 0.5, "maximum": 200}
