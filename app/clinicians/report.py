"""The patient report (contract §7): JSON with course summaries, and its chart (the FHIR
Bundle is streamed by ``fhir_export.py``).

The course summaries reuse the trend functions; the data comes in a few queries whatever
the number of courses, and the summaries and chart are computed off the event loop.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clinicians.chart import course_chart_svg
from app.clinicians.schemas import CourseReport, PatientInfo, Report
from app.clinicians.service import users
from app.core.clock import utcnow
from app.core.database import Database
from app.core.errors import NotFound
from app.core.fields import check_date_range
from app.core.http import render
from app.core.workers import HeavyWork
from app.courses.schemas import CourseOut
from app.courses.service import courses
from app.diary.schemas import EntryOut
from app.diary.service import entries
from app.sessions.schemas import SessionOut
from app.sessions.service import sessions
from app.trends import stats
from app.trends.service import checked_as_of, daily_series
from app.trends.summaries import (
    CourseFacts,
    SessionFacts,
    course_ranges,
    course_sessions,
    course_summary,
    merge_ranges,
    series_start,
)

RECENT_DAYS = 28
CHART_DAYS_WITHOUT_COURSE = 90
WEEK = dt.timedelta(days=7)
ONE_DAY = dt.timedelta(days=1)
#: The chart's 7-day mean counts the days of the week before its first day.
TRAILING = dt.timedelta(days=6)


async def json_report(
    db: Database,
    heavy: HeavyWork,
    patient_id: uuid.UUID,
    as_of: dt.date | None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> bytes:
    """The rendered JSON report: each course with its summary ``as_of`` a date (default:
    today in the patient's zone, no later than tomorrow there), the last 28 days' entries
    and the sessions (bounded by ``from``/``to``). Reads the daily series the summaries
    need, not the whole diary."""
    check_date_range(date_from, date_to)
    async with db.read() as conn:
        patient = await _patient(conn, patient_id)
        as_of = checked_as_of(as_of, patient.timezone)
        course_list = await _courses(conn, patient_id)
        session_list = await _sessions(conn, patient_id)
        facts = [_course_facts(c) for c in course_list]
        wanted = merge_ranges(r for f in facts for r in course_ranges(f, as_of))
        days = await daily_series(db, conn, patient_id, wanted)
        first_recent = as_of - dt.timedelta(days=RECENT_DAYS - 1)
        recent = await _entries(conn, patient_id, first_recent, as_of)
    return await heavy.run(
        _render_report, patient, facts, course_list, session_list, days, recent, as_of,
        (date_from, date_to),
    )  # fmt: skip


def _render_report(
    patient: PatientInfo,
    facts: list[CourseFacts],
    course_list: list[CourseOut],
    session_list: list[SessionOut],
    days: list[stats.Day],
    recent: list[EntryOut],
    as_of: dt.date,
    bounds: tuple[dt.date | None, dt.date | None],
) -> bytes:
    date_from, date_to = bounds
    reports = [
        CourseReport(
            course=course,
            summary=course_summary(
                fact,
                days,
                [_session_facts(s) for s in session_list if s.course_id == course.id],
                as_of,
            ),
        )
        for fact, course in zip(facts, course_list, strict=True)
    ]
    recent.sort(key=lambda e: (e.local_date, e.recorded_at), reverse=True)
    report = Report.model_construct(
        patient=patient,
        generated_at=utcnow(),
        as_of=as_of,
        courses=reports,
        recent_entries=recent,
        sessions=[
            s
            for s in session_list
            if (date_from is None or s.local_date >= date_from)
            and (date_to is None or s.local_date <= date_to)
        ],
    )
    return render(report)


async def chart(
    db: Database,
    heavy: HeavyWork,
    patient_id: uuid.UUID,
    course_id: uuid.UUID | None,
    as_of: dt.date | None,
) -> str:
    """Daily pain, its 7-day mean and the sessions over a course (the latest one unless
    ``course_id`` is given; the last 90 days when the patient has no course), over at most
    the days a course summary covers."""
    async with db.read() as conn:
        patient = await _patient(conn, patient_id)
        as_of = checked_as_of(as_of, patient.timezone)
        chosen = _choose_course(await _courses(conn, patient_id), course_id)
        if chosen is None:
            start = as_of - dt.timedelta(days=CHART_DAYS_WITHOUT_COURSE - 1)
            days = await daily_series(db, conn, patient_id, [(start - TRAILING, as_of)])
            return await heavy.run(
                course_chart_svg, days, start=start, end=as_of, title="Daily pain"
            )
        facts = _course_facts(chosen)
        start, _ = series_start(facts, as_of)
        end = max(as_of, start)
        baseline_weeks = (chosen.start_date - WEEK, chosen.start_date + WEEK - ONE_DAY)
        days = await daily_series(
            db, conn, patient_id, merge_ranges([(start - TRAILING, end), baseline_weeks])
        )
        session_list = await _sessions(conn, patient_id, course_id=chosen.id)
    baseline, _ = stats.baseline_window(days, chosen.start_date)
    # The sessions the summary counts, numbered as it numbers them.
    counted = course_sessions(facts, [_session_facts(s) for s in session_list], as_of)
    return await heavy.run(
        course_chart_svg,
        days,
        start=start,
        end=end,
        sessions=counted,
        baseline=baseline,
        title=chosen.name,
        course_start=chosen.start_date,
    )


async def _patient(conn: AsyncConnection, patient_id: uuid.UUID) -> PatientInfo:
    person = (
        await conn.execute(
            sa.select(users.c.id, users.c.display_name, users.c.timezone).where(
                users.c.id == patient_id
            )
        )
    ).first()
    if person is None:
        raise NotFound("No such patient.")
    return PatientInfo(id=person.id, display_name=person.display_name, timezone=person.timezone)


async def _courses(conn: AsyncConnection, patient_id: uuid.UUID) -> list[CourseOut]:
    c = courses.table
    rows = await conn.execute(
        sa.select(c).where(c.c.patient_id == patient_id).order_by(c.c.start_date, c.c.id)
    )
    return [courses.public(r) for r in rows.mappings()]


async def _sessions(
    conn: AsyncConnection, patient_id: uuid.UUID, *, course_id: uuid.UUID | None = None
) -> list[SessionOut]:
    s = sessions.table
    query = sa.select(s).where(s.c.patient_id == patient_id)
    if course_id is not None:
        query = query.where(s.c.course_id == course_id)
    rows = await conn.execute(query.order_by(s.c.occurred_at, s.c.id))
    return [sessions.public(r) for r in rows.mappings()]


async def _entries(
    conn: AsyncConnection, patient_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[EntryOut]:
    e = entries.table
    query = sa.select(e).where(e.c.patient_id == patient_id, e.c.local_date.between(first, last))
    rows = await conn.execute(query.order_by(e.c.local_date, e.c.recorded_at))
    return [entries.public(r) for r in rows.mappings()]


def _course_facts(course: CourseOut) -> CourseFacts:
    return CourseFacts(course.id, course.start_date, course.end_date, course.planned_sessions)


def _choose_course(
    course_list: Sequence[CourseOut], course_id: uuid.UUID | None
) -> CourseOut | None:
    if course_id is not None:
        for course in course_list:
            if course.id == course_id:
                return course
        raise NotFound(f"No treatment course with id {course_id}.")
    return course_list[-1] if course_list else None


def _session_facts(session: SessionOut) -> SessionFacts:
    return SessionFacts(
        session.id, session.occurred_at, session.local_date, session.pain_before, session.pain_after
    )
