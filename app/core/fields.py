"""Field types shared by the request schemas of several domains."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

from app.core.errors import Invalid

#: Fields the server owns; a client that sends them back is ignored, not refused.
SERVER_FIELDS = frozenset({"patient_id", "version", "created_at", "updated_at", "backfilled"})

EARLIEST = dt.date(1900, 1, 1)
#: The last day a summary may be asked "as of" (query parameters of the trend reports).
LATEST_AS_OF = dt.date(2199, 12, 31)


def _whole(value: Any) -> Any:
    """A JSON number with no fractional part is an integer, as JSON Schema's ``integer``
    says (``4.0`` and ``0.4e1`` are ``4``); strings and booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Takes an integer as JSON Schema's ``integer`` does: 4 or 4.0, never "4" or true. Written
#: after the bounds (``Annotated[int, Strict(), Field(ge=…), WHOLE]``), so that the schema
#: states them as ``minimum`` and ``maximum``.
WHOLE = BeforeValidator(_whole)
Score = Annotated[int, Strict(), Field(ge=0, le=10), WHOLE]


def _no_negative_zero(value: float | None) -> float | None:
    # SQLite stores -0.0 as 0 and PostgreSQL keeps the sign: one answer on both.
    return None if value is None else value + 0.0


_JSONNumber = Annotated[float, Strict(), Field(allow_inf_nan=False)]
#: A JSON number (an integer is fine); numeric strings are refused like for integers.
#: -0 is read as 0.
Number = Annotated[_JSONNumber, AfterValidator(_no_negative_zero)]
#: ``Number | None``. Use it rather than that union: with the validator inside the union,
#: pydantic writes ``Field`` bounds into the JSON schema as unknown keywords (`gt`, `le`),
#: so the OpenAPI document would not state them.
OptionalNumber = Annotated[_JSONNumber | None, AfterValidator(_no_negative_zero)]
Text2000 = Annotated[str, Field(max_length=2000)]
Text200 = Annotated[str, Field(max_length=200)]


@functools.lru_cache(maxsize=4096)
def fixed_zone(minutes: int) -> dt.timezone:
    """The zone ``minutes`` east of UTC, made once per offset."""
    return dt.timezone(dt.timedelta(minutes=minutes))


def _minute_offset(value: dt.datetime) -> dt.datetime:
    """Whole-minute offsets only; the value comes back with the same offset as a
    ``datetime.timezone``, whose ``utcoffset()`` (which every comparison and conversion
    asks) is cheaper than that of pydantic's own zone object (``TzInfo``)."""
    offset = value.utcoffset()
    assert offset is not None  # AwareDatetime guarantees it
    seconds = int(offset.total_seconds())
    if seconds % 60:
        raise ValueError("the UTC offset must be whole minutes")
    if value.date() < EARLIEST:
        raise ValueError("must not be before 1900-01-01")
    return value.replace(tzinfo=fixed_zone(seconds // 60))


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(\.\d{1,9})?)?"
    r"([Zz]|[+-](?P<offset_hours>\d{2}):(?P<offset_minutes>\d{2}))$"
)
#: The largest value of each part; the parser's own message for a part beyond it is obscure.
_RFC3339_PARTS = {
    "hour": "23",
    "minute": "59",
    "second": "59",
    "offset_hours": "23",
    "offset_minutes": "59",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _rfc3339_text(value: Any) -> Any:
    """Refuse what lax parsing would read as Unix time (numbers, numeric strings), and name
    the part of a timestamp that is out of range (24:00, a leap second, an offset of +24:00)."""
    if isinstance(value, dt.datetime):
        return value
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-20T08:30:00+01:00"
        )
    for part, largest in _RFC3339_PARTS.items():
        # Two digits each: compared as text, which orders them as numbers.
        if match[part] is not None and match[part] > largest:
            name = part.replace("_", " ")
            leap = " (leap seconds are not accepted)" if part == "second" else ""
            raise ValueError(f"the {name} must be 00–{largest}{leap}")
    return value


def _date_text(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


#: An RFC 3339 timestamp with an offset; the offset is kept and returned as sent. Its date
#: is 1900-01-01 or later, which the schema states as a pattern on the year.
OffsetDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    AfterValidator(_minute_offset),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": r"^(19|[2-9][0-9])"}),
]
#: A calendar date written YYYY-MM-DD.
CalendarDate = Annotated[dt.date, BeforeValidator(_date_text)]


def _dates_of_years(years: str) -> WithJsonSchema:
    """The schema of a date whose year matches ``years`` (a regular expression): JSON Schema
    has no keyword for a date's range (pydantic would write its own ``ge``/``le``, which
    validators and generators ignore), so a range is stated as a pattern on the year."""
    month_day = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    return WithJsonSchema({"type": "string", "format": "date", "pattern": f"^{years}-{month_day}$"})


#: A calendar date from ``EARLIEST`` on (its upper bound, if any, is the caller's: e.g.
#: tomorrow).
DateSince1900 = Annotated[CalendarDate, _dates_of_years("(19|[2-9][0-9])[0-9]{2}")]
#: A calendar date from ``EARLIEST`` through ``LATEST_AS_OF``.
BoundedDate = Annotated[
    CalendarDate,
    Field(ge=EARLIEST, le=LATEST_AS_OF),
    _dates_of_years("(19[0-9]{2}|2[01][0-9]{2})"),
]

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def check_date_range(date_from: dt.date | None, date_to: dt.date | None) -> None:
    """``?from=&to=``: both inclusive; a range that ends before it starts is a 422."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise Invalid([(["query", "from"], "must not be after `to`")])


def unique(items: list[Any]) -> list[Any]:
    """A set given as a list: duplicates dropped, first-seen order kept."""
    return list(dict.fromkeys(items))


def offset_minutes(value: dt.datetime) -> int:
    offset = value.utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


def with_offset(utc_value: dt.datetime, minutes: int) -> dt.datetime:
    """A stored UTC instant shown again in the offset the client sent it with."""
    return utc_value.astimezone(fixed_zone(minutes))


def drop_server_fields(data: Any, derived: frozenset[str] = frozenset()) -> Any:
    """Ignore what the server owns (and fields it derives) in a body sent back as read."""
    if not isinstance(data, dict) or (SERVER_FIELDS.isdisjoint(data) and derived.isdisjoint(data)):
        return data  # nothing to drop: as given (most bodies; a batch has 500)
    return {k: v for k, v in data.items() if k not in SERVER_FIELDS and k not in derived}
