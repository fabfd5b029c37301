"""Session event rules: the course link, the default modality, electro frequency."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.clock import utcnow
from app.core.database import table_of
from app.core.errors import Invalid
from app.core.fields import offset_minutes, with_offset
from app.courses.service import courses, find_course
from app.records.service import RecordKind
from app.sessions.models import SessionEvent
from app.sessions.schemas import SessionIn, SessionOut

#: Sessions may be entered ahead (an appointment); not further than this.
MAX_FUTURE = dt.timedelta(days=366)

_SCALARS = (
    "course_id", "electro_frequency_hz", "duration_minutes", "pain_before", "pain_after",
    "practitioner", "notes",
)  # fmt: skip


class SessionKind(RecordKind[SessionIn, SessionOut]):
    name = "session"
    label = "session event"
    collection = "sessions"
    table = table_of(SessionEvent)
    schema = SessionIn
    order = ("occurred_at", "id")
    date_column = "local_date"

    async def prepare(
        self,
        conn: AsyncConnection,
        patient_id: uuid.UUID,
        body: SessionIn,
        existing: RowMapping | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        errors: list[tuple[list[str | int], str]] = []
        modality = body.modality
        if body.course_id is not None:
            course = await find_course(conn, patient_id, body.course_id)
            if course is None:
                errors.append((["body", "course_id"], "is not one of this patient's courses"))
            elif modality is None:
                modality = course["modality"]
        if body.electro_frequency_hz is not None and modality != "electroacupuncture":
            errors.append(
                (["body", "electro_frequency_hz"], "only allowed with modality electroacupuncture")
            )
        if body.occurred_at > now + MAX_FUTURE:
            errors.append((["body", "occurred_at"], "must not be more than a year ahead"))
        if errors:
            raise Invalid(errors)
        values: dict[str, Any] = {name: getattr(body, name) for name in _SCALARS}
        values |= {
            "occurred_at": body.occurred_at.astimezone(dt.UTC),
            "occurred_offset_minutes": offset_minutes(body.occurred_at),
            "local_date": body.occurred_at.date(),
            "modality": modality,
            "points": list(body.points),
            "adverse_events": list(body.adverse_events),
        }
        return values

    def editable(self, row: RowMapping) -> dict[str, Any]:
        out = self.public(row).model_dump(mode="json", exclude_none=True)
        for server_field in ("patient_id", "version", "created_at", "updated_at", "local_date"):
            out.pop(server_field, None)
        return out

    def public(self, row: Mapping[Any, Any]) -> SessionOut:
        data = dict(row)
        data["occurred_at"] = with_offset(row["occurred_at"], row["occurred_offset_minutes"])
        return SessionOut.model_validate(data)


sessions = SessionKind()


async def detach_from_course(
    conn: AsyncConnection, patient_id: uuid.UUID, course_id: uuid.UUID, position: int
) -> None:
    """Sessions of a deleted course stay, detached from it (and re-synced as changed)."""
    table = sessions.table
    await conn.execute(
        sa.update(table)
        .where(table.c.patient_id == patient_id, table.c.course_id == course_id)
        .values(
            course_id=None,
            version=table.c.version + 1,
            updated_at=utcnow(),
            change_position=position,
        )
    )


courses.on_delete.append(detach_from_course)
