"""Treatment course rules."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import table_of
from app.courses.models import TreatmentCourse
from app.courses.schemas import CourseIn, CourseOut
from app.records.service import RecordKind

CourseDeleted = Callable[[AsyncConnection, uuid.UUID, uuid.UUID, int], Awaitable[None]]

_FIELDS = (
    "name", "condition", "modality", "start_date", "end_date", "planned_sessions",
    "practitioner", "pattern", "notes",
)  # fmt: skip


class CourseKind(RecordKind[CourseIn, CourseOut]):
    name = "course"
    label = "treatment course"
    collection = "courses"
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

    def __init__(self) -> None:
        #: What deleting a course does to the records that point at it, each a coroutine
        #: ``(conn, patient_id, course_id, position)``: added by the domains above this one
        #: (sessions detach themselves), so that courses need not know them.
        self.on_delete: list[CourseDeleted] = []

    async def before_delete(
        self, conn: AsyncConnection, patient_id: uuid.UUID, row: RowMapping, position: int
    ) -> None:
        for hook in self.on_delete:
            await hook(conn, patient_id, row["id"], position)


async def find_course(
    conn: AsyncConnection, patient_id: uuid.UUID, course_id: uuid.UUID
) -> RowMapping | None:
    table = courses.table
    query = sa.select(table).where(table.c.patient_id == patient_id, table.c.id == course_id)
    return (await conn.execute(query)).mappings().first()


courses = CourseKind()
