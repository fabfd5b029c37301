"""The one access decision for a patient's data, and the access log it writes."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from app.access.models import AccessLogEntry, ClinicianLink
from app.core.clock import utcnow
from app.core.database import Database, table_of
from app.core.errors import Forbidden, NotFound
from app.core.security import Caller

links = table_of(ClinicianLink)
access_log = table_of(AccessLogEntry)


class Need(enum.Enum):
    """What a route does with a patient's data."""

    READ = "read"
    WRITE_DIARY = "write_diary"  # diary entries: the patient alone
    WRITE_CARE = "write_care"  # courses and sessions: the patient and linked clinicians


@dataclass(frozen=True, slots=True)
class PatientScope:
    """A patient whose data the caller may use as the route needs."""

    patient_id: uuid.UUID
    caller: Caller
    db: Database

    @property
    def is_self(self) -> bool:
        return self.caller.user_id == self.patient_id


async def resolve_patient(
    db: Database, caller: Caller, patient_id: str, need: Need, method: str, path: str
) -> PatientScope:
    """Decide whether ``caller`` may use patient ``patient_id`` (a UUID or ``me``) as ``need``.

    The patient may do everything with their own data. A linked clinician reads it and
    writes courses and sessions (each use is written to the patient's access log with
    ``method`` and ``path``); a linked clinician who tries to write diary entries gets 403.
    Anyone else gets 404, so a patient's existence is never revealed.
    """
    if patient_id == "me":
        if caller.role != "patient":
            raise NotFound("Only patient accounts have a patient record (`me`).")
        return PatientScope(caller.user_id, caller, db)
    try:
        target = uuid.UUID(patient_id)
    except ValueError as exc:
        raise NotFound("No such patient.") from exc
    if caller.role == "patient":
        if caller.user_id == target:
            return PatientScope(target, caller, db)
        raise NotFound("No such patient.")
    if need is Need.WRITE_DIARY:
        if await is_linked(db, caller.user_id, target):
            raise Forbidden("Diary entries are written by the patient alone.")
        raise NotFound("No such patient.")
    if await record_access(db, caller.user_id, target, method, path):
        return PatientScope(target, caller, db)
    raise NotFound("No such patient.")


async def is_linked(db: Database, clinician_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
    async with db.read() as conn:
        found = await conn.execute(
            sa.select(links.c.linked_at).where(
                links.c.patient_id == patient_id, links.c.clinician_id == clinician_id
            )
        )
        return found.first() is not None


async def record_access(
    db: Database, clinician_id: uuid.UUID, patient_id: uuid.UUID, method: str, path: str
) -> bool:
    """Log the access if the clinician is linked to the patient, in one statement; whether
    they are. (No link, no log row: the statement selects the link it logs.)"""
    values = sa.select(
        sa.literal(uuid.uuid4(), sa.Uuid),
        links.c.patient_id,
        links.c.clinician_id,
        sa.literal("clinician", sa.String),
        sa.literal(utcnow(), access_log.c.at.type),
        sa.literal(method[:8], sa.String),
        sa.literal(path[:300], sa.String),
    ).where(links.c.patient_id == patient_id, links.c.clinician_id == clinician_id)
    statement = (
        sa.insert(access_log)
        .from_select(["id", "patient_id", "actor_id", "actor_role", "at", "method", "path"], values)
        .returning(access_log.c.id)
    )
    async with db.single_statement() as conn:
        return (await conn.execute(statement)).first() is not None
