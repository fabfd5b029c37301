"""GET /v1/patients: a clinician's linked patients at a glance, in three queries however
many patients there are (no query per patient)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from app.clinicians.schemas import ActiveCourse, PatientOverview
from app.clinicians.service import links, users
from app.core.database import Database, table_of
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.trends import stats
from app.trends.service import today_in

courses = table_of(TreatmentCourse)
entries = table_of(DiaryEntry)

SILENT_AFTER_DAYS = 7
Sort = Literal["name", "attention"]


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


async def patient_overviews(
    db: Database, clinician_id: uuid.UUID, sort: Sort = "name"
) -> list[PatientOverview]:
    linked = links.c.clinician_id == clinician_id
    last_entry = (
        sa.select(entries.c.patient_id, sa.func.max(entries.c.local_date).label("last"))
        .where(entries.c.patient_id.in_(sa.select(links.c.patient_id).where(linked)))
        .group_by(entries.c.patient_id)
        .subquery()
    )
    utc_today = dt.datetime.now(dt.UTC).date()
    async with db.read() as conn:
        people = (
            await conn.execute(
                sa.select(users.c.id, users.c.display_name, users.c.timezone, last_entry.c.last)
                .join(links, links.c.patient_id == users.c.id)
                .outerjoin(last_entry, last_entry.c.patient_id == users.c.id)
                .where(linked)
            )
        ).all()
        patients = {
            p.id: _Patient(p.id, p.display_name, today_in(p.timezone), p.last) for p in people
        }
        if not patients:
            return []
        running_filter = sa.and_(
            courses.c.start_date <= utc_today + dt.timedelta(days=1),
            sa.or_(
                courses.c.end_date.is_(None),
                courses.c.end_date >= utc_today - dt.timedelta(days=1),
            ),
        )
        running = (
            await conn.execute(
                sa.select(courses.c.patient_id, courses.c.id, courses.c.name, courses.c.start_date)
                .join(links, links.c.patient_id == courses.c.patient_id)
                .where(linked, running_filter)
            )
        ).all()
        # Daily pain (sum and count) for the last week — every zone's "today" lies within a
        # day of UTC's — and for the baseline windows of running courses, in one query.
        in_a_baseline = sa.exists().where(
            courses.c.patient_id == entries.c.patient_id,
            running_filter,
            entries.c.local_date >= shifted(courses.c.start_date, -7, db.dialect),
            entries.c.local_date <= shifted(courses.c.start_date, 6, db.dialect),
        )
        day_rows = (
            await conn.execute(
                sa.select(
                    entries.c.patient_id,
                    entries.c.local_date,
                    sa.func.sum(entries.c.pain).label("pain_sum"),
                    sa.func.count().label("n"),
                )
                .join(links, links.c.patient_id == entries.c.patient_id)
                .where(
                    linked,
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
    overviews = [_overview(p, days.get(p.id, []), active.get(p.id)) for p in patients.values()]
    return sorted(overviews, key=_attention_key if sort == "attention" else _name_key)


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
    attention: list[Literal["worse", "silent", "not_responding"]] = []
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
