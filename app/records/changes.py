"""Change positions and tombstones, used by every write of a patient's records."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
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


@functools.cache
def create_with_position(table: sa.Table, kind: str) -> sa.Insert:
    """One PostgreSQL statement that creates a record: it takes the patient's next change
    position, removes a tombstone left at the id (continuing its version) and inserts the
    row — or does nothing when a row with that id exists (then it returns no row).

    Built once per table; execute it with :func:`creation_parameters` of the row (every
    column but ``version`` and ``change_position``). Run alone in autocommit it is atomic, and the
    counter row stays locked only for that one statement.
    """
    columns = [c.name for c in table.columns if c.name not in ("version", "change_position")]
    position = (
        sa.update(counters)
        .where(counters.c.patient_id == sa.bindparam("v_patient_id"))
        .values(position=counters.c.position + 1)
        .returning(counters.c.position)
        .cte("position")
    )
    buried = (
        sa.delete(tombstones)
        .where(
            tombstones.c.patient_id == sa.bindparam("v_patient_id"),
            tombstones.c.kind == kind,
            tombstones.c.id == sa.bindparam("v_id"),
        )
        .returning(tombstones.c.version)
        .cte("buried")
    )
    version = sa.func.coalesce(sa.select(buried.c.version).scalar_subquery(), 0) + 1
    values = [sa.bindparam(f"v_{name}", type_=table.c[name].type) for name in columns]
    source = sa.select(*values, version, position.c.position)
    return (
        pg_insert(table)
        .from_select([*columns, "version", "change_position"], source)
        .on_conflict_do_nothing(index_elements=["patient_id", "id"])
        .returning(table.c.version, table.c.change_position)
        .add_cte(position, buried)
    )


def creation_parameters(row: dict[str, Any]) -> dict[str, Any]:
    # Prefixed: keys named like columns would be taken as the INSERT's VALUES.
    return {f"v_{name}": value for name, value in row.items()}


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
