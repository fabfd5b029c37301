"""GET …/entries.csv: every entry field, one row per entry, streamed in pages so years of
diary never sit in memory at once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa

from app.core.database import Database
from app.diary.schemas import EntryOut
from app.diary.service import entries

PAGE = 1000
COLUMNS = [
    "id", "recorded_at", "local_date", "pain", "pain_worst", "sites", "sleep_hours",
    "sleep_quality", "stress", "mood", "activity_interference", "enjoyment_interference",
    "medications", "tags", "notes", "backfilled", "version", "created_at", "updated_at",
]  # fmt: skip
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def site_text(site: Any) -> str:
    """``region[/side][@intensity][:quality+quality]``, e.g. ``neck/left@6:aching+stiff``."""
    text = site.region
    if site.side:
        text += f"/{site.side}"
    if site.intensity is not None:
        text += f"@{site.intensity}"
    if site.qualities:
        text += ":" + "+".join(site.qualities)
    return text


def medication_text(medication: Any) -> str:
    """``name dose unit (kind)``, e.g. ``ibuprofen 400 mg (as_needed)``."""
    parts = [medication.name]
    if medication.dose is not None:
        parts.append(f"{medication.dose:g}")
    if medication.unit:
        parts.append(medication.unit)
    return " ".join(parts) + f" ({medication.kind})"


def safe_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def entry_row(entry: EntryOut) -> list[Any]:
    return [
        entry.id,
        entry.recorded_at.isoformat(),
        entry.local_date.isoformat(),
        entry.pain,
        _blank(entry.pain_worst),
        ";".join(site_text(s) for s in entry.sites),
        _blank(entry.sleep_hours),
        _blank(entry.sleep_quality),
        _blank(entry.stress),
        _blank(entry.mood),
        _blank(entry.activity_interference),
        _blank(entry.enjoyment_interference),
        safe_text(";".join(medication_text(m) for m in entry.medications)),
        safe_text(";".join(entry.tags)),
        safe_text(entry.notes or ""),
        "true" if entry.backfilled else "false",
        entry.version,
        entry.created_at.isoformat(),
        entry.updated_at.isoformat(),
    ]


async def entries_csv(
    db: Database, patient_id: uuid.UUID, date_from: dt.date | None, date_to: dt.date | None
) -> AsyncIterator[bytes]:
    """The CSV text in chunks, oldest entry first; each page is one short query."""
    table = entries.table
    order = (table.c.local_date, table.c.recorded_at, table.c.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table).where(table.c.patient_id == patient_id)
        if date_from:
            query = query.where(table.c.local_date >= date_from)
        if date_to:
            query = query.where(table.c.local_date <= date_to)
        if after is not None:
            query = query.where(sa.tuple_(*order) > sa.tuple_(*after))
        async with db.read() as conn:
            rows = (await conn.execute(query.order_by(*order).limit(PAGE))).mappings().all()
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow(entry_row(entries.public(row)))
        yield buffer.getvalue().encode()
        last = rows[-1]
        after = (last["local_date"], last["recorded_at"], last["id"])
        if len(rows) < PAGE:
            return


def _blank(value: Any) -> Any:
    return "" if value is None else value
