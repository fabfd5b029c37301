"""GET /v1/me/export: everything stored about a patient, as one JSON document."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from app.access.service import access_log, links
from app.accounts.schemas import UserOut
from app.accounts.service import get_user, users
from app.clinicians.schemas import ClinicianLinkOut
from app.clinicians.service import share_codes
from app.core.clock import utcnow
from app.core.database import Database
from app.courses.service import courses
from app.diary.service import entries
from app.export.schemas import ExportedAccess, ExportedShareCode, PatientExport
from app.records.service import RecordKind
from app.sessions.service import sessions


async def export_patient(db: Database, patient_id: uuid.UUID) -> PatientExport:
    async with db.read() as conn:
        user = UserOut.model_validate(await get_user(conn, patient_id))

        async def all_of(kind: RecordKind[Any, Any]) -> list[Any]:
            table = kind.table
            rows = await conn.execute(
                sa.select(table)
                .where(table.c.patient_id == patient_id)
                .order_by(*(table.c[c] for c in kind.order))
            )
            return [kind.public(r) for r in rows.mappings()]

        clinicians = await conn.execute(
            sa.select(links.c.clinician_id, links.c.linked_at, users.c.display_name, users.c.email)
            .join(users, users.c.id == links.c.clinician_id)
            .where(links.c.patient_id == patient_id)
            .order_by(links.c.linked_at)
        )
        codes = await conn.execute(
            sa.select(
                share_codes.c.created_at,
                share_codes.c.expires_at,
                share_codes.c.used_at,
                share_codes.c.used_by,
            )
            .where(share_codes.c.patient_id == patient_id)
            .order_by(share_codes.c.created_at)
        )
        log = await conn.execute(
            sa.select(access_log)
            .where(access_log.c.patient_id == patient_id)
            .order_by(access_log.c.at)
        )
        return PatientExport(
            exported_at=utcnow(),
            account=user,
            entries=await all_of(entries),
            courses=await all_of(courses),
            sessions=await all_of(sessions),
            clinician_links=[ClinicianLinkOut.model_validate(r) for r in clinicians.mappings()],
            # The codes themselves are not kept.
            share_codes=[ExportedShareCode.model_validate(r) for r in codes.mappings()],
            access_log=[ExportedAccess.model_validate(r) for r in log.mappings()],
        )
