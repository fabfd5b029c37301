"""The diary's rules as plain functions: local dates, the back-fill flag, date limits and
how an entry body becomes column values and back (app.diary.service)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

from app.core.errors import Invalid
from app.diary.schemas import EntryIn, EntryOut
from app.diary.service import (
    check_entry_dates,
    entries,
    entry_local_date,
    is_backfilled,
    out_recorded_date,
)

UTC = dt.UTC
MICRO = dt.timedelta(microseconds=1)
NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
PATIENT = uuid.UUID("7d9c2b8e-0a51-4f3e-9a0b-5f1d2c3b4a59")
ENTRY = uuid.UUID("8e4f1a52-2a38-4a4c-9d55-4a3c11111111")

FULL: dict[str, Any] = {
    "recorded_at": "2026-11-20T23:30:00-05:00",
    "pain": 6,
    "pain_worst": 8,
    "sites": [
        {"region": "lower_back", "side": "both", "intensity": 7, "qualities": ["aching"]},
        {"region": "knee"},
    ],
    "sleep_hours": 6.5,
    "sleep_quality": 3,
    "stress": 7,
    "mood": 4,
    "activity_interference": 6,
    "enjoyment_interference": 5,
    "medications": [
        {"name": "Ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"},
        {"name": "Amitriptyline", "kind": "preventive"},
    ],
    "tags": ["weather", "yoga"],
    "notes": "Flare-up after the drive.",
}


def at(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None
    return parsed


def body(**fields: Any) -> EntryIn:
    return EntryIn.model_validate({"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4} | fields)


def prepare(
    entry: EntryIn, now: dt.datetime = NOW, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    # `prepare` takes a connection for kinds that need the database; entries do not.
    return asyncio.run(entries.prepare(None, PATIENT, entry, existing, now))  # type: ignore[arg-type]


def stored_row(entry: EntryIn, now: dt.datetime = NOW, version: int = 1) -> dict[str, Any]:
    """What a fresh PUT of ``entry`` at ``now`` would store."""
    return prepare(entry, now) | {
        "patient_id": PATIENT,
        "id": ENTRY,
        "version": version,
        "created_at": now,
        "updated_at": now,
        "change_position": 1,
    }


# --- entry_local_date -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded_at", "expected"),
    [
        # 04:30 on the 21st in UTC, still the evening of the 20th for the patient.
        ("2026-11-20T23:30:00-05:00", dt.date(2026, 11, 20)),
        # 23:30 on the 20th in UTC, already the 21st for the patient.
        ("2026-11-21T00:30:00+01:00", dt.date(2026, 11, 21)),
        ("2026-11-20T23:59:59.999999+14:00", dt.date(2026, 11, 20)),
        ("2026-11-21T00:00:00-12:00", dt.date(2026, 11, 21)),
        ("2026-11-20T00:10:00+05:45", dt.date(2026, 11, 20)),
        ("2026-11-20T23:50:00-09:30", dt.date(2026, 11, 20)),
        ("2026-11-20T00:00:00+00:00", dt.date(2026, 11, 20)),
        ("2024-02-29T23:00:00-01:00", dt.date(2024, 2, 29)),
        ("2026-12-31T23:30:00-05:00", dt.date(2026, 12, 31)),
        ("2027-01-01T00:30:00+01:00", dt.date(2027, 1, 1)),
    ],
)
def test_local_date_is_the_date_in_the_sent_offset(recorded_at: str, expected: dt.date) -> None:
    assert entry_local_date(at(recorded_at), None) == expected
    # The same through request parsing, whose tzinfo is Pydantic's own.
    assert entry_local_date(body(recorded_at=recorded_at).recorded_at, None) == expected


def test_local_date_is_not_the_utc_date() -> None:
    recorded = at("2026-11-20T23:30:00-05:00")
    assert recorded.astimezone(UTC).date() == dt.date(2026, 11, 21)
    assert entry_local_date(recorded, None) == dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    "given", [dt.date(2026, 11, 19), dt.date(2026, 11, 20), dt.date(2026, 11, 22)]
)
def test_given_local_date_wins(given: dt.date) -> None:
    assert entry_local_date(at("2026-11-20T23:30:00-05:00"), given) == given


# --- is_backfilled --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset_min", "threshold"),
    [
        # End of 2026-11-20 in the entry's offset, plus 24 h, as a UTC instant.
        (0, dt.datetime(2026, 11, 22, 0, 0, tzinfo=UTC)),
        (-300, dt.datetime(2026, 11, 22, 5, 0, tzinfo=UTC)),
        (60, dt.datetime(2026, 11, 21, 23, 0, tzinfo=UTC)),
        (345, dt.datetime(2026, 11, 21, 18, 15, tzinfo=UTC)),
        (-570, dt.datetime(2026, 11, 22, 9, 30, tzinfo=UTC)),
        (840, dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC)),
        (-720, dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
    ],
)
def test_backfilled_boundary_in_the_entrys_offset(offset_min: int, threshold: dt.datetime) -> None:
    day = dt.date(2026, 11, 20)
    assert is_backfilled(day, offset_min, threshold) is False
    assert is_backfilled(day, offset_min, threshold - MICRO) is False
    assert is_backfilled(day, offset_min, threshold + MICRO) is True
    assert is_backfilled(day, offset_min, threshold + dt.timedelta(days=30)) is True
    # The instant decides, not the offset the server clock happens to be read in.
    elsewhere = dt.timezone(dt.timedelta(hours=-7))
    assert is_backfilled(day, offset_min, threshold.astimezone(elsewhere)) is False
    assert is_backfilled(day, offset_min, (threshold + MICRO).astimezone(elsewhere)) is True


@pytest.mark.parametrize(
    "received_at",
    [
        "2026-11-19T12:00:00+00:00",  # before the day (an entry about tomorrow)
        "2026-11-20T00:00:00+00:00",
        "2026-11-20T23:59:59+00:00",
        "2026-11-21T00:00:00+00:00",  # the day has just ended
        "2026-11-21T23:59:59.999999+00:00",
    ],
)
def test_not_backfilled_until_a_day_after_the_day(received_at: str) -> None:
    assert is_backfilled(dt.date(2026, 11, 20), 0, at(received_at)) is False


def test_backfilled_uses_the_offset_not_utc() -> None:
    """Received 2026-11-22T03:00Z: over 24 h after the 20th ended in UTC (00:00Z on the
    21st), but not after it ended in New York (05:00Z on the 21st)."""
    received = at("2026-11-22T03:00:00+00:00")
    assert is_backfilled(dt.date(2026, 11, 20), 0, received) is True
    assert is_backfilled(dt.date(2026, 11, 20), -300, received) is False


# --- check_entry_dates ----------------------------------------------------------------------


def _error_locs(exc: Invalid) -> list[list[str | int]]:
    return [list(e["loc"]) for e in exc.errors]


@pytest.mark.parametrize(
    "recorded_at",
    [
        NOW + dt.timedelta(hours=24),
        NOW,
        NOW - dt.timedelta(days=3650),
        (NOW + dt.timedelta(hours=24)).astimezone(dt.timezone(dt.timedelta(hours=-11))),
    ],
)
def test_recorded_at_up_to_24_h_ahead_passes(recorded_at: dt.datetime) -> None:
    entry = body(recorded_at=recorded_at.isoformat(), local_date="2026-11-25")
    check_entry_dates(entry, dt.date(2026, 11, 25), NOW)


@pytest.mark.parametrize(
    "recorded_at",
    [
        NOW + dt.timedelta(hours=24) + MICRO,
        NOW + dt.timedelta(days=365),
        (NOW + dt.timedelta(hours=24, seconds=1)).astimezone(dt.timezone(dt.timedelta(hours=9))),
    ],
)
def test_recorded_at_over_24_h_ahead_is_invalid(recorded_at: dt.datetime) -> None:
    entry = body(recorded_at=recorded_at.isoformat(), local_date="2026-11-25")
    with pytest.raises(Invalid) as caught:
        check_entry_dates(entry, dt.date(2026, 11, 25), NOW)
    assert _error_locs(caught.value) == [["body", "recorded_at"]]
    assert caught.value.status == 422


@pytest.mark.parametrize(
    "local_date", [dt.date(1900, 1, 1), dt.date(2026, 11, 25), dt.date(2026, 11, 26)]
)
def test_local_date_in_range_passes(local_date: dt.date) -> None:
    check_entry_dates(body(), local_date, NOW)


@pytest.mark.parametrize(
    "local_date",
    [dt.date(1899, 12, 31), dt.date(1, 1, 1), dt.date(2026, 11, 27), dt.date(9999, 12, 31)],
)
def test_local_date_out_of_range_is_invalid(local_date: dt.date) -> None:
    with pytest.raises(Invalid) as caught:
        check_entry_dates(body(), local_date, NOW)
    assert _error_locs(caught.value) == [["body", "local_date"]]


def test_tomorrow_follows_the_clock() -> None:
    late = dt.datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC)
    check_entry_dates(body(), dt.date(2026, 11, 26), late)
    with pytest.raises(Invalid):
        check_entry_dates(body(), dt.date(2026, 11, 27), late)
    check_entry_dates(body(), dt.date(2026, 11, 27), late + dt.timedelta(seconds=1))


def test_both_date_errors_are_reported_together() -> None:
    entry = body(recorded_at="2027-01-01T00:00:00+00:00")
    with pytest.raises(Invalid) as caught:
        check_entry_dates(entry, dt.date(2027, 1, 1), NOW)
    assert _error_locs(caught.value) == [["body", "recorded_at"], ["body", "local_date"]]
    assert "recorded_at" in caught.value.detail and "local_date" in caught.value.detail


# --- EntryKind.prepare ----------------------------------------------------------------------


def test_prepare_turns_a_body_into_columns() -> None:
    values = prepare(EntryIn.model_validate(FULL))

    assert values == {
        "pain": 6,
        "pain_worst": 8,
        "sleep_hours": 6.5,
        "sleep_quality": 3,
        "stress": 7,
        "mood": 4,
        "activity_interference": 6,
        "enjoyment_interference": 5,
        "notes": "Flare-up after the drive.",
        "recorded_at": dt.datetime(2026, 11, 21, 4, 30, tzinfo=UTC),
        "recorded_offset_minutes": -300,
        "local_date": dt.date(2026, 11, 20),
        "sites": [
            {"region": "lower_back", "side": "both", "intensity": 7, "qualities": ["aching"]},
            {"region": "knee", "qualities": []},
        ],
        "medications": [
            {"name": "Ibuprofen", "dose": 400.0, "unit": "mg", "kind": "as_needed"},
            {"name": "Amitriptyline", "kind": "preventive"},
        ],
        "tags": ["weather", "yoga"],
        "backfilled": True,  # received on the 25th, about the 20th
    }
    assert values["recorded_at"].utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("recorded_at", "minutes"),
    [
        ("2026-11-20T08:30:00+00:00", 0),
        ("2026-11-20T08:30:00Z", 0),
        ("2026-11-20T08:30:00+05:45", 345),
        ("2026-11-20T08:30:00-03:30", -210),
        ("2026-11-20T08:30:00-09:30", -570),
        ("2026-11-20T08:30:00+14:00", 840),
        ("2026-11-20T08:30:00-12:00", -720),
    ],
)
def test_prepare_keeps_the_offset_in_minutes(recorded_at: str, minutes: int) -> None:
    values = prepare(body(recorded_at=recorded_at))
    assert values["recorded_offset_minutes"] == minutes
    assert values["recorded_at"] == at(recorded_at.replace("Z", "+00:00"))
    assert values["recorded_at"].tzinfo == UTC


def test_prepare_keeps_a_given_local_date() -> None:
    values = prepare(body(recorded_at="2026-11-22T01:00:00+01:00", local_date="2026-11-19"))
    assert values["local_date"] == dt.date(2026, 11, 19)


@pytest.mark.parametrize(
    ("local_date", "now", "backfilled"),
    [
        ("2026-11-20", dt.datetime(2026, 11, 21, 23, 0, tzinfo=UTC), False),  # 01:00+01:00
        ("2026-11-20", dt.datetime(2026, 11, 21, 23, 0, 0, 1, tzinfo=UTC), True),
        ("2026-11-25", NOW, False),
        ("2026-11-22", NOW, True),
    ],
)
def test_prepare_sets_backfilled_from_now_for_a_new_entry(
    local_date: str, now: dt.datetime, backfilled: bool
) -> None:
    # recorded_at's offset (+01:00) is the one the back-fill boundary is measured in.
    entry = body(recorded_at="2026-11-20T08:30:00+01:00", local_date=local_date)
    assert prepare(entry, now)["backfilled"] is backfilled


def test_prepare_measures_backfilled_from_first_receipt() -> None:
    """Editing an entry weeks later does not make it back-filled: it arrived in time."""
    entry = body(recorded_at="2026-11-20T08:30:00+01:00")
    first = stored_row(entry, now=dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    assert first["backfilled"] is False

    later = dt.datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
    assert (
        prepare(body(recorded_at="2026-11-20T08:30:00+01:00", pain=7), later, first)["backfilled"]
        is False
    )
    assert prepare(entry, later)["backfilled"] is True


def test_prepare_checks_the_dates() -> None:
    with pytest.raises(Invalid) as caught:
        prepare(body(recorded_at="2026-11-26T17:00:01+00:00"))
    assert _error_locs(caught.value) == [["body", "recorded_at"]]
    with pytest.raises(Invalid) as caught:
        prepare(body(local_date="2026-11-27"))
    assert _error_locs(caught.value) == [["body", "local_date"]]


# --- public / editable ----------------------------------------------------------------------


def test_public_shows_the_sent_offset() -> None:
    row = stored_row(EntryIn.model_validate(FULL))
    out = entries.public(row)

    assert isinstance(out, EntryOut)
    assert out.recorded_at == at("2026-11-20T23:30:00-05:00")
    assert out.recorded_at.utcoffset() == dt.timedelta(hours=-5)
    assert out.model_dump(mode="json")["recorded_at"] == "2026-11-20T23:30:00-05:00"
    assert out.local_date == dt.date(2026, 11, 20)
    assert (out.id, out.patient_id, out.version) == (ENTRY, PATIENT, 1)
    assert out_recorded_date(row) == dt.date(2026, 11, 20)


def test_editable_holds_the_client_fields_without_a_derived_local_date() -> None:
    row = stored_row(EntryIn.model_validate(FULL))
    editable = entries.editable(row)  # type: ignore[arg-type]

    assert editable == {
        "id": str(ENTRY),
        "recorded_at": "2026-11-20T23:30:00-05:00",
        "pain": 6,
        "pain_worst": 8,
        "sites": [
            {"region": "lower_back", "side": "both", "intensity": 7, "qualities": ["aching"]},
            {"region": "knee", "qualities": []},
        ],
        "sleep_hours": 6.5,
        "sleep_quality": 3,
        "stress": 7,
        "mood": 4,
        "activity_interference": 6,
        "enjoyment_interference": 5,
        "medications": [
            {"name": "Ibuprofen", "dose": 400.0, "unit": "mg", "kind": "as_needed"},
            {"name": "Amitriptyline", "kind": "preventive"},
        ],
        "tags": ["weather", "yoga"],
        "notes": "Flare-up after the drive.",
    }


def test_editable_keeps_an_explicit_local_date() -> None:
    row = stored_row(body(recorded_at="2026-11-22T01:00:00+01:00", local_date="2026-11-19"))
    editable = entries.editable(row)  # type: ignore[arg-type]
    assert editable["local_date"] == "2026-11-19"
    for server_field in ("patient_id", "version", "created_at", "updated_at", "backfilled"):
        assert server_field not in editable


@pytest.mark.parametrize(
    "fields",
    [
        FULL,
        {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 0},
        {"recorded_at": "2026-11-22T01:00:00+01:00", "local_date": "2026-11-19", "pain": 10},
        {"recorded_at": "2026-11-20T08:30:00.123456+05:45", "pain": 3, "sleep_hours": 0},
    ],
)
def test_editable_round_trips_to_the_same_columns(fields: dict[str, Any]) -> None:
    """An empty merge patch must change nothing (no new version)."""
    original = EntryIn.model_validate(fields)
    row = stored_row(original)
    again = EntryIn.model_validate(entries.editable(row))  # type: ignore[arg-type]
    assert prepare(again, existing=row) == prepare(original, existing=row)


def test_editable_lets_a_derived_local_date_follow_recorded_at() -> None:
    row = stored_row(body(recorded_at="2026-11-20T23:30:00-05:00"))
    patched = entries.editable(row) | {"recorded_at": "2026-11-18T07:00:00-05:00"}  # type: ignore[arg-type]
    assert prepare(EntryIn.model_validate(patched), existing=row)["local_date"] == dt.date(
        2026, 11, 18
    )
