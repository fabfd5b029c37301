"""The data a benchmark run works on: a throwaway database, migrated and seeded with patients
who write, one patient with a year of diary to summarize, and a clinician with a clinic of
patients to list. `workload` hands the servers and wrk scripts what they need to reach it.

`diary_years` seeds a second database for the rows of years of diary (bench/reads.py):
ongoing courses of 1, 3 and 10 years with their diaries, an 8,000-day course with an entry
every day, and clinics of 50 and 500 patients. Their rows are inserted in bulk as the
service stores them (`entry_row`, `session_row`, `number_changes`), not written through
the API.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import SQLModel

from app.access.models import ClinicianLink
from app.accounts.models import User
from app.accounts.schemas import Registration
from app.accounts.service import register
from app.core.database import Database, create_engine, table_of
from app.core.fields import offset_minutes
from app.core.migrations import upgrade
from app.core.security import AccessTokens, Passwords
from app.courses.models import TreatmentCourse
from app.courses.schemas import CourseIn
from app.courses.service import courses
from app.diary.models import DiaryEntry
from app.diary.schemas import EntryIn, Medication, PainSite
from app.diary.service import entries, entry_local_date, is_backfilled
from app.records.models import ChangeCounter
from app.records.service import put_record
from app.sessions.models import SessionEvent
from app.sessions.schemas import SessionIn
from app.sessions.service import sessions
from tests.databases import throwaway_postgres

SECRET = "bench-secret-key-bench-secret-key-0123456789"
POSTGRES = os.environ.get(
    "PAINDIARY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: Patients whose tokens the write scripts take in turn.
PATIENTS = 64
#: Patients who each write now and then, for the write-limit row: at ~2,000 PUT/s each
#: writes about once a second, a busy clinic's phones rather than one account's flood.
WRITERS = 2000
#: Patients linked to the clinician whose list is read.
CLINIC_PATIENTS = 500
#: Access tokens that outlive a whole run.
TOKEN_SECONDS = 3 * 3600
#: The time zone of the seeded patients.
TIMEZONE = "Europe/Berlin"
ZONE = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class Seeded:
    patient_tokens: list[str]
    year_token: str
    summary_path: str
    clinician_token: str
    writer_tokens: list[str]


@dataclass(frozen=True)
class Workload:
    """The environment of the servers and of each wrk script."""

    server: dict[str, str]
    writes: dict[str, str]
    #: The same PUT load spread over WRITERS patients (the write-limit row).
    many_writers: dict[str, str]
    summary: dict[str, str]
    patient_list: dict[str, str]


@contextmanager
def workload(backend: str) -> Iterator[Workload]:
    """A migrated, seeded database of ``backend`` for the length of the block."""
    with database(backend) as url:
        upgrade(url)
        seeded = asyncio.run(seed(url))
        with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as f:
            f.write("\n".join(seeded.patient_tokens) + "\n")
        with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as writers:
            writers.write("\n".join(seeded.writer_tokens) + "\n")
        try:
            yield Workload(
                server=server_env(url),
                writes={"TOKENS_FILE": f.name},
                many_writers={"TOKENS_FILE": writers.name},
                summary={"TOKEN": seeded.year_token, "BENCH_PATH": seeded.summary_path},
                patient_list={
                    "TOKEN": seeded.clinician_token,
                    "BENCH_PATH": "/v1/patients?limit=500&sort=attention",
                },
            )
        finally:
            os.unlink(f.name)
            os.unlink(writers.name)


def server_env(url: str) -> dict[str, str]:
    """The service's environment. A load test writes far faster than any phone: per-account
    write limits off."""
    return {
        "PAINDIARY_DATABASE_URL": url,
        "PAINDIARY_SECRET_KEY": SECRET,
        "PAINDIARY_WRITES_PER_MINUTE": "0",
    }


@contextmanager
def database(backend: str) -> Iterator[str]:
    """The URL of an empty database, removed afterwards."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="paindiary-bench-")
        try:
            yield f"sqlite:///{folder}/bench.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with throwaway_postgres(POSTGRES, "paindiary_bench") as url:
        yield url


async def seed(url: str) -> Seeded:
    """Patients for the write load; one patient with a year of diary for the summary; the
    clinic for the patient list."""
    db = Database(create_engine(url))
    passwords = Passwords(19 * 1024, 2, 1)
    tokens = AccessTokens(SECRET, TOKEN_SECONDS)
    patient_tokens = []
    for i in range(PATIENTS):
        user = await register(db, passwords, _registration(f"bench{i}"))
        patient_tokens.append(tokens.issue(user.id, "patient"))
    year = await register(db, passwords, _registration("year"))
    course_id = await _year_of_diary(db, year.id)
    password_hash = passwords.hash("bench-password")
    clinic = await seed_clinic(db, password_hash, tokens, CLINIC_PATIENTS)
    writer_ids = [uuid.uuid4() for _ in range(WRITERS)]
    now = dt.datetime.now(dt.UTC)
    writers = [
        _person(pid, f"w{i}", "patient", f"Writer {i}", TIMEZONE, password_hash, now)
        for i, pid in enumerate(writer_ids)
    ]
    counters = [number_changes(pid) for pid in writer_ids]
    await insert_all(db, [(User, writers), (ChangeCounter, counters)])
    await db.dispose()
    return Seeded(
        patient_tokens=patient_tokens,
        year_token=tokens.issue(year.id, "patient"),
        summary_path=f"/v1/patients/me/courses/{course_id}/summary",
        clinician_token=clinic.clinician_token,
        writer_tokens=[tokens.issue(pid, "patient") for pid in writer_ids],
    )


def _registration(name: str) -> Registration:
    return Registration(
        email=f"{name}-{uuid.uuid4().hex[:6]}@example.org",
        password="bench-password",
        role="patient",
    )


async def _year_of_diary(db: Database, patient_id: uuid.UUID) -> uuid.UUID:
    """A course of 12 sessions that began 300 days ago and two entries a day for a year,
    written through the service; answers the course's id."""
    today = dt.date.today()
    start = today - dt.timedelta(days=300)
    course_id = uuid.uuid4()
    await put_record(
        db,
        courses,
        patient_id,
        course_id,
        CourseIn(
            name="Year course",
            modality="acupuncture",
            start_date=start,
            end_date=start + dt.timedelta(weeks=11),
            planned_sessions=12,
        ),
    )
    for k in range(12):
        await put_record(
            db,
            sessions,
            patient_id,
            uuid.uuid4(),
            SessionIn(
                course_id=course_id,
                occurred_at=dt.datetime.combine(start + dt.timedelta(weeks=k), dt.time(10), dt.UTC),
                points=["LI4", "GB20"],
                pain_before=6,
                pain_after=4,
            ),
        )
    tz = dt.timezone(dt.timedelta(hours=1))
    for n in range(365):
        day = today - dt.timedelta(days=364 - n)
        for hour, pain in ((8, 4 + n % 5), (20, 3 + n % 4)):
            await put_record(
                db,
                entries,
                patient_id,
                uuid.uuid4(),
                EntryIn(
                    recorded_at=dt.datetime.combine(day, dt.time(hour), tz),
                    pain=pain,
                    sleep_hours=6 + (n % 3),
                    stress=n % 8,
                    tags=["weather"] if n % 4 == 0 else [],
                ),
            )
    return course_id


@dataclass(frozen=True)
class Clinic:
    """A clinician's token and those of the patients linked to them."""

    clinician_token: str
    patient_tokens: list[str]


async def seed_clinic(
    db: Database, password_hash: str, tokens: AccessTokens, patients: int
) -> Clinic:
    """A clinician linked to ``patients`` patients, each with a running course and two weeks
    of entries around its start and today. Bulk inserts: this is only the set-up, not what
    is measured."""
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(ZONE).date()
    clinician_id = uuid.uuid4()
    people = [_person(clinician_id, "clinic", "clinician", "Dr. Bench", "UTC", password_hash, now)]
    patient_ids: list[uuid.UUID] = []
    counters: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    course_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    for i in range(patients):
        pid = uuid.uuid4()
        patient_ids.append(pid)
        people.append(
            _person(pid, f"p{i}", "patient", f"Patient {i:03d}", TIMEZONE, password_hash, now)
        )
        links.append({"patient_id": pid, "clinician_id": clinician_id, "linked_at": now})
        start = today - dt.timedelta(days=21 + i % 30)
        course = _course_row(pid, uuid.uuid4(), start, _at(start, 9, 0, now))
        days = [start - dt.timedelta(days=k) for k in range(1, 6)]
        days += [today - dt.timedelta(days=k) for k in range(0, 7 - i % 3)]
        diary = [
            entry_row(pid, _at(day, 8, 0, now), (3 + n + i) % 11, now, sleep_hours=7.0, stress=4)
            for n, day in enumerate(days)
        ]
        counters.append(number_changes(pid, [course], diary))
        course_rows.append(course)
        entry_rows += diary
    await insert_all(
        db,
        [
            (User, people),
            (ChangeCounter, counters),
            (ClinicianLink, links),
            (TreatmentCourse, course_rows),
            (DiaryEntry, entry_rows),
        ],
    )
    return Clinic(
        clinician_token=tokens.issue(clinician_id, "clinician"),
        patient_tokens=[tokens.issue(pid, "patient") for pid in patient_ids],
    )


# Years of diary (bench/reads.py's rows).


@dataclass(frozen=True)
class DiaryPlan:
    """An ongoing course that began ``course_days`` before today and the diary around it."""

    course_days: int
    #: The fewest and the most entries a day (each day draws one of them or between).
    entries_a_day: tuple[int, int]
    #: Days of diary before the course began: its pre-course baseline.
    days_before: int
    #: Weekly from the course's first day.
    sessions: int = 10


#: The diaries whose course summaries are read, by years of course.
DIARIES = {
    1: DiaryPlan(365, (1, 3), 14),
    3: DiaryPlan(3 * 365 + 1, (1, 3), 14),
    10: DiaryPlan(3652, (1, 3), 14),
}
#: The diary whose FHIR report and CSV are read.
REPORT_YEARS = 10
#: The longest course: 8,000 days, an entry on each of them.
LONG_COURSE = DiaryPlan(8000, (1, 1), 0)
#: Linked patients of the two clinics whose lists are compared.
CLINIC_SIZES = (50, CLINIC_PATIENTS)


@dataclass(frozen=True)
class Diary:
    """A seeded patient with one ongoing course."""

    token: str
    course_id: uuid.UUID
    course_start: dt.date
    entries: int
    sessions: int

    @property
    def summary_path(self) -> str:
        return f"/v1/patients/me/courses/{self.course_id}/summary"


@dataclass(frozen=True)
class DiaryYears:
    """The database of the years-of-diary rows and what reaches its data."""

    server: dict[str, str]
    diaries: dict[int, Diary]
    long_course: Diary
    clinics: dict[int, Clinic]
    #: Seconds each part of the seeding took.
    seeding_s: dict[str, float]


@contextmanager
def diary_years(backend: str) -> Iterator[DiaryYears]:
    """A migrated database of ``backend`` seeded with the years of diary, for the block."""
    with database(backend) as url:
        upgrade(url)
        yield asyncio.run(seed_diary_years(url))


async def seed_diary_years(url: str) -> DiaryYears:
    db = Database(create_engine(url))
    tokens = AccessTokens(SECRET, TOKEN_SECONDS)
    password_hash = Passwords(19 * 1024, 2, 1).hash("bench-password")
    seconds: dict[str, float] = {}

    async def timed(name: str, plan: DiaryPlan) -> Diary:
        started = time.perf_counter()
        diary = await seed_diary(db, tokens, password_hash, plan)
        seconds[f"{name} ({diary.entries} entries)"] = time.perf_counter() - started
        return diary

    try:
        diaries = {years: await timed(f"{years}-year diary", p) for years, p in DIARIES.items()}
        long_course = await timed(f"{LONG_COURSE.course_days}-day course", LONG_COURSE)
        clinics = {}
        for size in CLINIC_SIZES:
            started = time.perf_counter()
            clinics[size] = await seed_clinic(db, password_hash, tokens, size)
            seconds[f"clinic of {size}"] = time.perf_counter() - started
    finally:
        await db.dispose()
    return DiaryYears(server_env(url), diaries, long_course, clinics, seconds)


async def seed_diary(
    db: Database, tokens: AccessTokens, password_hash: str, plan: DiaryPlan
) -> Diary:
    """One patient with an ongoing course begun ``plan.course_days`` ago, its sessions and a
    diary from ``plan.days_before`` days before the course through today. Bulk inserts."""
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(ZONE).date()
    rng = random.Random(plan.course_days)
    patient_id, course_id = uuid.uuid4(), uuid.uuid4()
    start = today - dt.timedelta(days=plan.course_days)
    course = _course_row(
        patient_id, course_id, start, _at(start, 9, 0, now), planned_sessions=plan.sessions
    )
    visits = [start + dt.timedelta(weeks=k) for k in range(plan.sessions)]
    course_sessions = [
        session_row(patient_id, course_id, _at(day, 10, 0, now), now, 6, 4 - k % 2)
        for k, day in enumerate(visits)
        if day <= today
    ]
    diary = []
    for n in range(-plan.days_before, plan.course_days + 1):
        day = start + dt.timedelta(days=n)
        for recorded_at, pain, values in _entries_of_day(rng, day, n, plan.entries_a_day, now):
            diary.append(entry_row(patient_id, recorded_at, pain, now, **values))
    counter = number_changes(patient_id, [course], course_sessions, diary)
    joined = _at(start - dt.timedelta(days=plan.days_before), 7, 0, now).astimezone(dt.UTC)
    await insert_all(
        db,
        [
            (
                User,
                [_person(patient_id, "diary", "patient", "Diary", TIMEZONE, password_hash, joined)],
            ),
            (ChangeCounter, [counter]),
            (TreatmentCourse, [course]),
            (SessionEvent, course_sessions),
            (DiaryEntry, diary),
        ],
    )
    return Diary(
        token=tokens.issue(patient_id, "patient"),
        course_id=course_id,
        course_start=start,
        entries=len(diary),
        sessions=len(course_sessions),
    )


#: Local hours at which a day's entries are made, by their number.
HOURS = {1: (8,), 2: (8, 21), 3: (8, 14, 21)}
TAGS = ("weather", "work", "poor_sleep", "exercise", "travel")
IBUPROFEN = Medication(name="ibuprofen", dose=400, unit="mg", kind="as_needed")
AMITRIPTYLINE = Medication(name="amitriptyline", dose=10, unit="mg", kind="preventive")
NECK = PainSite(region="neck", side="both", qualities=["aching", "stiff"])


def _entries_of_day(
    rng: random.Random, day: dt.date, course_day: int, per_day: tuple[int, int], now: dt.datetime
) -> list[tuple[dt.datetime, int, dict[str, Any]]]:
    """One day's entries as ``(recorded_at, pain, other fields)``: pain easing over the
    course's first ten weeks and drifting with the seasons, sleep in the morning, a
    preventive tablet at night, ibuprofen on bad days, now and then tags or a note."""
    level = 6.0 - 2.0 * min(1.0, max(0, course_day) / 70) + 1.2 * math.sin(course_day / 58)
    day_entries = []
    for hour in HOURS[rng.randint(*per_day)]:
        pain = min(10, max(0, round(level + rng.gauss(0, 1.2))))
        values: dict[str, Any] = {"stress": rng.randint(1, 8)}
        if hour == 8:
            sleep = min(10.0, max(3.0, round(rng.gauss(6.8, 1.0) * 2) / 2))
            values |= {"sleep_hours": sleep, "sleep_quality": rng.randint(3, 8)}
        if rng.random() < 0.3:
            values["pain_worst"] = min(10, pain + rng.randint(1, 3))
        taken = [AMITRIPTYLINE] * (hour == 21) + [IBUPROFEN] * (pain >= 7)
        values["medications"] = [_stored(m) for m in taken]
        values["sites"] = [_stored(NECK)] if pain >= 6 else []
        values["tags"] = rng.sample(TAGS, rng.randint(1, 2)) if rng.random() < 0.3 else []
        if rng.random() < 0.05:
            values["notes"] = "Stiff neck after a long day at the desk."
        day_entries.append((_at(day, hour, rng.randint(0, 59), now), pain, values))
    return day_entries


def _stored(item: Medication | PainSite) -> dict[str, Any]:
    """A list item as `EntryKind.prepare` stores it."""
    return item.model_dump(mode="json", exclude_none=True)


#: A phone sends an entry this long after it was made (so it is not back-filled).
SENT_AFTER = dt.timedelta(minutes=3)


def entry_row(
    patient_id: uuid.UUID, recorded_at: dt.datetime, pain: int, now: dt.datetime, **values: Any
) -> dict[str, Any]:
    """A new diary entry as the service stores it (`EntryKind.prepare`, app/diary/service.py):
    the instant in UTC with the offset it was sent with, its date in that offset, back-filled
    only when received more than a day after that date (received ``SENT_AFTER`` after it was
    made), version 1. `number_changes` gives it its change position."""
    local_date = entry_local_date(recorded_at, None)
    offset = offset_minutes(recorded_at)
    received = min(recorded_at + SENT_AFTER, now).astimezone(dt.UTC)
    return {
        "patient_id": patient_id,
        "id": uuid.uuid4(),
        "recorded_at": recorded_at.astimezone(dt.UTC),
        "recorded_offset_minutes": offset,
        "local_date": local_date,
        "pain": pain,
        "pain_worst": None,
        "sites": [],
        "sleep_hours": None,
        "sleep_quality": None,
        "stress": None,
        "mood": None,
        "activity_interference": None,
        "enjoyment_interference": None,
        "medications": [],
        "tags": [],
        "notes": None,
        **values,
        "backfilled": is_backfilled(local_date, offset, received),
        "version": 1,
        "created_at": received,
        "updated_at": received,
        "change_position": 0,
    }


def session_row(
    patient_id: uuid.UUID,
    course_id: uuid.UUID,
    occurred_at: dt.datetime,
    now: dt.datetime,
    pain_before: int,
    pain_after: int,
) -> dict[str, Any]:
    """A new session of an acupuncture course as the service stores it (`SessionKind.prepare`,
    app/sessions/service.py: the course's modality, the date in the offset it was sent with),
    entered an hour after it took place."""
    received = min(occurred_at + dt.timedelta(hours=1), now).astimezone(dt.UTC)
    return {
        "patient_id": patient_id,
        "id": uuid.uuid4(),
        "course_id": course_id,
        "occurred_at": occurred_at.astimezone(dt.UTC),
        "occurred_offset_minutes": offset_minutes(occurred_at),
        "local_date": occurred_at.date(),
        "modality": "acupuncture",
        "points": ["LI4", "GB20", "GB21"],
        "electro_frequency_hz": None,
        "duration_minutes": 30,
        "pain_before": pain_before,
        "pain_after": pain_after,
        "adverse_events": [],
        "practitioner": None,
        "notes": None,
        "version": 1,
        "created_at": received,
        "updated_at": received,
        "change_position": 0,
    }


def number_changes(patient_id: uuid.UUID, *records: list[dict[str, Any]]) -> dict[str, Any]:
    """Give a patient's new records the change positions 1, 2, … in the order they were
    received, as the change counter hands them out (app/records/changes.py); answers the
    counter's row, at the last position."""
    received = sorted((row for rows in records for row in rows), key=itemgetter("created_at"))
    for position, row in enumerate(received, start=1):
        row["change_position"] = position
    return {"patient_id": patient_id, "position": len(received)}


async def insert_all(
    db: Database, tables: list[tuple[type[SQLModel], list[dict[str, Any]]]]
) -> None:
    """Rows of each table, in the order given (referenced tables first), in one transaction."""
    async with db.transaction() as conn:
        for model, rows in tables:
            if rows:
                await conn.execute(sa.insert(table_of(model)), rows)


def _at(day: dt.date, hour: int, minute: int, now: dt.datetime) -> dt.datetime:
    """``day`` at ``hour:minute`` in the patients' zone, or a minute ago if that is still to
    come."""
    return min(
        dt.datetime.combine(day, dt.time(hour, minute), ZONE),
        (now - dt.timedelta(minutes=1)).astimezone(ZONE),
    )


def _person(
    user_id: uuid.UUID,
    name: str,
    role: str,
    display_name: str,
    timezone: str,
    password_hash: str,
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"{name}-{user_id.hex[:8]}@example.org",
        "password_hash": password_hash,
        "role": role,
        "display_name": display_name,
        "timezone": timezone,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _course_row(
    patient_id: uuid.UUID,
    course_id: uuid.UUID,
    start: dt.date,
    created_at: dt.datetime,
    planned_sessions: int = 10,
) -> dict[str, Any]:
    """An ongoing course as the service stores it; `number_changes` gives its position."""
    return {
        "patient_id": patient_id,
        "id": course_id,
        "name": "Acupuncture",
        "condition": "neck_pain",
        "modality": "acupuncture",
        "start_date": start,
        "end_date": None,
        "planned_sessions": planned_sessions,
        "practitioner": None,
        "pattern": None,
        "notes": None,
        "version": 1,
        "created_at": created_at.astimezone(dt.UTC),
        "updated_at": created_at.astimezone(dt.UTC),
        "change_position": 0,
    }
