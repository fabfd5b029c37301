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
from app.core.database import Database, table_of
from app.core.errors import Invalid, NotFound
from app.core.fields import check_date_range, with_offset
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.sessions.models import SessionEvent
from app.trends.schemas import CourseSummary, PatientSummary
from app.trends.stats import EntryValues
from app.trends.summaries import CourseFacts, SessionFacts, course_summary, patient_summary

users = table_of(User)
courses = table_of(TreatmentCourse)
sessions = table_of(SessionEvent)
entries = table_of(DiaryEntry)

#: The longest window ``GET …/summary?from=&to=`` accepts.
MAX_WINDOW_DAYS = 3 * 366
DEFAULT_WINDOW_DAYS = 28


def today_in(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


async def load_course_summary(
    db: Database, patient_id: uuid.UUID, course_id: uuid.UUID, as_of: dt.date | None
) -> CourseSummary:
    """The summary of one course ``as_of`` a date (default: today in the patient's zone)."""
    query = (
        sa.select(
            courses.c.start_date,
            courses.c.end_date,
            courses.c.planned_sessions,
            users.c.timezone,
            sessions.c.id.label("session_id"),
            sessions.c.occurred_at,
            sessions.c.occurred_offset_minutes,
            sessions.c.local_date,
            sessions.c.pain_before,
            sessions.c.pain_after,
        )
        .select_from(
            courses.join(users, users.c.id == courses.c.patient_id).outerjoin(
                sessions,
                sa.and_(
                    sessions.c.patient_id == courses.c.patient_id,
                    sessions.c.course_id == courses.c.id,
                ),
            )
        )
        .where(courses.c.patient_id == patient_id, courses.c.id == course_id)
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
        if not rows:
            raise NotFound(f"No treatment course with id {course_id}.")
        first = rows[0]
        as_of = as_of or today_in(first.timezone)
        course = CourseFacts(course_id, first.start_date, first.end_date, first.planned_sessions)
        values = await _entry_values(
            conn, patient_id, course.start_date - dt.timedelta(days=7), as_of
        )
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


async def load_patient_summary(
    db: Database, patient_id: uuid.UUID, date_from: dt.date | None, date_to: dt.date | None
) -> PatientSummary:
    """Daily series, weekly means, trend and factors for ``[from, to]`` (default: the last
    28 days up to today in the patient's zone)."""
    async with db.read() as conn:
        if date_to is None:
            timezone = (
                await conn.execute(sa.select(users.c.timezone).where(users.c.id == patient_id))
            ).scalar_one_or_none()
            if timezone is None:
                raise NotFound("No such patient.")
            date_to = today_in(timezone)
        date_from = date_from or date_to - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1)
        check_date_range(date_from, date_to)
        if (date_to - date_from).days >= MAX_WINDOW_DAYS:
            raise Invalid([(["query", "from"], f"the window is limited to {MAX_WINDOW_DAYS} days")])
        values = await _entry_values(conn, patient_id, date_from, date_to)
    return patient_summary(values, date_from, date_to)


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
