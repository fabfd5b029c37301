"""Loading what a summary needs: the course with its sessions, then the entries, in two queries."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.core.cache import VersionedCache
from app.core.database import Database, table_of
from app.core.errors import Invalid, NotFound
from app.core.fields import check_date_range, with_offset
from app.core.http import render
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.records.models import ChangeCounter
from app.sessions.models import SessionEvent
from app.trends.schemas import CourseSummary
from app.trends.stats import EntryValues
from app.trends.summaries import CourseFacts, SessionFacts, course_summary, patient_summary

users = table_of(User)
courses = table_of(TreatmentCourse)
sessions = table_of(SessionEvent)
entries = table_of(DiaryEntry)
counters = table_of(ChangeCounter)

#: The longest window ``GET …/summary?from=&to=`` accepts.
MAX_WINDOW_DAYS = 3 * 366
DEFAULT_WINDOW_DAYS = 28


def today_in(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


async def data_version(conn: AsyncConnection, patient_id: uuid.UUID) -> tuple[int, str]:
    """``(change position, time zone)`` of a patient: the position moves with every write to
    the patient's entries, courses and sessions, so together with the day it identifies the
    exact data any summary is computed from."""
    row = (
        await conn.execute(
            sa.select(sa.func.coalesce(counters.c.position, 0), users.c.timezone)
            .select_from(users.outerjoin(counters, counters.c.patient_id == users.c.id))
            .where(users.c.id == patient_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such patient.")
    return int(row[0]), str(row[1])


async def course_summary_json(
    db: Database,
    cache: VersionedCache,
    patient_id: uuid.UUID,
    course_id: uuid.UUID,
    as_of: dt.date | None,
) -> bytes:
    """The rendered summary of one course ``as_of`` a date (default: today in the patient's
    zone), computed once per version of the patient's data and day."""
    async with db.read_autocommit() as conn:
        position, timezone = await data_version(conn, patient_id)
        as_of = as_of or today_in(timezone)
        key = ("course", patient_id, course_id, as_of, position)
        if (body := cache.get(key)) is not None:
            return body
        summary = await _course_summary(conn, patient_id, course_id, as_of)
    body = render(summary)
    cache.put(key, body)
    return body


async def _course_summary(
    conn: AsyncConnection, patient_id: uuid.UUID, course_id: uuid.UUID, as_of: dt.date
) -> CourseSummary:
    query = (
        sa.select(
            courses.c.start_date,
            courses.c.end_date,
            courses.c.planned_sessions,
            sessions.c.id.label("session_id"),
            sessions.c.occurred_at,
            sessions.c.occurred_offset_minutes,
            sessions.c.local_date,
            sessions.c.pain_before,
            sessions.c.pain_after,
        )
        .select_from(
            courses.outerjoin(
                sessions,
                sa.and_(
                    sessions.c.patient_id == courses.c.patient_id,
                    sessions.c.course_id == courses.c.id,
                ),
            )
        )
        .where(courses.c.patient_id == patient_id, courses.c.id == course_id)
    )
    rows = (await conn.execute(query)).all()
    if not rows:
        raise NotFound(f"No treatment course with id {course_id}.")
    first = rows[0]
    course = CourseFacts(course_id, first.start_date, first.end_date, first.planned_sessions)
    values = await _entry_values(conn, patient_id, course.start_date - dt.timedelta(days=7), as_of)
    course_sessions = [
        SessionFacts(
            id=r.session_id,
            occurred_at=with_offset(r.occurred_at, r.occurred_offset_minutes),
            local_date=r.local_date,
            pain_before=r.pain_before,
            pain_after=r.pain_after,
        )
        for r in rows
        if r.session_id is not None
    ]
    return course_summary(course, values, course_sessions, as_of)


async def patient_summary_json(
    db: Database,
    cache: VersionedCache,
    patient_id: uuid.UUID,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> bytes:
    """The rendered daily series, weekly means, trend and factors for ``[from, to]``
    (default: the last 28 days up to today in the patient's zone), computed once per
    version of the patient's data and day."""
    async with db.read_autocommit() as conn:
        position, timezone = await data_version(conn, patient_id)
        date_from, date_to = _window(date_from, date_to, timezone)
        key = ("window", patient_id, date_from, date_to, position)
        if (body := cache.get(key)) is not None:
            return body
        values = await _entry_values(conn, patient_id, date_from, date_to)
    body = render(patient_summary(values, date_from, date_to))
    cache.put(key, body)
    return body


def _window(
    date_from: dt.date | None, date_to: dt.date | None, timezone: str
) -> tuple[dt.date, dt.date]:
    """``(from, to)`` with their defaults, checked."""
    date_to = date_to or today_in(timezone)
    date_from = date_from or date_to - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    check_date_range(date_from, date_to)
    if (date_to - date_from).days >= MAX_WINDOW_DAYS:
        raise Invalid([(["query", "from"], f"the window is limited to {MAX_WINDOW_DAYS} days")])
    return date_from, date_to


async def _entry_values(
    conn: AsyncConnection, patient_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[EntryValues]:
    # Only a flag of the medications, and the tags as text: decoding two JSON documents per
    # entry was most of this query's cost for a year of diary.
    rows = await conn.execute(
        sa.select(
            entries.c.local_date,
            entries.c.pain,
            entries.c.pain_worst,
            entries.c.sleep_hours,
            entries.c.sleep_quality,
            entries.c.stress,
            _takes_as_needed(conn.dialect.name).label("as_needed"),
            sa.cast(entries.c.tags, sa.Text).label("tags"),
        ).where(
            entries.c.patient_id == patient_id,
            entries.c.local_date >= first,
            entries.c.local_date <= last,
        )
    )
    return [
        EntryValues(
            local_date=r.local_date,
            pain=r.pain,
            pain_worst=r.pain_worst,
            sleep_hours=r.sleep_hours,
            sleep_quality=r.sleep_quality,
            stress=r.stress,
            as_needed=bool(r.as_needed),
            tags=() if r.tags in ("[]", None) else tuple(json.loads(r.tags)),
        )
        for r in rows
    ]


def _takes_as_needed(dialect: str) -> sa.ColumnElement[bool]:
    """Whether an entry lists an as-needed medication, decided by the database."""
    if dialect == "postgresql":
        return entries.c.medications.op("@>")(sa.cast(sa.literal('[{"kind": "as_needed"}]'), JSONB))
    listed = sa.func.json_each(entries.c.medications).table_valued("value").alias("medication")
    return sa.exists(
        sa.select(1)
        .select_from(listed)
        .where(sa.func.json_extract(listed.c.value, "$.kind") == "as_needed")
    )
