"""Diary entries through the HTTP API (contract §0 and §2), on every test backend."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.database import Database, table_of
from app.diary.models import DiaryEntry
from app.records.models import Tombstone
from tests.conftest import Account, assert_problem, count_rows

ENTRIES = table_of(DiaryEntry)
TOMBSTONES = table_of(Tombstone)
ME = "/v1/patients/me/entries"
MERGE_PATCH = "application/merge-patch+json"
SERVER_FIELDS = ("id", "patient_id", "version", "created_at", "updated_at", "backfilled")

#: Every client field, with values that are all distinct from the defaults.
FULL_BODY: dict[str, Any] = {
    "recorded_at": "2026-11-20T21:15:00+01:00",
    "pain": 6,
    "pain_worst": 8,
    "sites": [
        {"region": "lower_back", "side": "both", "intensity": 7, "qualities": ["aching", "stiff"]},
        {"region": "head", "side": "midline", "intensity": 4, "qualities": ["throbbing"]},
        {"region": "knee", "side": "left", "intensity": 0, "qualities": ["sharp", "burning"]},
    ],
    "sleep_hours": 6.5,
    "sleep_quality": 3,
    "stress": 7,
    "mood": 4,
    "activity_interference": 6,
    "enjoyment_interference": 5,
    "medications": [
        {"name": "Ibuprofen", "dose": 400.0, "unit": "mg", "kind": "as_needed"},
        {"name": "Amitriptyline", "dose": 12.5, "unit": "mg", "kind": "preventive"},
    ],
    "tags": ["weather", "long drive", "yoga"],
    "notes": "Flare-up after the drive; better after stretching.",
}


def entry_body(**fields: Any) -> dict[str, Any]:
    """A minimal valid entry (about 2026-11-20, already in the past), with overrides."""
    return {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4} | fields


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def client_fields(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in SERVER_FIELDS}


def assert_invalid(response: httpx.Response, loc: str) -> dict[str, Any]:
    """A 422 problem whose ``errors`` hold exactly this location (dotted, e.g. body.pain)."""
    body = assert_problem(response, 422, field=loc)
    locs = [".".join(str(p) for p in e["loc"]) for e in body["errors"]]
    assert loc in locs, (loc, locs)
    assert all(isinstance(e["msg"], str) and e["msg"] for e in body["errors"])
    return body


class Diary:
    """One caller's view of one patient's entries, through the HTTP API."""

    def __init__(self, client: TestClient, caller: Account, patient: str = "me") -> None:
        self.client = client
        self.caller = caller
        self.base = f"/v1/patients/{patient}/entries"

    def url(self, entry_id: str | uuid.UUID | None = None) -> str:
        return self.base if entry_id is None else f"{self.base}/{entry_id}"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return self.caller.headers | (extra or {})

    def put(
        self, entry_id: str | uuid.UUID, body: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.put(self.url(entry_id), json=body, headers=self.headers(headers))

    def post(self, body: Any) -> httpx.Response:
        return self.client.post(self.base, json=body, headers=self.headers())

    def get(
        self, entry_id: str | uuid.UUID, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.get(self.url(entry_id), headers=self.headers(headers))

    def patch(
        self,
        entry_id: str | uuid.UUID,
        patch: Any,
        content_type: str = MERGE_PATCH,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.client.patch(
            self.url(entry_id),
            content=json.dumps(patch).encode(),
            headers=self.headers({"Content-Type": content_type} | (headers or {})),
        )

    def delete(
        self, entry_id: str | uuid.UUID, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.delete(self.url(entry_id), headers=self.headers(headers))

    def list(self, **params: Any) -> httpx.Response:
        return self.client.get(self.base, params=params, headers=self.headers())

    def create(self, entry_id: str | uuid.UUID | None = None, **fields: Any) -> dict[str, Any]:
        """PUT a new entry (minimal body plus ``fields``); its response body."""
        response = self.put(entry_id or new_id(), entry_body(**fields))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def ids(self, **params: Any) -> list[str]:
        response = self.list(**params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def diary(client: TestClient, patient: Account) -> Diary:
    return Diary(client, patient)


async def _stored_state(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.read() as conn:
        entries = await conn.execute(
            sa.select(ENTRIES).order_by(ENTRIES.c.patient_id, ENTRIES.c.id)
        )
        graves = await conn.execute(
            sa.select(TOMBSTONES).order_by(TOMBSTONES.c.patient_id, TOMBSTONES.c.id)
        )
        return {
            "entries": [dict(row) for row in entries.mappings()],
            "tombstones": [dict(row) for row in graves.mappings()],
        }


@pytest.fixture
def stored(portal: Callable[..., Any], db: Database) -> Callable[[], dict[str, Any]]:
    """Everything stored about entries: every row of ``diary_entries`` and ``tombstones``."""

    def read() -> dict[str, Any]:
        state: dict[str, Any] = portal(_stored_state, db)
        return state

    return read


@pytest.fixture
def rows(portal: Callable[..., Any], db: Database) -> Callable[..., int]:
    """``rows(table, **where)``: how many rows match."""

    def count(table: sa.Table, **where: Any) -> int:
        n: int = portal(count_rows, db, table, **where)
        return n

    return count


async def _entry_row(db: Database, entry_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.read() as conn:
        row = (
            (await conn.execute(sa.select(ENTRIES).where(ENTRIES.c.id == entry_id)))
            .mappings()
            .first()
        )
    return None if row is None else dict(row)


async def _tombstone_row(db: Database, entry_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.read() as conn:
        row = (
            (await conn.execute(sa.select(TOMBSTONES).where(TOMBSTONES.c.id == entry_id)))
            .mappings()
            .first()
        )
    return None if row is None else dict(row)


@pytest.fixture
def entry_row(portal: Callable[..., Any], db: Database) -> Callable[[str], dict[str, Any] | None]:
    def read(entry_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = portal(_entry_row, db, uuid.UUID(entry_id))
        return row

    return read


@pytest.fixture
def tombstone_row(
    portal: Callable[..., Any], db: Database
) -> Callable[[str], dict[str, Any] | None]:
    def read(entry_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = portal(_tombstone_row, db, uuid.UUID(entry_id))
        return row

    return read


# --- PUT at a client id ---------------------------------------------------------------------


def test_put_creates_with_every_field_echoed(diary: Diary, patient: Account) -> None:
    entry_id = new_id()
    before = utcnow()
    response = diary.put(entry_id, FULL_BODY)
    after = utcnow()

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{ME}/{entry_id}"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert client_fields(body) == FULL_BODY | {"local_date": "2026-11-20"}
    assert body["id"] == entry_id
    assert body["patient_id"] == str(patient.id)
    assert body["version"] == 1
    assert body["backfilled"] is True  # 2026-11-20 ended well over 24 h before the test
    assert isinstance(body["sleep_hours"], float)
    created_at = parse_time(body["created_at"])
    assert created_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= created_at <= after + dt.timedelta(seconds=1)
    assert body["updated_at"] == body["created_at"]

    fetched = diary.get(entry_id)
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_put_location_is_gettable(diary: Diary) -> None:
    response = diary.put(new_id(), entry_body())
    assert response.status_code == 201
    fetched = diary.client.get(response.headers["Location"], headers=diary.headers())
    assert fetched.status_code == 200
    assert fetched.json() == response.json()


def test_identical_replay_changes_nothing(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = new_id()
    first = diary.put(entry_id, FULL_BODY)
    assert first.status_code == 201
    state = stored()

    replay = diary.put(entry_id, FULL_BODY)

    assert replay.status_code == 200, replay.text
    assert replay.headers["ETag"] == '"1"'
    assert replay.json() == first.json()
    assert replay.json()["version"] == 1
    assert replay.json()["updated_at"] == first.json()["updated_at"]
    assert stored()["entries"] == state["entries"]


def test_replay_repeating_the_server_fields_it_got_is_unchanged(diary: Diary) -> None:
    """A phone that PUTs back exactly what the server returned makes no new version."""
    entry_id = new_id()
    first = diary.put(entry_id, FULL_BODY).json()

    replay = diary.put(entry_id, first)

    assert replay.status_code == 200, replay.text
    assert replay.json() == first


def test_changed_body_replaces_and_bumps_version(diary: Diary) -> None:
    entry_id = new_id()
    first = diary.put(entry_id, FULL_BODY).json()

    changed = diary.put(entry_id, FULL_BODY | {"pain": 2})

    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert "Location" not in changed.headers
    body = changed.json()
    assert body["version"] == 2
    assert body["pain"] == 2
    assert body["created_at"] == first["created_at"]
    assert parse_time(body["updated_at"]) >= parse_time(first["updated_at"])
    assert diary.get(entry_id).json() == body


def test_put_replaces_the_whole_entry(diary: Diary) -> None:
    """PUT is a replacement: optional fields left out of the new body are cleared."""
    entry_id = new_id()
    diary.put(entry_id, FULL_BODY)

    replaced = diary.put(entry_id, entry_body(recorded_at=FULL_BODY["recorded_at"]))

    assert replaced.status_code == 200
    body = replaced.json()
    assert body["version"] == 2
    assert body["pain"] == 4
    for name in (
        "pain_worst",
        "sleep_hours",
        "sleep_quality",
        "stress",
        "mood",
        "activity_interference",
        "enjoyment_interference",
        "notes",
    ):
        assert body[name] is None, name
    assert body["sites"] == []
    assert body["medications"] == []
    assert body["tags"] == []


def test_offset_change_at_same_instant_is_a_change(diary: Diary) -> None:
    """The offset is part of the entry (the local time of day matters)."""
    entry_id = new_id()
    diary.put(entry_id, entry_body(recorded_at="2026-11-20T08:30:00+01:00"))

    moved = diary.put(entry_id, entry_body(recorded_at="2026-11-20T07:30:00Z"))

    assert moved.status_code == 200
    assert moved.json()["version"] == 2
    assert moved.json()["recorded_at"] == "2026-11-20T07:30:00Z"


def test_put_with_stale_if_match_is_412_and_changes_nothing(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = new_id()
    diary.put(entry_id, entry_body(pain=3))
    diary.put(entry_id, entry_body(pain=4))
    state = stored()

    response = diary.put(entry_id, entry_body(pain=9), headers={"If-Match": '"1"'})

    assert_problem(response, 412)
    assert stored() == state
    current = diary.get(entry_id).json()
    assert (current["version"], current["pain"]) == (2, 4)


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', '"1", "2"', "*"])
def test_put_with_current_if_match_proceeds(diary: Diary, tag: str) -> None:
    entry_id = new_id()
    diary.put(entry_id, entry_body(pain=3))
    diary.put(entry_id, entry_body(pain=4))

    response = diary.put(entry_id, entry_body(pain=5), headers={"If-Match": tag})

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"3"'
    assert (response.json()["version"], response.json()["pain"]) == (3, 5)


@pytest.mark.parametrize("tag", ['"1"', "*"])
def test_put_with_if_match_on_missing_entry_is_412(
    diary: Diary, rows: Callable[..., int], tag: str
) -> None:
    response = diary.put(new_id(), entry_body(), headers={"If-Match": tag})

    assert_problem(response, 412)
    assert rows(ENTRIES) == 0


def test_put_with_if_none_match_star_only_creates(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = new_id()
    created = diary.put(entry_id, entry_body(pain=3), headers={"If-None-Match": "*"})
    assert created.status_code == 201
    state = stored()

    again = diary.put(entry_id, entry_body(pain=8), headers={"If-None-Match": "*"})

    assert_problem(again, 412)
    assert stored() == state
    assert diary.get(entry_id).json()["pain"] == 3


def test_put_with_malformed_if_match_is_refused(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = new_id()
    diary.put(entry_id, entry_body(pain=3))
    state = stored()

    response = diary.put(entry_id, entry_body(pain=8), headers={"If-Match": "1"})

    assert_problem(response, 400)
    assert stored() == state


def test_body_may_repeat_path_id(diary: Diary) -> None:
    entry_id = new_id()
    response = diary.put(entry_id, entry_body(id=entry_id))
    assert response.status_code == 201
    assert response.json()["id"] == entry_id


def test_body_id_different_from_path_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = new_id()
    diary.put(entry_id, entry_body(pain=3))
    state = stored()

    for target in (entry_id, new_id()):
        response = diary.put(target, entry_body(id=new_id(), pain=8))
        assert_invalid(response, "body.id")
    assert stored() == state


def test_server_fields_sent_by_client_are_ignored(diary: Diary, other_patient: Account) -> None:
    entry_id = new_id()
    forged = {
        "version": 42,
        "created_at": "2001-01-01T00:00:00Z",
        "updated_at": "2001-01-01T00:00:00Z",
        "patient_id": str(other_patient.id),
        "backfilled": False,
    }
    start = utcnow() - dt.timedelta(seconds=1)

    response = diary.put(entry_id, entry_body(**forged))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert body["patient_id"] == str(diary.caller.id)
    assert body["backfilled"] is True  # 2026-11-20 is long past
    assert parse_time(body["created_at"]) >= start
    assert parse_time(body["updated_at"]) >= start
    assert Diary(diary.client, other_patient).ids() == []

    replay = diary.put(entry_id, entry_body(**forged | {"version": 7}))
    assert replay.status_code == 200
    assert replay.json()["version"] == 1


def test_two_patients_may_use_the_same_entry_id(
    client: TestClient, diary: Diary, other_patient: Account
) -> None:
    entry_id = new_id()
    diary.put(entry_id, entry_body(pain=3))
    theirs = Diary(client, other_patient)

    response = theirs.put(entry_id, entry_body(pain=9))

    assert response.status_code == 201
    assert response.json()["patient_id"] == str(other_patient.id)
    assert diary.get(entry_id).json()["pain"] == 3
    assert theirs.get(entry_id).json()["pain"] == 9


# --- POST -----------------------------------------------------------------------------------


def test_post_creates_with_server_id(diary: Diary, patient: Account) -> None:
    response = diary.post(FULL_BODY)

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    entry_id = uuid.UUID(body["id"])
    assert response.headers["Location"] == f"{ME}/{entry_id}"
    assert client_fields(body) == FULL_BODY | {"local_date": "2026-11-20"}
    assert body["patient_id"] == str(patient.id)
    assert body["version"] == 1
    fetched = diary.client.get(response.headers["Location"], headers=diary.headers())
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_post_twice_makes_two_entries(diary: Diary, rows: Callable[..., int]) -> None:
    first = diary.post(entry_body())
    second = diary.post(entry_body())
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert rows(ENTRIES) == 2


def test_post_with_body_id_uses_it(diary: Diary) -> None:
    entry_id = new_id()
    response = diary.post(entry_body(id=entry_id))

    assert response.status_code == 201, response.text
    assert response.json()["id"] == entry_id
    assert response.headers["Location"] == f"{ME}/{entry_id}"
    assert diary.get(entry_id).status_code == 200


def test_post_with_id_of_existing_entry_changes_nothing(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = diary.create(pain=3)["id"]
    state = stored()

    response = diary.post(entry_body(id=entry_id, pain=9))

    assert response.status_code in (409, 412), response.text
    assert_problem(response, response.status_code)
    assert stored() == state


def test_post_invalid_body_is_422_and_stores_nothing(
    diary: Diary, rows: Callable[..., int]
) -> None:
    assert_invalid(diary.post(entry_body(pain=11)), "body.pain")
    assert rows(ENTRIES) == 0


# --- GET one --------------------------------------------------------------------------------


def test_get_one(diary: Diary) -> None:
    created = diary.create(**FULL_BODY)

    response = diary.get(created["id"])

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == created


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', '"1", "2"', "*"])
def test_get_if_none_match_current_is_304(diary: Diary, tag: str) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.put(entry_id, entry_body(pain=2))

    response = diary.get(entry_id, headers={"If-None-Match": tag})

    assert response.status_code == 304
    assert response.headers["ETag"] == '"2"'
    assert response.content == b""


def test_get_if_none_match_stale_is_200(diary: Diary) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.put(entry_id, entry_body(pain=2))

    response = diary.get(entry_id, headers={"If-None-Match": '"1"'})

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json()["pain"] == 2


def test_get_unknown_entry_is_404(diary: Diary) -> None:
    diary.create()
    body = assert_problem(diary.get(new_id()), 404)
    assert "SELECT" not in body["detail"]


def test_get_non_uuid_entry_id_is_a_problem(diary: Diary) -> None:
    response = diary.get("not-a-uuid")
    assert response.status_code in (404, 422)
    assert_problem(response, response.status_code)


# --- Timestamps and local_date --------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded_at", "local_date"),
    [
        # UTC is already 2026-11-21 04:30; the patient's day is still the 20th.
        ("2026-11-20T23:30:00-05:00", "2026-11-20"),
        # UTC is still 2026-11-20 23:30; the patient's day is already the 21st.
        ("2026-11-21T00:30:00+01:00", "2026-11-21"),
        ("2026-11-20T00:10:00+05:45", "2026-11-20"),
        ("2026-11-21T09:59:00+14:00", "2026-11-21"),
        ("2026-11-20T12:00:00-09:30", "2026-11-20"),
        ("2026-11-20T08:30:00.250000+01:00", "2026-11-20"),
        ("2026-11-20T08:30:00Z", "2026-11-20"),
    ],
)
def test_recorded_at_offset_is_kept_and_local_date_derived(
    diary: Diary, recorded_at: str, local_date: str
) -> None:
    entry_id = new_id()
    created = diary.put(entry_id, entry_body(recorded_at=recorded_at))

    assert created.status_code == 201, created.text
    assert created.json()["recorded_at"] == recorded_at
    assert created.json()["local_date"] == local_date
    fetched = diary.get(entry_id).json()
    assert (fetched["recorded_at"], fetched["local_date"]) == (recorded_at, local_date)
    listed = diary.list().json()["items"]
    assert [(i["recorded_at"], i["local_date"]) for i in listed] == [(recorded_at, local_date)]


def test_explicit_local_date_is_kept(diary: Diary) -> None:
    """A back-filled entry: written on the 22nd about the 19th."""
    created = diary.create(recorded_at="2026-11-22T01:00:00+01:00", local_date="2026-11-19")
    assert created["local_date"] == "2026-11-19"
    assert created["recorded_at"] == "2026-11-22T01:00:00+01:00"
    assert diary.get(created["id"]).json()["local_date"] == "2026-11-19"


@pytest.mark.parametrize(
    "recorded_at",
    [
        "2026-11-20T08:30:00",  # naive
        "2026-11-20 08:30",
        "2026-11-20",
        "yesterday evening",
        "1899-12-31T12:00:00+00:00",
        "",
        None,
        ["2026-11-20T08:30:00+01:00"],
    ],
)
def test_bad_recorded_at_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]], recorded_at: Any
) -> None:
    existing = diary.create()["id"]
    state = stored()

    assert_invalid(diary.put(new_id(), entry_body(recorded_at=recorded_at)), "body.recorded_at")
    assert_invalid(diary.put(existing, entry_body(recorded_at=recorded_at)), "body.recorded_at")
    assert stored() == state


@pytest.mark.parametrize("recorded_at", [1763620200, 1763620200.5, "1763620200"])
def test_unix_time_is_not_an_rfc3339_timestamp(
    diary: Diary, rows: Callable[..., int], recorded_at: Any
) -> None:
    """§0: timestamps are RFC 3339 with an offset; a bare number carries neither."""
    assert_invalid(diary.put(new_id(), entry_body(recorded_at=recorded_at)), "body.recorded_at")
    assert rows(ENTRIES) == 0


def test_missing_recorded_at_is_422(diary: Diary, rows: Callable[..., int]) -> None:
    assert_invalid(diary.put(new_id(), {"pain": 3}), "body.recorded_at")
    assert rows(ENTRIES) == 0


def test_recorded_at_up_to_24_hours_ahead_is_accepted(diary: Diary) -> None:
    ahead = (utcnow() + dt.timedelta(hours=23, minutes=50)).replace(microsecond=0)
    created = diary.create(recorded_at=ahead.isoformat())
    assert parse_time(created["recorded_at"]) == ahead


@pytest.mark.parametrize("offset", ["+00:00", "-08:00", "+09:00"])
def test_recorded_at_over_24_hours_ahead_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]], offset: str
) -> None:
    existing = diary.create()["id"]
    state = stored()
    tz = dt.timezone(dt.timedelta(hours=int(offset[:3])))
    ahead = (utcnow() + dt.timedelta(hours=24, minutes=10)).astimezone(tz)

    for target in (new_id(), existing):
        response = diary.put(target, entry_body(recorded_at=ahead.isoformat()))
        assert_invalid(response, "body.recorded_at")
    assert stored() == state


def test_local_date_up_to_tomorrow_is_accepted(diary: Diary) -> None:
    today = utcnow().date()
    now = utcnow().replace(microsecond=0).isoformat()
    for day in (today + dt.timedelta(days=1), today, dt.date(1900, 1, 1)):
        created = diary.create(recorded_at=now, local_date=day.isoformat())
        assert created["local_date"] == day.isoformat()


@pytest.mark.parametrize("days_ahead", [2, 30, 3650])
def test_local_date_after_tomorrow_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]], days_ahead: int
) -> None:
    existing = diary.create()["id"]
    state = stored()
    day = (utcnow().date() + dt.timedelta(days=days_ahead)).isoformat()
    now = utcnow().isoformat()

    for target in (new_id(), existing):
        response = diary.put(target, entry_body(recorded_at=now, local_date=day))
        assert_invalid(response, "body.local_date")
    assert stored() == state


@pytest.mark.parametrize("local_date", ["1899-12-31", "0001-01-01", "2026-02-30", "20261120", 5])
def test_bad_local_date_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]], local_date: Any
) -> None:
    existing = diary.create()["id"]
    state = stored()

    for target in (new_id(), existing):
        assert_invalid(diary.put(target, entry_body(local_date=local_date)), "body.local_date")
    assert stored() == state


# --- backfilled -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_before_today", "backfilled"),
    [(-1, False), (0, False), (1, False), (2, True), (3, True), (400, True)],
)
def test_backfilled_by_local_date(diary: Diary, days_before_today: int, backfilled: bool) -> None:
    now = utcnow()
    local_date = now.date() - dt.timedelta(days=days_before_today)
    created = diary.create(
        recorded_at=now.replace(microsecond=0).isoformat(), local_date=local_date.isoformat()
    )
    assert created["backfilled"] is backfilled
    assert diary.get(created["id"]).json()["backfilled"] is backfilled


def test_entry_about_today_is_not_backfilled(diary: Diary) -> None:
    recorded = (utcnow() - dt.timedelta(minutes=1)).replace(microsecond=0)
    created = diary.create(recorded_at=recorded.isoformat())
    assert created["local_date"] == recorded.date().isoformat()
    assert created["backfilled"] is False


def test_entry_about_three_days_ago_is_backfilled(diary: Diary) -> None:
    recorded = (utcnow() - dt.timedelta(days=3)).replace(microsecond=0)
    created = diary.create(recorded_at=recorded.isoformat())
    assert created["local_date"] == recorded.date().isoformat()
    assert created["backfilled"] is True


def test_patching_local_date_into_the_past_sets_backfilled(diary: Diary) -> None:
    now = utcnow().replace(microsecond=0)
    created = diary.create(recorded_at=now.isoformat())
    assert created["backfilled"] is False

    old_day = (now.date() - dt.timedelta(days=3)).isoformat()
    patched = diary.patch(created["id"], {"local_date": old_day})

    assert patched.status_code == 200, patched.text
    assert patched.json()["local_date"] == old_day
    assert patched.json()["backfilled"] is True


# --- Validation -----------------------------------------------------------------------------

SITE = {"region": "neck"}
REGIONS = (
    "head", "face", "jaw", "neck", "shoulder", "upper_back", "lower_back", "chest", "abdomen",
    "pelvis", "hip", "arm", "elbow", "forearm", "wrist", "hand", "thigh", "knee", "lower_leg",
    "ankle", "foot", "whole_body",
)  # fmt: skip
QUALITIES = (
    "aching", "sharp", "stabbing", "burning", "throbbing", "shooting", "dull", "tingling",
    "cramping", "stiff", "migrating",
)  # fmt: skip
MED = {"name": "Ibuprofen", "kind": "as_needed"}

INVALID = [
    pytest.param({"pain": -1}, "body.pain", id="pain-negative"),
    pytest.param({"pain": 11}, "body.pain", id="pain-11"),
    pytest.param({"pain": 5.5}, "body.pain", id="pain-fraction"),
    pytest.param({"pain": "5"}, "body.pain", id="pain-string"),
    pytest.param({"pain": True}, "body.pain", id="pain-bool"),
    pytest.param({"pain": None}, "body.pain", id="pain-null"),
    pytest.param({"pain_worst": -1}, "body.pain_worst", id="pain_worst-negative"),
    pytest.param({"pain_worst": 11}, "body.pain_worst", id="pain_worst-11"),
    pytest.param({"pain_worst": 7.5}, "body.pain_worst", id="pain_worst-fraction"),
    pytest.param({"pain_worst": "7"}, "body.pain_worst", id="pain_worst-string"),
    pytest.param({"sleep_hours": 24.5}, "body.sleep_hours", id="sleep_hours-24.5"),
    pytest.param({"sleep_hours": -1}, "body.sleep_hours", id="sleep_hours-negative"),
    pytest.param({"sleep_hours": "lots"}, "body.sleep_hours", id="sleep_hours-text"),
    pytest.param({"sleep_hours": "7.5"}, "body.sleep_hours", id="sleep_hours-numeric-string"),
    pytest.param({"sleep_hours": True}, "body.sleep_hours", id="sleep_hours-bool"),
    pytest.param({"sleep_quality": 11}, "body.sleep_quality", id="sleep_quality-11"),
    pytest.param({"stress": -1}, "body.stress", id="stress-negative"),
    pytest.param({"mood": 4.5}, "body.mood", id="mood-fraction"),
    pytest.param({"activity_interference": 11}, "body.activity_interference", id="activity-11"),
    pytest.param(
        {"enjoyment_interference": "3"}, "body.enjoyment_interference", id="enjoyment-string"
    ),
    pytest.param({"sites": [SITE] * 21}, "body.sites", id="sites-21"),
    pytest.param({"sites": SITE}, "body.sites", id="sites-not-list"),
    pytest.param({"sites": [{"region": "tail"}]}, "body.sites.0.region", id="site-region"),
    pytest.param({"sites": [{"side": "left"}]}, "body.sites.0.region", id="site-no-region"),
    pytest.param({"sites": [SITE | {"side": "up"}]}, "body.sites.0.side", id="site-side"),
    pytest.param(
        {"sites": [SITE | {"intensity": 11}]}, "body.sites.0.intensity", id="site-intensity-11"
    ),
    pytest.param(
        {"sites": [SITE | {"intensity": -1}]}, "body.sites.0.intensity", id="site-intensity-neg"
    ),
    pytest.param(
        {"sites": [SITE, SITE | {"qualities": ["sharp", "itchy"]}]},
        "body.sites.1.qualities.1",
        id="site-quality",
    ),
    pytest.param({"sites": [SITE | {"colour": "red"}]}, "body.sites.0.colour", id="site-extra"),
    pytest.param({"medications": [MED] * 21}, "body.medications", id="medications-21"),
    pytest.param({"medications": [MED | {"name": ""}]}, "body.medications.0.name", id="med-empty"),
    pytest.param(
        {"medications": [MED | {"name": "   "}]}, "body.medications.0.name", id="med-blank"
    ),
    pytest.param(
        {"medications": [MED | {"name": "x" * 101}]}, "body.medications.0.name", id="med-101"
    ),
    pytest.param({"medications": [{"kind": "as_needed"}]}, "body.medications.0.name", id="no-name"),
    pytest.param({"medications": [MED | {"dose": 0}]}, "body.medications.0.dose", id="dose-0"),
    pytest.param({"medications": [MED | {"dose": -5}]}, "body.medications.0.dose", id="dose-neg"),
    pytest.param(
        {"medications": [MED | {"dose": "400"}]}, "body.medications.0.dose", id="dose-string"
    ),
    pytest.param(
        {"medications": [MED | {"unit": "u" * 21}]}, "body.medications.0.unit", id="unit-21"
    ),
    pytest.param(
        {"medications": [MED | {"kind": "daily"}]}, "body.medications.0.kind", id="med-kind"
    ),
    pytest.param({"medications": [{"name": "X"}]}, "body.medications.0.kind", id="med-no-kind"),
    pytest.param(
        {"medications": [MED | {"route": "oral"}]}, "body.medications.0.route", id="med-extra"
    ),
    pytest.param({"tags": ["t"] * 21}, "body.tags", id="tags-21"),
    pytest.param({"tags": ["x" * 41]}, "body.tags.0", id="tag-41"),
    pytest.param({"tags": ["ok", ""]}, "body.tags.1", id="tag-empty"),
    pytest.param({"tags": ["   "]}, "body.tags.0", id="tag-blank"),
    pytest.param({"tags": [7]}, "body.tags.0", id="tag-number"),
    pytest.param({"tags": "weather"}, "body.tags", id="tags-not-list"),
    pytest.param({"notes": "n" * 2001}, "body.notes", id="notes-2001"),
    pytest.param({"notes": 12}, "body.notes", id="notes-number"),
    pytest.param({"pian": 3}, "body.pian", id="unknown-field"),
    pytest.param({"local_date ": "2026-11-20"}, "body.local_date ", id="unknown-field-space"),
    pytest.param({"id": "not-a-uuid"}, "body.id", id="id-not-uuid"),
]


@pytest.mark.parametrize(("fields", "loc"), INVALID)
def test_invalid_body_is_422_and_changes_nothing(
    diary: Diary, stored: Callable[[], dict[str, Any]], fields: dict[str, Any], loc: str
) -> None:
    existing = diary.create(**FULL_BODY)["id"]
    state = stored()
    bad = FULL_BODY | fields

    assert_invalid(diary.put(new_id(), bad), loc)
    assert_invalid(diary.put(existing, bad), loc)
    assert_invalid(diary.post(bad), loc)
    assert stored() == state


def test_unknown_field_error_names_it(diary: Diary) -> None:
    body = assert_invalid(diary.put(new_id(), entry_body(pian=3)), "body.pian")
    assert [e["loc"] for e in body["errors"]] == [["body", "pian"]]


def test_invalid_value_is_not_echoed(diary: Diary) -> None:
    secret = "my-secret-diagnosis-" + "x" * 2000
    response = diary.put(new_id(), entry_body(notes=secret))
    assert_invalid(response, "body.notes")
    assert secret not in response.text


@pytest.mark.parametrize(
    "content", [json.dumps([entry_body()]).encode(), b"", b'{"pain": 3,', b"null", b'"entry"']
)
def test_body_that_is_not_an_entry_object_is_422(
    diary: Diary, rows: Callable[..., int], content: bytes
) -> None:
    response = diary.client.put(
        diary.url(new_id()),
        content=content,
        headers=diary.headers({"Content-Type": "application/json"}),
    )
    assert_problem(response, 422)
    assert rows(ENTRIES) == 0


VALID = [
    pytest.param({"pain": 0}, {"pain": 0}, id="pain-0"),
    pytest.param({"pain": 10}, {"pain": 10}, id="pain-10"),
    pytest.param({"pain_worst": 10}, {"pain_worst": 10}, id="pain_worst-10"),
    pytest.param({"sleep_hours": 7.5}, {"sleep_hours": 7.5}, id="sleep-7.5"),
    pytest.param({"sleep_hours": 0}, {"sleep_hours": 0.0}, id="sleep-0"),
    pytest.param({"sleep_hours": 24}, {"sleep_hours": 24.0}, id="sleep-24"),
    pytest.param({"notes": "n" * 2000}, {"notes": "n" * 2000}, id="notes-2000"),
    pytest.param({"notes": "Schmerz ✓ 痛み"}, {"notes": "Schmerz ✓ 痛み"}, id="notes-unicode"),
    pytest.param({"tags": ["t"] * 20}, {"tags": ["t"] * 20}, id="tags-20"),
    pytest.param({"tags": ["x" * 40]}, {"tags": ["x" * 40]}, id="tag-40"),
    pytest.param({"tags": ["  yoga "]}, {"tags": ["yoga"]}, id="tag-stripped"),
    pytest.param({"sites": [SITE] * 20}, {"sites": [SITE] * 20}, id="sites-20"),
    pytest.param(
        {"sites": [{"region": "hip", "qualities": ["sharp", "dull", "sharp", "dull"]}]},
        {"sites": [{"region": "hip", "qualities": ["sharp", "dull"]}]},
        id="qualities-deduplicated",
    ),
    pytest.param(
        {"sites": [{"region": "foot", "qualities": list(QUALITIES)}]},
        {"sites": [{"region": "foot", "qualities": list(QUALITIES)}]},
        id="all-qualities",
    ),
    pytest.param({"medications": [MED] * 20}, {"medications": [MED] * 20}, id="medications-20"),
    pytest.param(
        {"medications": [MED | {"name": "n" * 100, "unit": "u" * 20, "dose": 0.25}]},
        {"medications": [MED | {"name": "n" * 100, "unit": "u" * 20, "dose": 0.25}]},
        id="medication-limits",
    ),
    pytest.param(
        {"medications": [{"name": "  Naproxen ", "kind": "preventive"}]},
        {"medications": [{"name": "Naproxen", "kind": "preventive"}]},
        id="medication-name-stripped",
    ),
]


def _without_empty(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if v not in (None, [])} for item in items]


@pytest.mark.parametrize(("fields", "expected"), VALID)
def test_boundary_values_are_accepted(
    diary: Diary, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    created = diary.create(**fields)
    fetched = diary.get(created["id"]).json()
    for body in (created, fetched):
        for name, value in expected.items():
            if name in ("sites", "medications"):
                # Optional parts left out may come back as null (or [] for qualities).
                got = [
                    {k: v for k, v in item.items() if v not in (None, [])} for item in body[name]
                ]
                want = [{k: v for k, v in item.items() if v not in (None, [])} for item in value]
                assert got == want, name
            else:
                assert body[name] == value, name


def test_site_with_region_only(diary: Diary) -> None:
    site = diary.create(sites=[{"region": "whole_body"}])["sites"][0]
    assert site["region"] == "whole_body"
    assert site.get("side") is None
    assert site.get("intensity") is None
    assert site.get("qualities", []) == []


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_is_accepted(diary: Diary, region: str) -> None:
    sites = [{"region": region, "side": side} for side in ("left", "right", "both", "midline")]
    created = diary.create(sites=sites)
    assert [(s["region"], s["side"]) for s in created["sites"]] == [
        (s["region"], s["side"]) for s in sites
    ]


# --- PATCH ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [MERGE_PATCH, "application/json"])
def test_patch_changes_one_field(diary: Diary, content_type: str) -> None:
    created = diary.create(**FULL_BODY)

    response = diary.patch(created["id"], {"pain": 9}, content_type=content_type)

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    body = response.json()
    assert body["pain"] == 9
    assert body["version"] == 2
    assert body["created_at"] == created["created_at"]
    assert client_fields(body) == client_fields(created) | {"pain": 9}
    assert diary.get(created["id"]).json() == body


def test_patch_null_clears_optional_field(diary: Diary) -> None:
    created = diary.create(**FULL_BODY)

    response = diary.patch(created["id"], {"notes": None, "pain_worst": None})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["notes"] is None
    assert body["pain_worst"] is None
    assert body["version"] == 2
    assert client_fields(body) == client_fields(created) | {"notes": None, "pain_worst": None}


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        pytest.param({"pain": None}, "body.pain", id="null-required-pain"),
        pytest.param({"recorded_at": None}, "body.recorded_at", id="null-required-recorded_at"),
        pytest.param({"pain": 11}, "body.pain", id="pain-11"),
        pytest.param({"pain": "7"}, "body.pain", id="pain-string"),
        pytest.param({"sleep_hours": 25}, "body.sleep_hours", id="sleep-25"),
        pytest.param({"recorded_at": "2026-11-20T08:30:00"}, "body.recorded_at", id="naive"),
        pytest.param({"tags": ["x" * 41]}, "body.tags.0", id="tag-41"),
        pytest.param({"sites": [{"region": "tail"}]}, "body.sites.0.region", id="site-region"),
        pytest.param({"pian": 3}, "body.pian", id="unknown-field"),
        pytest.param({"id": str(uuid.uuid4())}, "body.id", id="other-id"),
        pytest.param({"local_date": "1899-12-31"}, "body.local_date", id="local_date-1899"),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(
    diary: Diary, stored: Callable[[], dict[str, Any]], patch: dict[str, Any], loc: str
) -> None:
    created = diary.create(**FULL_BODY)
    state = stored()

    assert_invalid(diary.patch(created["id"], patch), loc)
    assert stored() == state
    assert diary.get(created["id"]).json() == created


def test_patch_future_recorded_at_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    created = diary.create()
    state = stored()
    ahead = (utcnow() + dt.timedelta(hours=25)).isoformat()

    assert_invalid(diary.patch(created["id"], {"recorded_at": ahead}), "body.recorded_at")
    assert stored() == state


def test_patch_replaces_lists(diary: Diary) -> None:
    created = diary.create(**FULL_BODY)

    response = diary.patch(
        created["id"], {"tags": ["sleep"], "sites": [{"region": "jaw", "side": "right"}]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tags"] == ["sleep"]
    assert [(s["region"], s["side"]) for s in body["sites"]] == [("jaw", "right")]
    assert body["medications"] == FULL_BODY["medications"]
    assert body["version"] == 2


def test_patch_empty_list_clears_it(diary: Diary) -> None:
    created = diary.create(**FULL_BODY)
    body = diary.patch(created["id"], {"tags": [], "medications": []}).json()
    assert (body["tags"], body["medications"], body["version"]) == ([], [], 2)


def test_patch_recorded_at_rederives_derived_local_date(diary: Diary) -> None:
    created = diary.create(recorded_at="2026-11-20T23:30:00-05:00")
    assert created["local_date"] == "2026-11-20"

    response = diary.patch(created["id"], {"recorded_at": "2026-11-18T07:00:00-05:00"})

    assert response.status_code == 200, response.text
    assert response.json()["recorded_at"] == "2026-11-18T07:00:00-05:00"
    assert response.json()["local_date"] == "2026-11-18"


def test_patch_offset_alone_rederives_local_date(diary: Diary) -> None:
    created = diary.create(recorded_at="2026-11-20T23:30:00-05:00")
    # The same instant, now seen from Berlin: already the 21st there.
    body = diary.patch(created["id"], {"recorded_at": "2026-11-21T05:30:00+01:00"}).json()
    assert (body["local_date"], body["version"]) == ("2026-11-21", 2)


def test_patch_recorded_at_keeps_explicit_local_date(diary: Diary) -> None:
    created = diary.create(recorded_at="2026-11-22T09:00:00+01:00", local_date="2026-11-19")

    body = diary.patch(created["id"], {"recorded_at": "2026-11-23T09:00:00+01:00"}).json()

    assert body["recorded_at"] == "2026-11-23T09:00:00+01:00"
    assert body["local_date"] == "2026-11-19"


def test_patch_null_local_date_derives_it_again(diary: Diary) -> None:
    created = diary.create(recorded_at="2026-11-22T09:00:00+01:00", local_date="2026-11-19")
    body = diary.patch(created["id"], {"local_date": None}).json()
    assert body["local_date"] == "2026-11-22"


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"pain": 6},
        {"tags": ["weather", "long drive", "yoga"]},
        {"version": 9, "updated_at": "2001-01-01T00:00:00Z", "backfilled": False},
    ],
)
def test_no_op_patch_keeps_version(
    diary: Diary, stored: Callable[[], dict[str, Any]], patch: dict[str, Any]
) -> None:
    created = diary.create(**FULL_BODY)
    state = stored()

    response = diary.patch(created["id"], patch)

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.json() == created
    assert stored()["entries"] == state["entries"]


def test_patch_with_stale_if_match_is_412(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.patch(entry_id, {"pain": 2})
    state = stored()

    response = diary.patch(entry_id, {"pain": 3}, headers={"If-Match": '"1"'})

    assert_problem(response, 412)
    assert stored() == state
    assert diary.get(entry_id).json()["pain"] == 2


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"'])
def test_patch_with_current_if_match_proceeds(diary: Diary, tag: str) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.patch(entry_id, {"pain": 2})

    response = diary.patch(entry_id, {"pain": 3}, headers={"If-Match": tag})

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"3"'
    assert response.json()["pain"] == 3


def test_patch_missing_entry_is_404(diary: Diary, rows: Callable[..., int]) -> None:
    assert_problem(diary.patch(new_id(), {"pain": 3}), 404)
    assert_problem(diary.patch(new_id(), entry_body()), 404)
    assert rows(ENTRIES) == 0


def test_patch_deleted_entry_is_404(diary: Diary) -> None:
    entry_id = diary.create()["id"]
    assert diary.delete(entry_id).status_code == 204
    assert_problem(diary.patch(entry_id, {"pain": 3}), 404)


@pytest.mark.parametrize("patch", [[{"op": "replace", "path": "/pain", "value": 3}], 3, "pain"])
def test_patch_that_is_not_an_object_is_422(
    diary: Diary, stored: Callable[[], dict[str, Any]], patch: Any
) -> None:
    entry_id = diary.create()["id"]
    state = stored()
    assert_problem(diary.patch(entry_id, patch), 422)
    assert stored() == state


# --- DELETE ---------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone(
    diary: Diary,
    rows: Callable[..., int],
    tombstone_row: Callable[[str], dict[str, Any] | None],
) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.put(entry_id, entry_body(pain=2))  # now at version 2

    response = diary.delete(entry_id)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(diary.get(entry_id), 404)
    assert rows(ENTRIES, id=uuid.UUID(entry_id)) == 0
    grave = tombstone_row(entry_id)
    assert grave is not None
    assert grave["version"] == 3
    assert grave["kind"] == "entry"
    assert grave["patient_id"] == diary.caller.id
    assert rows(TOMBSTONES) == 1
    assert diary.ids() == []


def test_delete_again_is_idempotent(diary: Diary, stored: Callable[[], dict[str, Any]]) -> None:
    entry_id = diary.create()["id"]
    assert diary.delete(entry_id).status_code == 204
    state = stored()

    again = diary.delete(entry_id)

    assert again.status_code == 204
    assert stored() == state


@pytest.mark.parametrize("tag", ['"1"', '"2"', "*"])
def test_delete_again_with_if_match_is_412(
    diary: Diary, stored: Callable[[], dict[str, Any]], tag: str
) -> None:
    """The entry has no current version any more, so no If-Match can hold."""
    entry_id = diary.create()["id"]
    assert diary.delete(entry_id).status_code == 204
    state = stored()

    assert_problem(diary.delete(entry_id, headers={"If-Match": tag}), 412)
    assert stored() == state


def test_delete_never_existing_is_404(diary: Diary, rows: Callable[..., int]) -> None:
    diary.create()
    assert_problem(diary.delete(new_id()), 404)
    assert rows(TOMBSTONES) == 0
    assert rows(ENTRIES) == 1


def test_delete_with_stale_if_match_is_412(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.put(entry_id, entry_body(pain=2))
    state = stored()

    assert_problem(diary.delete(entry_id, headers={"If-Match": '"1"'}), 412)
    assert stored() == state
    assert diary.get(entry_id).status_code == 200


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', "*"])
def test_delete_with_current_if_match(
    diary: Diary, tombstone_row: Callable[[str], dict[str, Any] | None], tag: str
) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.put(entry_id, entry_body(pain=2))

    assert diary.delete(entry_id, headers={"If-Match": tag}).status_code == 204
    grave = tombstone_row(entry_id)
    assert grave is not None and grave["version"] == 3


def test_put_after_delete_continues_the_version(
    diary: Diary,
    rows: Callable[..., int],
    tombstone_row: Callable[[str], dict[str, Any] | None],
) -> None:
    entry_id = diary.create(pain=1)["id"]
    diary.put(entry_id, entry_body(pain=2))
    diary.delete(entry_id)  # tombstone at version 3

    response = diary.put(entry_id, entry_body(pain=5))

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"4"'
    assert response.headers["Location"] == f"{ME}/{entry_id}"
    assert response.json()["version"] == 4
    assert response.json()["pain"] == 5
    assert tombstone_row(entry_id) is None
    assert rows(TOMBSTONES) == 0
    assert diary.get(entry_id).json()["version"] == 4


def test_put_with_if_match_on_deleted_entry_is_412(
    diary: Diary, stored: Callable[[], dict[str, Any]]
) -> None:
    entry_id = diary.create()["id"]
    diary.delete(entry_id)
    state = stored()

    assert_problem(diary.put(entry_id, entry_body(), headers={"If-Match": '"1"'}), 412)
    assert stored() == state


# --- List -----------------------------------------------------------------------------------


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


#: Seven entries: ties on local_date and on recorded_at, an explicit (back-filled) date,
#: and offsets on both sides of UTC.
SEVEN = {
    _id(1): {"recorded_at": "2026-10-05T20:00:00+02:00"},
    _id(2): {"recorded_at": "2026-10-05T08:00:00+02:00"},
    _id(3): {"recorded_at": "2026-10-05T08:00:00+02:00"},
    _id(4): {"recorded_at": "2026-10-06T09:00:00+00:00", "local_date": "2026-10-04"},
    _id(5): {"recorded_at": "2026-10-03T23:30:00-05:00"},
    _id(6): {"recorded_at": "2026-10-03T12:00:00+09:00"},
    _id(7): {"recorded_at": "2026-10-01T10:00:00Z"},
}
#: Newest first: local_date, then recorded_at (the instant), then id.
SEVEN_ORDER = [_id(n) for n in (1, 3, 2, 4, 5, 6, 7)]


@pytest.fixture
def seven(diary: Diary) -> list[str]:
    for entry_id, fields in SEVEN.items():
        diary.create(entry_id, **fields)
    return SEVEN_ORDER


def test_list_is_newest_first(diary: Diary, seven: list[str]) -> None:
    response = diary.list()

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    assert body["next_cursor"] is None
    assert [i["id"] for i in body["items"]] == seven
    assert [i["local_date"] for i in body["items"]] == [
        "2026-10-05",
        "2026-10-05",
        "2026-10-05",
        "2026-10-04",
        "2026-10-03",
        "2026-10-03",
        "2026-10-01",
    ]
    by_id = {i["id"]: i for i in body["items"]}
    assert by_id[_id(5)]["recorded_at"] == "2026-10-03T23:30:00-05:00"
    assert by_id[_id(1)] == diary.get(_id(1)).json()


def test_list_empty(diary: Diary) -> None:
    assert diary.list().json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"from": "2026-10-03", "to": "2026-10-04"}, [4, 5, 6]),
        ({"from": "2026-10-04"}, [1, 3, 2, 4]),
        ({"to": "2026-10-03"}, [5, 6, 7]),
        ({"from": "2026-10-05", "to": "2026-10-05"}, [1, 3, 2]),
        ({"from": "2026-10-01", "to": "2026-10-01"}, [7]),
        ({"from": "2026-10-02", "to": "2026-10-02"}, []),
        ({"from": "2026-10-06"}, []),
        ({"to": "2026-09-30"}, []),
        ({"from": "2026-09-01", "to": "2026-12-31"}, [1, 3, 2, 4, 5, 6, 7]),
    ],
)
def test_list_from_to_inclusive_on_local_date(
    diary: Diary, seven: list[str], params: dict[str, str], expected: list[int]
) -> None:
    assert diary.ids(**params) == [_id(n) for n in expected]


def test_list_filters_on_local_date_not_recorded_at(diary: Diary, seven: list[str]) -> None:
    # Entry 4 was recorded on the 6th but is about the 4th; entry 5 is the 4th in UTC.
    assert diary.ids(**{"from": "2026-10-06", "to": "2026-10-06"}) == []
    assert diary.ids(**{"from": "2026-10-04", "to": "2026-10-04"}) == [_id(4)]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"from": "2026-10-05", "to": "2026-10-04"}, "from"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!!"}, "cursor"),
        ({"cursor": "x" * 600}, "cursor"),
    ],
)
def test_bad_list_query_is_422(diary: Diary, params: dict[str, Any], loc: str) -> None:
    diary.create()
    assert_invalid(diary.list(**params), f"query.{loc}")


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _b64([1]),
        _b64({"local_date": "2026-10-05"}),
        _b64(["2026-10-05", "2026-10-05T06:00:00+00:00"]),
        _b64(["not-a-date", "2026-10-05T06:00:00+00:00", _id(1)]),
        _b64(["2026-10-05", "2026-10-05T06:00:00", _id(1)]),  # naive
        _b64(["2026-10-05", "2026-10-05T06:00:00+00:00", "not-a-uuid"]),
        _b64(["2026-10-05", 5, _id(1)]),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        "%%%",
    ],
)
def test_forged_cursor_is_422(diary: Diary, seven: list[str], cursor: str) -> None:
    assert_invalid(diary.list(cursor=cursor), "query.cursor")


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 6, 7, 8])
def test_pagination_walks_every_entry_once(diary: Diary, seven: list[str], limit: int) -> None:
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = diary.list(**params)
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page["items"]))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == seven
    full, rest = divmod(7, limit)
    assert sizes == [limit] * full + ([rest] if rest else [])


def test_pagination_three_three_one(diary: Diary, seven: list[str]) -> None:
    first = diary.list(limit=3).json()
    second = diary.list(limit=3, cursor=first["next_cursor"]).json()
    third = diary.list(limit=3, cursor=second["next_cursor"]).json()

    assert [i["id"] for i in first["items"]] == seven[:3]
    assert [i["id"] for i in second["items"]] == seven[3:6]
    assert [i["id"] for i in third["items"]] == seven[6:]
    assert isinstance(first["next_cursor"], str) and isinstance(second["next_cursor"], str)
    assert third["next_cursor"] is None


def test_pagination_within_a_date_range(diary: Diary, seven: list[str]) -> None:
    window = {"from": "2026-10-03", "to": "2026-10-05"}
    first = diary.list(limit=4, **window).json()
    second = diary.list(limit=4, cursor=first["next_cursor"], **window).json()

    assert [i["id"] for i in first["items"]] == [_id(n) for n in (1, 3, 2, 4)]
    assert [i["id"] for i in second["items"]] == [_id(n) for n in (5, 6)]
    assert second["next_cursor"] is None


def test_pagination_on_many_entries_of_one_day(diary: Diary) -> None:
    """Same local_date throughout: the cursor must carry recorded_at and id exactly."""
    for minute in range(6):
        for offset in ("+00:00", "-05:00"):
            diary.create(recorded_at=f"2026-11-20T08:{minute:02d}:00.5{minute}{offset}")
    expected = diary.ids(limit=500)
    assert len(expected) == 12

    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = diary.list(**params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert cursor is None


def test_list_default_limit_is_100(diary: Diary) -> None:
    for _ in range(101):
        diary.create()

    first = diary.list().json()
    assert len(first["items"]) == 100
    assert first["next_cursor"] is not None
    rest = diary.list(cursor=first["next_cursor"]).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert len(diary.list(limit=500).json()["items"]) == 101


def test_list_shows_only_the_callers_entries(
    client: TestClient, diary: Diary, other_patient: Account
) -> None:
    mine = diary.create()["id"]
    theirs = Diary(client, other_patient).create()["id"]
    assert diary.ids() == [mine]
    assert Diary(client, other_patient).ids() == [theirs]
    # An entry id is only found under its own patient.
    assert_problem(Diary(client, other_patient).get(mine), 404)
    assert_problem(diary.get(theirs), 404)


# --- change_position ------------------------------------------------------------------------


def test_every_write_takes_a_higher_change_position(
    diary: Diary,
    entry_row: Callable[[str], dict[str, Any] | None],
    tombstone_row: Callable[[str], dict[str, Any] | None],
) -> None:
    def position(entry_id: str) -> int:
        row = entry_row(entry_id)
        assert row is not None
        return int(row["change_position"])

    a, b = new_id(), new_id()
    positions = []
    diary.put(a, entry_body(pain=1))
    positions.append(position(a))
    diary.put(b, entry_body(pain=1))
    positions.append(position(b))
    diary.put(a, entry_body(pain=2))
    positions.append(position(a))
    diary.patch(b, {"pain": 3})
    positions.append(position(b))
    diary.delete(a)
    grave = tombstone_row(a)
    assert grave is not None
    positions.append(int(grave["change_position"]))
    diary.put(a, entry_body(pain=4))
    positions.append(position(a))
    c = diary.post(entry_body()).json()["id"]
    positions.append(position(c))

    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


def test_unchanged_write_keeps_change_position(
    diary: Diary, entry_row: Callable[[str], dict[str, Any] | None]
) -> None:
    entry_id = diary.create(**FULL_BODY)["id"]
    before = entry_row(entry_id)
    diary.put(entry_id, FULL_BODY)
    diary.patch(entry_id, {})
    assert entry_row(entry_id) == before


# --- Access ---------------------------------------------------------------------------------


def _attempts(entry_id: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", entry_id, None),
        ("PUT", entry_id, entry_body(pain=9)),
        ("PUT", new_id(), entry_body(pain=9)),
        ("PATCH", entry_id, {"pain": 9}),
        ("DELETE", entry_id, None),
        ("GET", "", None),
        ("POST", "", entry_body(pain=9)),
    ]


def _request(
    client: TestClient, caller: Account, method: str, url: str, body: Any
) -> httpx.Response:
    if body is None:
        return client.request(method, url, headers=caller.headers)
    return client.request(method, url, json=body, headers=caller.headers)


@pytest.mark.parametrize("intruder", ["other_patient", "clinician"])
def test_strangers_get_404_and_change_nothing(
    request: pytest.FixtureRequest,
    client: TestClient,
    diary: Diary,
    patient: Account,
    stored: Callable[[], dict[str, Any]],
    intruder: str,
) -> None:
    stranger: Account = request.getfixturevalue(intruder)
    entry_id = diary.create()["id"]
    state = stored()
    base = f"/v1/patients/{patient.id}/entries"

    for method, target, body in _attempts(entry_id):
        url = f"{base}/{target}" if target else base
        response = _request(client, stranger, method, url, body)
        problem = assert_problem(response, 404)
        # The same answer as for a patient who does not exist at all.
        missing = _request(
            client, stranger, method, url.replace(str(patient.id), str(uuid.uuid4())), body
        )
        assert_problem(missing, 404)
        assert missing.json() == problem, (method, target)
    assert stored() == state


def test_clinician_has_no_me_entries(client: TestClient, clinician: Account) -> None:
    assert_problem(client.get(ME, headers=clinician.headers), 404)
    response = client.put(f"{ME}/{new_id()}", json=entry_body(), headers=clinician.headers)
    assert response.status_code in (403, 404)
    assert_problem(response, response.status_code)


@pytest.mark.parametrize("spelling", [str, lambda u: str(u).upper(), lambda u: u.hex])
def test_own_uuid_works_like_me(
    client: TestClient, patient: Account, spelling: Callable[[uuid.UUID], str]
) -> None:
    by_id = Diary(client, patient, spelling(patient.id))
    by_me = Diary(client, patient)
    entry_id = new_id()

    created = by_id.put(entry_id, entry_body(pain=3))
    assert created.status_code == 201, created.text
    assert created.json()["patient_id"] == str(patient.id)
    assert by_me.get(entry_id).json() == created.json()
    assert by_id.get(entry_id).json() == created.json()
    assert by_id.ids() == by_me.ids() == [entry_id]
    assert by_id.patch(entry_id, {"pain": 4}).json()["version"] == 2
    posted = by_id.post(entry_body())
    assert posted.status_code == 201
    assert by_id.get(posted.json()["id"]).status_code == 200
    assert by_id.delete(entry_id).status_code == 204
    assert_problem(by_me.get(entry_id), 404)


@pytest.mark.parametrize("patient_id", ["you", "ME", "12345", "me%20", "00000000-0000"])
def test_bad_patient_id_is_a_problem(client: TestClient, patient: Account, patient_id: str) -> None:
    for response in (
        client.get(f"/v1/patients/{patient_id}/entries", headers=patient.headers),
        client.put(
            f"/v1/patients/{patient_id}/entries/{new_id()}",
            json=entry_body(),
            headers=patient.headers,
        ),
    ):
        assert response.status_code in (404, 422), response.text
        assert_problem(response, response.status_code)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwdw=="}],
)
def test_no_valid_token_is_401(
    client: TestClient,
    diary: Diary,
    stored: Callable[[], dict[str, Any]],
    headers: dict[str, str],
) -> None:
    entry_id = diary.create()["id"]
    state = stored()

    for method, target, body in _attempts(entry_id):
        url = f"{ME}/{target}" if target else ME
        if body is None:
            response = client.request(method, url, headers=headers)
        else:
            response = client.request(method, url, json=body, headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored() == state


def test_openapi_states_the_bounds_of_optional_numbers(client: TestClient) -> None:
    # The -0 rule of ``Number`` once made pydantic write these as unknown keywords (gt, le).
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    sleep = schemas["EntryIn"]["properties"]["sleep_hours"]["anyOf"][0]
    dose = schemas["Medication"]["properties"]["dose"]["anyOf"][0]
    assert sleep == {"type": "number", "minimum": 0, "maximum": 24}
    assert dose == {"type": "number", "exclusiveMinimum": 0, "maximum": 1e9}


def test_openapi_documents_the_fields_a_merge_patch_may_carry(client: TestClient) -> None:
    # It said any object; a patch with an unknown field is 422.
    operation = client.get("/openapi.json").json()["paths"][
        "/v1/patients/{patient_id}/entries/{record_id}"
    ]["patch"]
    schema = operation["requestBody"]["content"][MERGE_PATCH]["schema"]

    assert schema["additionalProperties"] is False
    assert "required" not in schema
    assert set(schema["properties"]) == set(FULL_BODY) | {"id", "local_date"}
    # null removes a field: allowed where a default takes its place, not for `pain`.
    assert schema["properties"]["pain"]["type"] == "integer"
    assert {"type": "null"} in schema["properties"]["sites"]["anyOf"]
