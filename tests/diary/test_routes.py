"""Diary entries through the HTTP API: the rules of entries alone (contract §2) — the local
date and back-filling, sites, medications, tags and the other fields. The rules every kind
of record shares are tested in ``tests/records/test_contract.py``."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.records.kinds import (
    ENTRY,
    Records,
    assert_invalid,
    assert_refused,
    new_id,
    parse_time,
    utcnow,
)


@pytest.fixture
def diary(client: TestClient, patient: Account) -> Records:
    return Records(client, patient, ENTRY)


# --- PUT ------------------------------------------------------------------------------------


def test_offset_change_at_same_instant_is_a_change(diary: Records) -> None:
    """The offset is part of the entry (the local time of day matters)."""
    entry_id = new_id()
    diary.put(entry_id, ENTRY.body(recorded_at="2026-11-20T08:30:00+01:00"))

    moved = diary.put(entry_id, ENTRY.body(recorded_at="2026-11-20T07:30:00Z"))

    assert moved.status_code == 200
    assert moved.json()["version"] == 2
    assert moved.json()["recorded_at"] == "2026-11-20T07:30:00Z"


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
    diary: Records, recorded_at: str, local_date: str
) -> None:
    entry_id = new_id()
    created = diary.put(entry_id, ENTRY.body(recorded_at=recorded_at))

    assert created.status_code == 201, created.text
    assert created.json()["recorded_at"] == recorded_at
    assert created.json()["local_date"] == local_date
    fetched = diary.get(entry_id).json()
    assert (fetched["recorded_at"], fetched["local_date"]) == (recorded_at, local_date)
    listed = diary.page().json()["items"]
    assert [(i["recorded_at"], i["local_date"]) for i in listed] == [(recorded_at, local_date)]


def test_explicit_local_date_is_kept(diary: Records) -> None:
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
def test_bad_recorded_at_is_refused(diary: Records, recorded_at: Any) -> None:
    assert_refused(diary, {"recorded_at": recorded_at}, "body.recorded_at")


@pytest.mark.parametrize("recorded_at", [1763620200, 1763620200.5, "1763620200"])
def test_unix_time_is_not_an_rfc3339_timestamp(diary: Records, recorded_at: Any) -> None:
    """§0: timestamps are RFC 3339 with an offset; a bare number carries neither."""
    assert_refused(diary, {"recorded_at": recorded_at}, "body.recorded_at")


def test_recorded_at_up_to_24_hours_ahead_is_accepted(diary: Records) -> None:
    ahead = (utcnow() + dt.timedelta(hours=23, minutes=50)).replace(microsecond=0)
    created = diary.create(recorded_at=ahead.isoformat())
    assert parse_time(created["recorded_at"]) == ahead


@pytest.mark.parametrize("offset", ["+00:00", "-08:00", "+09:00"])
def test_recorded_at_over_24_hours_ahead_is_refused(diary: Records, offset: str) -> None:
    tz = dt.timezone(dt.timedelta(hours=int(offset[:3])))
    ahead = (utcnow() + dt.timedelta(hours=24, minutes=10)).astimezone(tz)
    assert_refused(diary, {"recorded_at": ahead.isoformat()}, "body.recorded_at")


def test_local_date_up_to_tomorrow_is_accepted(diary: Records) -> None:
    today = utcnow().date()
    now = utcnow().replace(microsecond=0).isoformat()
    for day in (today + dt.timedelta(days=1), today, dt.date(1900, 1, 1)):
        created = diary.create(recorded_at=now, local_date=day.isoformat())
        assert created["local_date"] == day.isoformat()


@pytest.mark.parametrize("days_ahead", [2, 30, 3650])
def test_local_date_after_tomorrow_is_refused(diary: Records, days_ahead: int) -> None:
    day = (utcnow().date() + dt.timedelta(days=days_ahead)).isoformat()
    now = utcnow().isoformat()
    assert_refused(diary, {"local_date": day}, "body.local_date", recorded_at=now)


@pytest.mark.parametrize("local_date", ["1899-12-31", "0001-01-01", "2026-02-30", "20261120", 5])
def test_bad_local_date_is_refused(diary: Records, local_date: Any) -> None:
    assert_refused(diary, {"local_date": local_date}, "body.local_date")


# --- backfilled -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_before_today", "backfilled"),
    [(-1, False), (0, False), (1, False), (2, True), (3, True), (400, True)],
)
def test_backfilled_by_local_date(diary: Records, days_before_today: int, backfilled: bool) -> None:
    now = utcnow()
    local_date = now.date() - dt.timedelta(days=days_before_today)
    created = diary.create(
        recorded_at=now.replace(microsecond=0).isoformat(), local_date=local_date.isoformat()
    )
    assert created["backfilled"] is backfilled
    assert diary.get(created["id"]).json()["backfilled"] is backfilled


def test_entry_about_today_is_not_backfilled(diary: Records) -> None:
    recorded = (utcnow() - dt.timedelta(minutes=1)).replace(microsecond=0)
    created = diary.create(recorded_at=recorded.isoformat())
    assert created["local_date"] == recorded.date().isoformat()
    assert created["backfilled"] is False


def test_entry_about_three_days_ago_is_backfilled(diary: Records) -> None:
    recorded = (utcnow() - dt.timedelta(days=3)).replace(microsecond=0)
    created = diary.create(recorded_at=recorded.isoformat())
    assert created["local_date"] == recorded.date().isoformat()
    assert created["backfilled"] is True


def test_patching_local_date_into_the_past_sets_backfilled(diary: Records) -> None:
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
    pytest.param({"local_date ": "2026-11-20"}, "body.local_date ", id="unknown-field-space"),
    pytest.param({"id": "not-a-uuid"}, "body.id", id="id-not-uuid"),
]


@pytest.mark.parametrize(("fields", "loc"), INVALID)
def test_invalid_entry_is_refused(diary: Records, fields: dict[str, Any], loc: str) -> None:
    assert_refused(diary, fields, loc)


def test_invalid_value_is_not_echoed(diary: Records) -> None:
    secret = "my-secret-diagnosis-" + "x" * 2000
    response = diary.put(new_id(), ENTRY.body(notes=secret))
    assert_invalid(response, "body.notes")
    assert secret not in response.text


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
    diary: Records, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    created = diary.create(**fields)
    fetched = diary.get(created["id"]).json()
    for body in (created, fetched):
        for name, value in expected.items():
            if name in ("sites", "medications"):
                # Optional parts left out may come back as null (or [] for qualities).
                assert _without_empty(body[name]) == _without_empty(value), name
            else:
                assert body[name] == value, name


def test_site_with_region_only(diary: Records) -> None:
    site = diary.create(sites=[{"region": "whole_body"}])["sites"][0]
    assert site["region"] == "whole_body"
    assert site.get("side") is None
    assert site.get("intensity") is None
    assert site.get("qualities", []) == []


@pytest.mark.parametrize("region", REGIONS)
def test_every_region_is_accepted(diary: Records, region: str) -> None:
    sites = [{"region": region, "side": side} for side in ("left", "right", "both", "midline")]
    created = diary.create(sites=sites)
    assert [(s["region"], s["side"]) for s in created["sites"]] == [
        (s["region"], s["side"]) for s in sites
    ]


# --- PATCH ----------------------------------------------------------------------------------


def test_patch_replaces_lists(diary: Records) -> None:
    created = diary.create()

    response = diary.patch(
        created["id"], {"tags": ["sleep"], "sites": [{"region": "jaw", "side": "right"}]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tags"] == ["sleep"]
    assert [(s["region"], s["side"]) for s in body["sites"]] == [("jaw", "right")]
    assert body["medications"] == ENTRY.full["medications"]
    assert body["version"] == 2


def test_patch_empty_list_clears_it(diary: Records) -> None:
    created = diary.create()
    body = diary.patch(created["id"], {"tags": [], "medications": []}).json()
    assert (body["tags"], body["medications"], body["version"]) == ([], [], 2)


def test_patch_recorded_at_rederives_derived_local_date(diary: Records) -> None:
    created = diary.create(recorded_at="2026-11-20T23:30:00-05:00")
    assert created["local_date"] == "2026-11-20"

    response = diary.patch(created["id"], {"recorded_at": "2026-11-18T07:00:00-05:00"})

    assert response.status_code == 200, response.text
    assert response.json()["recorded_at"] == "2026-11-18T07:00:00-05:00"
    assert response.json()["local_date"] == "2026-11-18"


def test_patch_offset_alone_rederives_local_date(diary: Records) -> None:
    created = diary.create(recorded_at="2026-11-20T23:30:00-05:00")
    # The same instant, now seen from Berlin: already the 21st there.
    body = diary.patch(created["id"], {"recorded_at": "2026-11-21T05:30:00+01:00"}).json()
    assert (body["local_date"], body["version"]) == ("2026-11-21", 2)


def test_patch_recorded_at_keeps_explicit_local_date(diary: Records) -> None:
    created = diary.create(recorded_at="2026-11-22T09:00:00+01:00", local_date="2026-11-19")

    body = diary.patch(created["id"], {"recorded_at": "2026-11-23T09:00:00+01:00"}).json()

    assert body["recorded_at"] == "2026-11-23T09:00:00+01:00"
    assert body["local_date"] == "2026-11-19"


def test_patch_null_local_date_derives_it_again(diary: Records) -> None:
    created = diary.create(recorded_at="2026-11-22T09:00:00+01:00", local_date="2026-11-19")
    body = diary.patch(created["id"], {"local_date": None}).json()
    assert body["local_date"] == "2026-11-22"


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
def seven(diary: Records) -> list[str]:
    for entry_id, fields in SEVEN.items():
        diary.create(entry_id, **fields)
    return SEVEN_ORDER


def test_list_is_newest_first_by_local_date_then_instant(diary: Records, seven: list[str]) -> None:
    items = diary.page().json()["items"]

    assert [i["id"] for i in items] == seven
    assert [i["local_date"] for i in items] == [
        "2026-10-05",
        "2026-10-05",
        "2026-10-05",
        "2026-10-04",
        "2026-10-03",
        "2026-10-03",
        "2026-10-01",
    ]
    by_id = {i["id"]: i for i in items}
    assert by_id[_id(5)]["recorded_at"] == "2026-10-03T23:30:00-05:00"
    assert by_id[_id(1)] == diary.get(_id(1)).json()


def test_list_filters_on_local_date_not_recorded_at(diary: Records, seven: list[str]) -> None:
    # Entry 4 was recorded on the 6th but is about the 4th; entry 5 is the 4th in UTC.
    assert diary.ids(**{"from": "2026-10-06", "to": "2026-10-06"}) == []
    assert diary.ids(**{"from": "2026-10-04", "to": "2026-10-04"}) == [_id(4)]
    assert diary.ids(**{"from": "2026-10-03", "to": "2026-10-03"}) == [_id(5), _id(6)]
    assert diary.ids(**{"from": "2026-10-03", "to": "2026-10-04"}) == [_id(n) for n in (4, 5, 6)]


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(_b64(["2026-10-05", "2026-10-05T06:00:00+00:00"]), id="two-of-three"),
        pytest.param(_b64(["not-a-date", "2026-10-05T06:00:00+00:00", _id(1)]), id="bad-date"),
        pytest.param(_b64(["2026-10-05", "2026-10-05T06:00:00", _id(1)]), id="naive-time"),
        pytest.param(_b64(["2026-10-05", "2026-10-05T06:00:00+00:00", "x"]), id="bad-id"),
        pytest.param(_b64(["2026-10-05", 5, _id(1)]), id="time-a-number"),
    ],
)
def test_a_cursor_not_of_the_entries_order_is_422(
    diary: Records, seven: list[str], cursor: str
) -> None:
    """An entry's cursor holds its local_date, recorded_at and id."""
    assert_invalid(diary.page(cursor=cursor), "query.cursor")


def test_pagination_on_many_entries_of_one_day(diary: Records) -> None:
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
        page = diary.page(**params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert cursor is None


def test_openapi_states_the_bounds_of_optional_numbers(client: TestClient) -> None:
    # The -0 rule of ``Number`` once made pydantic write these as unknown keywords (gt, le).
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    sleep = schemas["EntryIn"]["properties"]["sleep_hours"]["anyOf"][0]
    dose = schemas["Medication"]["properties"]["dose"]["anyOf"][0]
    assert sleep == {"type": "number", "minimum": 0, "maximum": 24}
    assert dose == {"type": "number", "exclusiveMinimum": 0, "maximum": 1e9}
