"""Shared field types: timestamps keep their offset, server fields are dropped from bodies."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter

from app.core.fields import OffsetDatetime, drop_server_fields, fixed_zone, with_offset

TIMESTAMP = TypeAdapter(OffsetDatetime)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("2026-11-20T08:30:00+01:00", 60),
        ("2026-11-20T08:30:00-05:30", -330),
        ("2026-11-20T08:30:00.25Z", 0),
        ("2026-11-20T08:30:00+00:00", 0),
        ("2026-11-20 23:59:59+13:45", 825),
    ],
)
def test_a_timestamp_keeps_its_instant_and_offset_in_a_plain_zone(text: str, minutes: int) -> None:
    value = TIMESTAMP.validate_json(f'"{text}"')

    assert type(value.tzinfo) is dt.timezone  # not pydantic's slower zone object
    assert value.utcoffset() == dt.timedelta(minutes=minutes)
    assert value == dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert TIMESTAMP.dump_json(value) == TIMESTAMP.dump_json(TIMESTAMP.validate_python(value))
    assert with_offset(value.astimezone(dt.UTC), minutes) == value
    assert with_offset(value.astimezone(dt.UTC), minutes).utcoffset() == value.utcoffset()


def test_a_zone_is_made_once_per_offset() -> None:
    assert fixed_zone(60) is fixed_zone(60)
    assert fixed_zone(0).utcoffset(None) == dt.timedelta(0)
    assert fixed_zone(-330).utcoffset(None) == dt.timedelta(hours=-5, minutes=-30)


def test_a_body_without_server_fields_is_taken_as_given() -> None:
    body = {"pain": 4, "notes": "ok"}

    assert drop_server_fields(body) is body
    assert drop_server_fields(body, derived=frozenset({"local_date"})) is body


def test_server_and_derived_fields_are_dropped() -> None:
    body = {"pain": 4, "version": 3, "patient_id": "x", "local_date": "2026-11-20"}

    assert drop_server_fields(body) == {"pain": 4, "local_date": "2026-11-20"}
    assert drop_server_fields(body, derived=frozenset({"local_date"})) == {"pain": 4}
    assert body["version"] == 3  # the caller's dict is not changed
    assert drop_server_fields([1, 2]) == [1, 2]
