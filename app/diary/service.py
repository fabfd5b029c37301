"""Diary entry rules: dates, the back-fill flag, and how entries are stored and shown."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import table_of
from app.core.errors import Invalid
from app.core.fields import EARLIEST, fixed_zone, offset_minutes, with_offset
from app.diary.models import DiaryEntry
from app.diary.schemas import EntryIn, EntryOut
from app.records.service import RecordKind

MAX_FUTURE = dt.timedelta(hours=24)
BACKFILL_AFTER = dt.timedelta(hours=24)
ONE_DAY = dt.timedelta(days=1)
MIDNIGHT = dt.time()

_SCALARS = (
    "pain", "pain_worst", "sleep_hours", "sleep_quality", "stress", "mood",
    "activity_interference", "enjoyment_interference", "notes",
)  # fmt: skip


def entry_local_date(recorded_at: dt.datetime, given: dt.date | None) -> dt.date:
    """The day an entry is about: as given (a back-filled entry), else ``recorded_at``'s
    calendar date in the offset it was sent with."""
    return given if given is not None else recorded_at.date()


def is_backfilled(local_date: dt.date, offset_min: int, received_at: dt.datetime) -> bool:
    """Received more than 24 h after the end of ``local_date`` (in the entry's own offset)."""
    end_of_day = dt.datetime.combine(local_date + ONE_DAY, MIDNIGHT, fixed_zone(offset_min))
    return received_at > end_of_day + BACKFILL_AFTER


def check_entry_dates(body: EntryIn, local_date: dt.date, now: dt.datetime) -> None:
    errors: list[tuple[list[str | int], str]] = []
    if body.recorded_at > now + MAX_FUTURE:
        errors.append((["body", "recorded_at"], "must not be more than 24 h in the future"))
    latest = now.date() + ONE_DAY
    if not EARLIEST <= local_date <= latest:
        errors.append((["body", "local_date"], f"must be between 1900-01-01 and {latest}"))
    if errors:
        raise Invalid(errors)


class EntryKind(RecordKind[EntryIn, EntryOut]):
    name = "entry"
    label = "diary entry"
    collection = "entries"
    table = table_of(DiaryEntry)
    schema = EntryIn
    order = ("local_date", "recorded_at", "id")
    date_column = "local_date"

    async def prepare(
        self,
        conn: AsyncConnection,
        patient_id: uuid.UUID,
        body: EntryIn,
        existing: RowMapping | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        local_date = entry_local_date(body.recorded_at, body.local_date)
        check_entry_dates(body, local_date, now)
        offset = offset_minutes(body.recorded_at)
        received_at = now if existing is None else existing["created_at"]
        values: dict[str, Any] = {name: getattr(body, name) for name in _SCALARS}
        values |= {
            "recorded_at": body.recorded_at.astimezone(dt.UTC),
            "recorded_offset_minutes": offset,
            "local_date": local_date,
            "sites": [s.model_dump(mode="json", exclude_none=True) for s in body.sites],
            "medications": [m.model_dump(mode="json", exclude_none=True) for m in body.medications],
            "tags": list(body.tags),
            "backfilled": is_backfilled(local_date, offset, received_at),
        }
        return values

    def editable(self, row: RowMapping) -> dict[str, Any]:
        out = self.public(row).model_dump(mode="json", exclude_none=True)
        for server_field in ("patient_id", "version", "created_at", "updated_at", "backfilled"):
            out.pop(server_field, None)
        if row["local_date"] == out_recorded_date(row):
            # A derived date must follow `recorded_at` when a patch moves it.
            out.pop("local_date")
        return out

    def public(self, row: Mapping[Any, Any]) -> EntryOut:
        data = dict(row)
        data["recorded_at"] = with_offset(row["recorded_at"], row["recorded_offset_minutes"])
        return EntryOut.model_validate(data)


def out_recorded_date(row: Mapping[Any, Any]) -> dt.date:
    return with_offset(row["recorded_at"], row["recorded_offset_minutes"]).date()


entries = EntryKind()
