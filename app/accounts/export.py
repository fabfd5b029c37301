"""GET /v1/me/export: everything stored about a patient, as one JSON document."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from app.accounts.schemas import UserOut
from app.accounts.service import get_user
from app.core.database import Database
from app.core.records import RecordKind, utcnow
from app.courses.service import courses
from app.diary.service import entries
from app.sessions.service import sessions


async def export_patient(db: Database, patient_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as conn:
        user = UserOut.model_validate(await get_user(conn, patient_id))

        async def all_of(kind: RecordKind[Any, Any]) -> list[dict[str, Any]]:
            table = kind.table
            rows = await conn.execute(
                sa.select(table)
                .where(table.c.patient_id == patient_id)
                .order_by(*(table.c[c] for c in kind.order))
            )
            return [kind.public(r).model_dump(mode="json") for r in rows.mappings()]

        return {
            "exported_at": utcnow().isoformat(),
            "account": user.model_dump(mode="json"),
            "entries": await all_of(entries),
            "courses": await all_of(courses),
            "sessions": await all_of(sessions),
        }
