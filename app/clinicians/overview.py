"""GET /v1/patients: a clinician's linked patients at a glance, each patient's row kept per
version of that patient's data, so that a page costs what changed, not the whole clinic.

A row (last entry date, 7-day mean, active course, attention) is computed from one
patient's entries and courses, name and time zone, and "today". Its key says exactly that:
the patient's change position (every write to entries, courses and sessions advances it),
account version (name, time zone), local date (the 7-day window and the silence) and UTC's
date (a course counts as running until the day after its ``end_date`` by UTC's calendar).
A request lists the linked patients with those keys in one query, takes the rows whose key
is known from the process's bounded store (``PatientRows``), computes the others in three
set-based queries restricted to those patients, then sorts and pages.

A key names the data version, so nothing is ever invalidated: an outdated row is simply
never asked for again and ages out of the LRU, and each process (or replica) keeps its own
store without any need to agree. The recomputing queries run after the listing one (no
common snapshot), so a row may hold data newer than its key's position, never older.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.access.service import links
from app.clinicians.schemas import ActiveCourse, Attention, PatientOverview, PatientSort
from app.clinicians.service import users
from app.core.cache import VersionedCache
from app.core.database import Database, table_of
from app.core.http import render
from app.core.pagination import encode_cursor
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.records.models import ChangeCounter
from app.trends import stats

courses = table_of(TreatmentCourse)
entries = table_of(DiaryEntry)
counters = table_of(ChangeCounter)

SILENT_AFTER_DAYS = 7
#: Rows a process keeps: a row with its key is about 1.1 KB, so at most about 11 MB.
ROWS_KEPT = 10_000
#: Patients per recomputing query (bind parameters stay far below every driver's limit).
IDS_PER_QUERY = 1000
#: (patient id, change position, account version, patient's local date, UTC's date)
RowKey = tuple[uuid.UUID, int | None, int, dt.date, dt.date]


@dataclass(frozen=True, slots=True)
class Row:
    """One patient's item of the list, rendered, with its places in both sort orders."""

    json: bytes
    name_key: tuple[Any, ...]
    attention_key: tuple[Any, ...]


class PatientRows(VersionedCache[RowKey, Row]):
    """The process's rows of every clinician's list: at most ``max_rows`` of them."""

    def __init__(self, max_rows: int = ROWS_KEPT) -> None:
        super().__init__(max_rows)

    @property
    def max_rows(self) -> int:
        return self.max_entries


class _Linked(NamedTuple):
    """A linked patient as the first query lists them, and the key of their row."""

    id: uuid.UUID
    display_name: str | None
    today: dt.date
    key: RowKey


@dataclass
class _Patient:
    id: uuid.UUID
    display_name: str | None
    today: dt.date
    last_entry_date: dt.date | None = None


def shifted(column: Any, days: int, dialect: str) -> Any:
    """``column + days`` for a DATE column, in the dialect's own date arithmetic."""
    if dialect == "sqlite":
        return sa.func.date(column, f"{days:+d} days")
    return column + sa.literal(days, sa.Integer)


async def patient_list_json(
    db: Database,
    rows: PatientRows,
    clinician_id: uuid.UUID,
    sort: PatientSort,
    offset: int,
    limit: int,
    now: dt.datetime | None = None,
) -> bytes:
    """One rendered page of the clinician's patient list: one query when no linked patient
    changed, four when some did (the three recomputing ones restricted to those patients)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    async with db.read_autocommit() as conn:
        linked = await _linked(db, conn, clinician_id, now)
        found = {p.id: row for p in linked if (row := rows.get(p.key)) is not None}
        changed = [p for p in linked if p.id not in found]
        for start in range(0, len(changed), IDS_PER_QUERY):
            chunk = changed[start : start + IDS_PER_QUERY]
            computed = await _rows(conn, db.dialect, chunk, now)
            for p in chunk:
                rows.put(p.key, computed[p.id])
            found |= computed
    ordered = sorted(
        found.values(), key=attrgetter("attention_key" if sort == "attention" else "name_key")
    )
    more = offset + limit < len(ordered)
    return _page_json(
        ordered[offset : offset + limit], encode_cursor([offset + limit]) if more else None
    )


def _page_json(items: Sequence[Row], next_cursor: str | None) -> bytes:
    """``Page[PatientOverview]`` as ``render`` writes it, from items rendered earlier."""
    cursor = b"null" if next_cursor is None else b'"' + next_cursor.encode() + b'"'
    return (
        b'{"items":[' + b",".join(item.json for item in items) + b'],"next_cursor":' + cursor + b"}"
    )


async def _linked(
    db: Database, conn: AsyncConnection, clinician_id: uuid.UUID, now: dt.datetime
) -> list[_Linked]:
    """The linked patients with what their rows are computed from, in one query (on the
    driver: a clinic's hundreds of rows without SQLAlchemy's per-row result processing)."""
    people = await db.all_rows(conn, _LINKED, {"clinician_id": clinician_id})
    utc_today = now.date()
    today_in: dict[str, dt.date] = {}  # a clinic's patients share a few zones
    linked = []
    for row in people:
        patient_id, display_name, timezone, version, position = row.values()
        today = today_in.get(timezone)
        if today is None:
            today = today_in[timezone] = now.astimezone(ZoneInfo(timezone)).date()
        key = (patient_id, position, version, today, utc_today)
        linked.append(_Linked(patient_id, display_name, today, key))
    return linked


_LINKED = (
    sa.select(
        users.c.id, users.c.display_name, users.c.timezone, users.c.version, counters.c.position
    )
    .select_from(
        links.join(users, users.c.id == links.c.patient_id).outerjoin(
            counters, counters.c.patient_id == links.c.patient_id
        )
    )
    .where(links.c.clinician_id == sa.bindparam("clinician_id"))
)


async def _rows(
    conn: AsyncConnection, dialect: str, linked: list[_Linked], now: dt.datetime
) -> dict[uuid.UUID, Row]:
    """The rows of these patients, in three queries however many they are."""
    utc_today = now.date()
    ids = [p.id for p in linked]
    last_entries = await conn.execute(
        sa.select(entries.c.patient_id, sa.func.max(entries.c.local_date).label("last"))
        .where(entries.c.patient_id.in_(ids))
        .group_by(entries.c.patient_id)
    )
    last = {row.patient_id: row.last for row in last_entries}
    patients = {p.id: _Patient(p.id, p.display_name, p.today, last.get(p.id)) for p in linked}
    running_filter = sa.and_(
        courses.c.start_date <= utc_today + dt.timedelta(days=1),
        sa.or_(
            courses.c.end_date.is_(None),
            courses.c.end_date >= utc_today - dt.timedelta(days=1),
        ),
    )
    running = (
        await conn.execute(
            sa.select(
                courses.c.patient_id, courses.c.id, courses.c.name, courses.c.start_date
            ).where(courses.c.patient_id.in_(ids), running_filter)
        )
    ).all()
    # Daily pain (sum and count) for the last week — every zone's "today" lies within a
    # day of UTC's — and for the baseline windows of running courses, in one query.
    in_a_baseline = sa.exists().where(
        courses.c.patient_id == entries.c.patient_id,
        running_filter,
        entries.c.local_date >= shifted(courses.c.start_date, -7, dialect),
        entries.c.local_date <= shifted(courses.c.start_date, 6, dialect),
    )
    day_rows = (
        await conn.execute(
            sa.select(
                entries.c.patient_id,
                entries.c.local_date,
                sa.func.sum(entries.c.pain).label("pain_sum"),
                sa.func.count().label("n"),
            )
            .where(
                entries.c.patient_id.in_(ids),
                sa.or_(entries.c.local_date >= utc_today - dt.timedelta(days=8), in_a_baseline),
            )
            .group_by(entries.c.patient_id, entries.c.local_date)
        )
    ).all()

    days: dict[uuid.UUID, list[stats.Day]] = defaultdict(list)
    for row in sorted(day_rows, key=lambda r: r.local_date):
        pain = row.pain_sum / row.n
        days[row.patient_id].append(stats.Day(row.local_date, pain, pain, None, None, None, False))
    active: dict[uuid.UUID, Any] = {}
    for course in running:
        today = patients[course.patient_id].today
        current = active.get(course.patient_id)
        if course.start_date <= today and (
            current is None or course.start_date > current.start_date
        ):
            active[course.patient_id] = course
    return {
        p.id: _row(_overview(p, days.get(p.id, []), active.get(p.id))) for p in patients.values()
    }


def _row(overview: PatientOverview) -> Row:
    return Row(render(overview), _name_key(overview), _attention_key(overview))


def _overview(patient: _Patient, days: list[stats.Day], course: Any) -> PatientOverview:
    today = patient.today
    week = stats.window(days, today - dt.timedelta(days=6), today)
    active = None
    category = None
    if course is not None:
        baseline, _ = stats.baseline_window(days, course.start_date)
        current = stats.current_window(days, today)
        _, pct = stats.reduction(
            baseline.pain_mean if baseline else None, current.pain_mean if current else None
        )
        pct = None if pct is None else round(pct, 3)
        category = stats.category(pct)
        active = ActiveCourse(id=course.id, name=course.name, reduction_pct=pct, category=category)
    attention: list[Attention] = []
    if category == "worse":
        attention.append("worse")
    last = patient.last_entry_date
    if last is None or (today - last).days >= SILENT_AFTER_DAYS:
        attention.append("silent")
    if active is not None and category in (None, "unchanged", "minimal"):
        attention.append("not_responding")
    return PatientOverview(
        patient_id=patient.id,
        display_name=patient.display_name,
        last_entry_date=last,
        pain_7d_mean=None if week.pain_mean is None else round(week.pain_mean, 3),
        active_course=active,
        attention=attention,
    )


def _name_key(o: PatientOverview) -> tuple[Any, ...]:
    return ((o.display_name or "").casefold(), str(o.patient_id))


def _attention_key(o: PatientOverview) -> tuple[Any, ...]:
    """Worse first, then silent (longest silence first), then not responding, then the rest."""
    rank = (
        0
        if "worse" in o.attention
        else 1
        if "silent" in o.attention
        else (2 if "not_responding" in o.attention else 3)
    )
    silence = -(o.last_entry_date.toordinal()) if o.last_entry_date else -(10**9)
    return (rank, silence if rank == 1 else 0, *_name_key(o))
