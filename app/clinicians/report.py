"""The patient report (contract §7): JSON with course summaries, a FHIR R4 Bundle, a chart.

The course summaries reuse the trend functions; the data comes in four queries whatever
the number of courses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from app.clinicians.schemas import CourseReport, PatientInfo, Report
from app.clinicians.service import users
from app.core.clock import utcnow
from app.core.database import Database
from app.core.errors import NotFound
from app.core.fields import check_date_range
from app.courses.schemas import CourseOut
from app.courses.service import courses
from app.diary.schemas import EntryOut
from app.diary.service import entries
from app.sessions.schemas import SessionOut
from app.sessions.service import sessions
from app.trends import stats
from app.trends.service import today_in
from app.trends.stats import EntryValues
from app.trends.summaries import CourseFacts, SessionFacts, course_sessions, course_summary

RECENT_DAYS = 28
CHART_DAYS_WITHOUT_COURSE = 90


@dataclass
class PatientData:
    patient: PatientInfo
    courses: list[CourseOut]
    entries: list[EntryOut]  # in local_date, recorded_at order
    sessions: list[SessionOut]  # in occurred_at order


async def load(
    db: Database,
    patient_id: uuid.UUID,
    *,
    entries_from: dt.date | None = None,
    entries_to: dt.date | None = None,
    sessions_from: dt.date | None = None,
    sessions_to: dt.date | None = None,
) -> PatientData:
    e, s, c = entries.table, sessions.table, courses.table
    async with db.read() as conn:
        person = (
            await conn.execute(
                sa.select(users.c.id, users.c.display_name, users.c.timezone).where(
                    users.c.id == patient_id
                )
            )
        ).first()
        if person is None:
            raise NotFound("No such patient.")
        course_rows = await conn.execute(
            sa.select(c).where(c.c.patient_id == patient_id).order_by(c.c.start_date, c.c.id)
        )
        course_list = [courses.public(r) for r in course_rows.mappings()]
        entry_query = _between(
            sa.select(e).where(e.c.patient_id == patient_id),
            e.c.local_date,
            entries_from,
            entries_to,
        )
        entry_rows = await conn.execute(entry_query.order_by(e.c.local_date, e.c.recorded_at))
        entry_list = [entries.public(r) for r in entry_rows.mappings()]
        session_query = _between(
            sa.select(s).where(s.c.patient_id == patient_id),
            s.c.local_date,
            sessions_from,
            sessions_to,
        )
        session_rows = await conn.execute(session_query.order_by(s.c.occurred_at, s.c.id))
        session_list = [sessions.public(r) for r in session_rows.mappings()]
    return PatientData(
        PatientInfo(id=person.id, display_name=person.display_name, timezone=person.timezone),
        course_list,
        entry_list,
        session_list,
    )


def _between(
    query: sa.Select[Any], column: Any, first: dt.date | None, last: dt.date | None
) -> sa.Select[Any]:
    if first:
        query = query.where(column >= first)
    if last:
        query = query.where(column <= last)
    return query


async def json_report(
    db: Database,
    patient_id: uuid.UUID,
    as_of: dt.date | None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Report:
    check_date_range(date_from, date_to)
    data = await load(db, patient_id)
    as_of = as_of or today_in(data.patient.timezone)
    values = [_values(entry) for entry in data.entries]
    reports = [
        CourseReport(
            course=course,
            summary=course_summary(
                CourseFacts(course.id, course.start_date, course.end_date, course.planned_sessions),
                values,
                [_session_facts(s) for s in data.sessions if s.course_id == course.id],
                as_of,
            ),
        )
        for course in data.courses
    ]
    first_recent = as_of - dt.timedelta(days=RECENT_DAYS - 1)
    recent = [e for e in data.entries if first_recent <= e.local_date <= as_of]
    recent.sort(key=lambda e: (e.local_date, e.recorded_at), reverse=True)
    return Report.model_construct(
        patient=data.patient,
        generated_at=utcnow(),
        as_of=as_of,
        courses=reports,
        recent_entries=recent,
        sessions=[
            s
            for s in data.sessions
            if (date_from is None or s.local_date >= date_from)
            and (date_to is None or s.local_date <= date_to)
        ],
    )


async def fhir_report(
    db: Database, patient_id: uuid.UUID, date_from: dt.date | None, date_to: dt.date | None
) -> dict[str, Any]:
    from app.clinicians.fhir import PatientRecord, fhir_bundle

    check_date_range(date_from, date_to)
    data = await load(
        db,
        patient_id,
        entries_from=date_from,
        entries_to=date_to,
        sessions_from=date_from,
        sessions_to=date_to,
    )
    record = PatientRecord(data.patient.id, data.patient.display_name, data.patient.timezone)
    # fhir.resources takes ~0.7 s per 1,000 entries: off the event loop, so other requests
    # are served meanwhile.
    return await run_in_threadpool(fhir_bundle, record, data.entries, data.sessions, utcnow())


async def chart(
    db: Database, patient_id: uuid.UUID, course_id: uuid.UUID | None, as_of: dt.date | None
) -> str:
    """Daily pain, its 7-day mean and the sessions over a course (the latest one unless
    ``course_id`` is given; the last 90 days when the patient has no course)."""
    from app.clinicians.chart import course_chart_svg

    data = await load(db, patient_id)
    as_of = as_of or today_in(data.patient.timezone)
    chosen = _choose_course(data.courses, course_id)
    days = stats.daily_series(_values(e) for e in data.entries)
    if chosen is None:
        start = as_of - dt.timedelta(days=CHART_DAYS_WITHOUT_COURSE - 1)
        return course_chart_svg(days, start=start, end=as_of, title="Daily pain")
    baseline, _ = stats.baseline_window(days, chosen.start_date)
    start = chosen.start_date - dt.timedelta(days=7)
    end = max(as_of, start)
    facts = CourseFacts(chosen.id, chosen.start_date, chosen.end_date, chosen.planned_sessions)
    # The sessions the summary counts, numbered as it numbers them.
    counted = course_sessions(
        facts, [_session_facts(s) for s in data.sessions if s.course_id == chosen.id], as_of
    )
    return course_chart_svg(
        days,
        start=start,
        end=end,
        sessions=counted,
        baseline=baseline,
        title=chosen.name,
        course_start=chosen.start_date,
    )


def _choose_course(
    course_list: Sequence[CourseOut], course_id: uuid.UUID | None
) -> CourseOut | None:
    if course_id is not None:
        for course in course_list:
            if course.id == course_id:
                return course
        raise NotFound(f"No treatment course with id {course_id}.")
    return course_list[-1] if course_list else None


def _values(entry: EntryOut) -> EntryValues:
    return EntryValues(
        local_date=entry.local_date,
        pain=entry.pain,
        pain_worst=entry.pain_worst,
        sleep_hours=entry.sleep_hours,
        sleep_quality=entry.sleep_quality,
        stress=entry.stress,
        as_needed=any(m.kind == "as_needed" for m in entry.medications),
        tags=tuple(entry.tags),
    )


def _session_facts(session: SessionOut) -> SessionFacts:
    return SessionFacts(
        session.id, session.occurred_at, session.local_date, session.pain_before, session.pain_after
    )
