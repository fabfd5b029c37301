"""The data a benchmark run works on: a throwaway database, migrated and seeded with patients
who write, one patient with a year of diary to summarize, and a clinician with a clinic of
patients to list. `workload` hands the servers and wrk scripts what they need to reach it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.access.models import ClinicianLink
from app.accounts.models import User
from app.accounts.schemas import Registration
from app.accounts.service import register
from app.core.database import Database, create_engine, table_of
from app.core.migrations import upgrade
from app.core.security import AccessTokens, Passwords
from app.courses.models import TreatmentCourse
from app.courses.schemas import CourseIn
from app.courses.service import courses
from app.diary.models import DiaryEntry
from app.diary.schemas import EntryIn
from app.diary.service import entries
from app.records.models import ChangeCounter
from app.records.service import put_record
from app.sessions.schemas import SessionIn
from app.sessions.service import sessions
from tests.databases import throwaway_postgres

SECRET = "bench-secret-key-bench-secret-key-0123456789"
POSTGRES = os.environ.get(
    "PAINDIARY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: Patients whose tokens the write scripts take in turn.
PATIENTS = 64
#: Patients linked to the clinician whose list is read.
CLINIC_PATIENTS = 500


@dataclass(frozen=True)
class Seeded:
    patient_tokens: list[str]
    year_token: str
    summary_path: str
    clinician_token: str


@dataclass(frozen=True)
class Workload:
    """The environment of the servers and of each wrk script."""

    server: dict[str, str]
    writes: dict[str, str]
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
        try:
            yield Workload(
                # A load test writes far faster than any phone: per-account write limits off.
                server={
                    "PAINDIARY_DATABASE_URL": url,
                    "PAINDIARY_SECRET_KEY": SECRET,
                    "PAINDIARY_WRITES_PER_MINUTE": "0",
                },
                writes={"TOKENS_FILE": f.name},
                summary={"TOKEN": seeded.year_token, "BENCH_PATH": seeded.summary_path},
                patient_list={
                    "TOKEN": seeded.clinician_token,
                    "BENCH_PATH": "/v1/patients?limit=500&sort=attention",
                },
            )
        finally:
            os.unlink(f.name)


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
    tokens = AccessTokens(SECRET, 900)
    patient_tokens = []
    for i in range(PATIENTS):
        user = await register(db, passwords, _registration(f"bench{i}"))
        patient_tokens.append(tokens.issue(user.id, "patient"))
    year = await register(db, passwords, _registration("year"))
    course_id = await _year_of_diary(db, year.id)
    clinician_token = await seed_clinic(db, passwords, tokens)
    await db.dispose()
    return Seeded(
        patient_tokens=patient_tokens,
        year_token=tokens.issue(year.id, "patient"),
        summary_path=f"/v1/patients/me/courses/{course_id}/summary",
        clinician_token=clinician_token,
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


async def seed_clinic(db: Database, passwords: Passwords, tokens: AccessTokens) -> str:
    """A clinician linked to CLINIC_PATIENTS patients, each with a running course and two
    weeks of entries around its start and today; answers the clinician's token. Bulk inserts:
    this is only the set-up, not what is measured."""
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    password_hash = passwords.hash("bench-password")
    clinician_id = uuid.uuid4()
    people = [_person(clinician_id, "clinic", "clinician", "Dr. Bench", "UTC", password_hash, now)]
    counters: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    course_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    for i in range(CLINIC_PATIENTS):
        pid = uuid.uuid4()
        people.append(
            _person(
                pid, f"p{i}", "patient", f"Patient {i:03d}", "Europe/Berlin", password_hash, now
            )
        )
        counters.append({"patient_id": pid, "position": 100})
        links.append({"patient_id": pid, "clinician_id": clinician_id, "linked_at": now})
        start = today - dt.timedelta(days=21 + i % 30)
        course_rows.append(_course_row(pid, start, now))
        days = [start - dt.timedelta(days=k) for k in range(1, 6)]
        days += [today - dt.timedelta(days=k) for k in range(0, 7 - i % 3)]
        for n, day in enumerate(days):
            entry_rows.append(_entry_row(pid, day, (3 + n + i) % 11, 2 + n, now))
    async with db.transaction() as conn:
        for model, rows in (
            (User, people),
            (ChangeCounter, counters),
            (ClinicianLink, links),
            (TreatmentCourse, course_rows),
            (DiaryEntry, entry_rows),
        ):
            await conn.execute(sa.insert(table_of(model)), rows)
    return tokens.issue(clinician_id, "clinician")


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


def _course_row(patient_id: uuid.UUID, start: dt.date, now: dt.datetime) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "id": uuid.uuid4(),
        "name": "Acupuncture",
        "condition": "neck_pain",
        "modality": "acupuncture",
        "start_date": start,
        "end_date": None,
        "planned_sessions": 10,
        "practitioner": None,
        "pattern": None,
        "notes": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "change_position": 1,
    }


def _entry_row(
    patient_id: uuid.UUID, day: dt.date, pain: int, position: int, now: dt.datetime
) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "id": uuid.uuid4(),
        "recorded_at": dt.datetime.combine(day, dt.time(8), dt.UTC),
        "recorded_offset_minutes": 60,
        "local_date": day,
        "pain": pain,
        "pain_worst": None,
        "sites": [],
        "sleep_hours": 7.0,
        "sleep_quality": None,
        "stress": 4,
        "mood": None,
        "activity_interference": None,
        "enjoyment_interference": None,
        "medications": [],
        "tags": [],
        "notes": None,
        "backfilled": False,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "change_position": position,
    }
