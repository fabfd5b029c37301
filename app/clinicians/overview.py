"""GET /v1/patients: a clinician's linked patients at a glance, in three queries however
many patients there are (no query per patient)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.access.service import links
from app.clinicians.schemas import ActiveCourse, PatientOverview
from app.clinicians.service import users
from app.core.cache import VersionedCache
from app.core.database import Database, table_of
from app.core.http import render
from app.core.pagination import Page, encode_cursor
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.records.models import ChangeCounter
from app.trends import stats

courses = table_of(TreatmentCourse)
entries = table_of(DiaryEntry)
counters = table_of(ChangeCounter)

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


async def patient_list_json(
    db: Database,
    cache: VersionedCache,
    clinician_id: uuid.UUID,
    sort: Sort,
    offset: int,
    limit: int,
) -> bytes:
    """One rendered page of the clinician's patient list, computed once per version of the
    linked patients' data and quarter hour (see ``list_version``)."""
    async with db.read_autocommit() as conn:
        now = dt.datetime.now(dt.UTC)
        key = (
            "patients", clinician_id, sort, offset, limit,
            await list_version(conn, clinician_id), quarter_hour(now),
        )  # fmt: skip
        if (body := cache.get(key)) is not None:
            return body
        everyone = await _overviews(conn, db.dialect, clinician_id, sort, now)
    page = everyone[offset : offset + limit]
    more = offset + limit < len(everyone)
    next_cursor = encode_cursor([offset + limit]) if more else None
    body = render(Page[PatientOverview](items=page, next_cursor=next_cursor))
    cache.put(key, body)
    return body


async def list_version(conn: AsyncConnection, clinician_id: uuid.UUID) -> tuple[Any, ...]:
    """What the list is computed from, in one row: the linked patients' change positions
    (every write to entries, courses or sessions advances one), account versions (name, time
    zone), and the link set (a new link has the newest ``linked_at``; a revoked one lowers
    the count). Positions and versions only grow, so any change changes the sums."""
    row = (
        await conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(counters.c.position), 0),
                sa.func.coalesce(sa.func.sum(users.c.version), 0),
                sa.func.max(links.c.linked_at),
            )
            .select_from(
                links.join(users, users.c.id == links.c.patient_id).outerjoin(
                    counters, counters.c.patient_id == links.c.patient_id
                )
            )
            .where(links.c.clinician_id == clinician_id)
        )
    ).one()
    return tuple(row)


def quarter_hour(now: dt.datetime) -> dt.datetime:
    """Every UTC offset in use is a multiple of 15 minutes, so no zone's date changes within
    one quarter hour of UTC: the list's "today"s are fixed for the whole quarter."""
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


async def _overviews(
    conn: AsyncConnection, dialect: str, clinician_id: uuid.UUID, sort: Sort, now: dt.datetime
) -> list[PatientOverview]:
    utc_today = now.date()
    linked = links.c.clinician_id == clinician_id
    last_entry = (
        sa.select(entries.c.patient_id, sa.func.max(entries.c.local_date).label("last"))
        .where(entries.c.patient_id.in_(sa.select(links.c.patient_id).where(linked)))
        .group_by(entries.c.patient_id)
        .subquery()
    )
    people = (
        await conn.execute(
            sa.select(users.c.id, users.c.display_name, users.c.timezone, last_entry.c.last)
            .join(links, links.c.patient_id == users.c.id)
            .outerjoin(last_entry, last_entry.c.patient_id == users.c.id)
            .where(linked)
        )
    ).all()
    patients = {
        p.id: _Patient(p.id, p.display_name, now.astimezone(ZoneInfo(p.timezone)).date(), p.last)
        for p in people
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
