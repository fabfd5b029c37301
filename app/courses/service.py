"""Treatment course rules."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import table_of
from app.core.records import RecordKind
from app.courses.models import TreatmentCourse
from app.courses.schemas import CourseIn, CourseOut

_FIELDS = (
    "name", "condition", "modality", "start_date", "end_date", "planned_sessions",
    "practitioner", "pattern", "notes",
)  # fmt: skip


class CourseKind(RecordKind[CourseIn, CourseOut]):
    name = "course"
    label = "treatment course"
    table = table_of(TreatmentCourse)
    schema = CourseIn
    order = ("start_date", "id")
    date_column = "start_date"

    async def prepare(
        self,
        conn: AsyncConnection,
        patient_id: uuid.UUID,
        body: CourseIn,
        existing: RowMapping | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        return {name: getattr(body, name) for name in _FIELDS}

    def editable(self, row: RowMapping) -> dict[str, Any]:
        return {
            name: (row[name].isoformat() if isinstance(row[name], dt.date) else row[name])
            for name in _FIELDS
            if row[name] is not None
        }

    def public(self, row: Mapping[Any, Any]) -> CourseOut:
        return CourseOut.model_validate(dict(row))

    async def before_delete(
        self, conn: AsyncConnection, patient_id: uuid.UUID, row: RowMapping, position: int
    ) -> None:
        """Sessions of a deleted course stay, detached from it (and re-synced as changed)."""
        from app.sessions.models import SessionEvent

        sessions = table_of(SessionEvent)
        await conn.execute(
            sa.update(sessions)
            .where(sessions.c.patient_id == patient_id, sessions.c.course_id == row["id"])
            .values(
                course_id=None,
                version=sessions.c.version + 1,
                updated_at=dt.datetime.now(dt.UTC),
                change_position=position,
            )
        )


async def find_course(
    conn: AsyncConnection, patient_id: uuid.UUID, course_id: uuid.UUID
) -> RowMapping | None:
    table = courses.table
    query = sa.select(table).where(table.c.patient_id == patient_id, table.c.id == course_id)
    return (await conn.execute(query)).mappings().first()


courses = CourseKind()
