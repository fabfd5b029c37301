"""Change positions and tombstones, used by every write of a patient's records."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import one_of, table_of
from app.core.errors import NotFound
from app.records.models import ChangeCounter, Tombstone

counters = table_of(ChangeCounter)
tombstones = table_of(Tombstone)


async def create_counter(conn: AsyncConnection, patient_id: uuid.UUID) -> None:
    await conn.execute(sa.insert(counters).values(patient_id=patient_id, position=0))


async def next_change_position(conn: AsyncConnection, patient_id: uuid.UUID, count: int = 1) -> int:
    """Take the patient's next change position (or ``count`` of them: the last is returned);
    holds the patient's write lock until commit.

    Raises NotFound when the patient no longer exists (an erased account's stale token).
    """
    position = (
        await conn.execute(
            sa.update(counters)
            .where(counters.c.patient_id == patient_id)
            .values(position=counters.c.position + count)
            .returning(counters.c.position)
        )
    ).scalar_one_or_none()
    if position is None:
        raise NotFound("No such patient.")
    return int(position)


async def take_tombstone(
    conn: AsyncConnection, patient_id: uuid.UUID, kind: str, record_id: uuid.UUID
) -> int | None:
    """Remove a record's tombstone (it is being created again); return the deleted version."""
    return (
        await conn.execute(
            sa.delete(tombstones)
            .where(
                tombstones.c.patient_id == patient_id,
                tombstones.c.kind == kind,
                tombstones.c.id == record_id,
            )
            .returning(tombstones.c.version)
        )
    ).scalar_one_or_none()


async def tombstone_versions(
    conn: AsyncConnection, patient_id: uuid.UUID, kind: str, record_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await conn.execute(
        sa.select(tombstones.c.id, tombstones.c.version).where(
            tombstones.c.patient_id == patient_id,
            tombstones.c.kind == kind,
            one_of(conn, tombstones.c.id, record_ids),
        )
    )
    return {row.id: row.version for row in rows}


async def drop_tombstones(
    conn: AsyncConnection, patient_id: uuid.UUID, kind: str, record_ids: list[uuid.UUID]
) -> None:
    await conn.execute(
        sa.delete(tombstones).where(
            tombstones.c.patient_id == patient_id,
            tombstones.c.kind == kind,
            one_of(conn, tombstones.c.id, record_ids),
        )
    )


async def find_tombstone(
    conn: AsyncConnection, patient_id: uuid.UUID, kind: str, record_id: uuid.UUID
) -> int | None:
    return (
        await conn.execute(
            sa.select(tombstones.c.version).where(
                tombstones.c.patient_id == patient_id,
                tombstones.c.kind == kind,
                tombstones.c.id == record_id,
            )
        )
    ).scalar_one_or_none()


async def bury(
    conn: AsyncConnection,
    patient_id: uuid.UUID,
    kind: str,
    record_id: uuid.UUID,
    version: int,
    position: int,
    now: dt.datetime,
) -> None:
    await conn.execute(
        sa.insert(tombstones).values(
            patient_id=patient_id,
            kind=kind,
            id=record_id,
            version=version,
            change_position=position,
            deleted_at=now,
        )
    )
