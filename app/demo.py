"""``paindiary demo``: a demonstration patient with a course of eight weekly acupuncture
sessions for chronic neck pain — a baseline week, gaps, several entries on some days and a
follow-up period — so that a fresh ``make run`` shows a meaningful summary at once."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import sqlalchemy as sa

from app.accounts import service as accounts
from app.accounts.models import User
from app.accounts.schemas import Registration
from app.core.database import Database, create_engine, table_of
from app.core.security import Passwords
from app.core.settings import Settings
from app.courses.schemas import CourseIn
from app.courses.service import courses
from app.diary.schemas import EntryIn, Medication, PainSite
from app.diary.service import entries
from app.records.service import put_record
from app.sessions.schemas import SessionIn
from app.sessions.service import sessions
from app.trends.service import today_in

#: Fixed ids, so the README's curl examples work against any demo database.
COURSE_ID = uuid.UUID("5eed0000-0000-4000-8000-000000000001")
TIMEZONE = "Europe/Berlin"
POINTS = [["GB20", "GB21", "LI4", "SI3", "BL10"], ["GB20", "TE5", "LI4", "GV14", "EX-HN15"]]


async def load_demo(settings: Settings, email: str, password: str) -> str:
    """Create (or re-create) the demonstration patient; returns how to sign in."""
    db = Database(create_engine(settings.database_url))
    try:
        async with db.transaction() as conn:
            users = table_of(User)
            await conn.execute(sa.delete(users).where(users.c.email == email.lower()))
        passwords = Passwords(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
        user = await accounts.register(
            db,
            passwords,
            Registration(
                email=email,
                password=password,
                role="patient",
                display_name="Demo Patient",
                timezone=TIMEZONE,
            ),
        )
        await _load_history(db, user.id, today_in(TIMEZONE))
    finally:
        await db.dispose()
    return (
        f"Demo patient ready: {email} / {password}\n"
        f"Course summary: GET /v1/patients/me/courses/{COURSE_ID}/summary"
    )


async def _load_history(db: Database, patient_id: uuid.UUID, today: dt.date) -> None:
    rng = random.Random(20261125)  # noqa: S311 (demo data, not security)
    start = today - dt.timedelta(weeks=12)
    end = start + dt.timedelta(weeks=7)
    offset = dt.timezone(dt.timedelta(hours=1))
    await put_record(
        db,
        courses,
        patient_id,
        COURSE_ID,
        CourseIn(
            name="Acupuncture for chronic neck pain",
            condition="neck_pain",
            modality="acupuncture",
            start_date=start,
            end_date=end,
            planned_sessions=8,
            practitioner="L. Wagner, Heilpraktikerin",
            pattern="qi and blood stagnation",
        ),
    )
    for week in range(8):
        when = dt.datetime.combine(start + dt.timedelta(weeks=week), dt.time(17, 30), offset)
        before = round(6.5 - 0.35 * week + rng.uniform(-0.5, 0.5))
        await put_record(
            db,
            sessions,
            patient_id,
            uuid.UUID(int=rng.getrandbits(128), version=4),
            SessionIn(
                course_id=COURSE_ID,
                occurred_at=when,
                points=POINTS[week % 2],
                duration_minutes=25,
                pain_before=before,
                pain_after=max(0, before - rng.choice([1, 2, 2, 3])),
                adverse_events=["soreness"] if week == 1 else [],
                practitioner="L. Wagner",
            ),
        )
    day = start - dt.timedelta(days=7)
    holiday = range(40, 45)  # a gap: no entries while away
    while day <= today:
        n = (day - start).days
        if n not in holiday and rng.random() > 0.12:
            for entry in _day_entries(rng, day, n, offset):
                await put_record(db, entries, patient_id, uuid.uuid4(), entry)
        day += dt.timedelta(days=1)


def _day_entries(rng: random.Random, day: dt.date, n: int, offset: dt.tzinfo) -> list[EntryIn]:
    """One or two entries; pain eases over the course and stays lower in the follow-up."""
    progress = min(max(n, 0), 56) / 56
    level = 6.8 - 3.2 * progress
    drive = rng.random() < 0.2
    stress = min(10, max(0, round(4 + rng.gauss(0, 1.6) + (1.5 if drive else 0))))
    pain = min(
        10, max(0, round(level + rng.gauss(0, 0.8) + (1 if drive else 0) + 0.2 * (stress - 4)))
    )
    sleep = round(min(9.5, max(3.5, 5.6 + 1.4 * progress + rng.gauss(0, 0.7))), 1)
    tags = (["long drive"] if drive else []) + (["yoga"] if rng.random() < 0.25 else [])
    morning = EntryIn(
        recorded_at=dt.datetime.combine(day, dt.time(7, 45), offset),
        pain=pain,
        pain_worst=min(10, pain + rng.choice([0, 1, 1, 2])),
        sites=[PainSite(region="neck", side="both", qualities=["aching", "stiff"])],
        sleep_hours=sleep,
        sleep_quality=min(10, max(0, round(sleep - 1 + rng.gauss(0, 1)))),
        stress=stress,
        mood=min(10, max(0, 8 - pain // 2 + rng.choice([-1, 0, 1]))),
        activity_interference=max(0, pain - 1),
        enjoyment_interference=max(0, pain - 2),
        medications=(
            [Medication(name="ibuprofen", dose=400, unit="mg", kind="as_needed")]
            if pain >= 7
            else []
        ),
        tags=tags,
    )
    result = [morning]
    if rng.random() < 0.3:
        evening_pain = min(10, max(0, pain + rng.choice([-1, 0, 1, 2])))
        result.append(
            EntryIn(
                recorded_at=dt.datetime.combine(day, dt.time(21, 15), offset),
                pain=evening_pain,
                stress=stress,
                notes="evening check-in",
                tags=tags,
            )
        )
    return result
