"""GET …/changes: every write after a cursor exactly once, in its newest state.

Each record row (and each tombstone) carries the change position of its last write; the
feed is those rows in (position, type, id) order. Positions are taken under the patient's
counter lock, so they commit in order and a stored cursor never skips a later commit.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from app.core.database import Database, one_of
from app.core.pagination import decode_cursor, encode_cursor
from app.courses.service import courses
from app.diary.service import entries
from app.records.changes import tombstones
from app.records.service import RecordKind
from app.sessions.service import sessions
from app.sync.schemas import ChangesPage, CourseChange, EntryChange, SessionChange

KINDS: dict[str, RecordKind[Any, Any]] = {"course": courses, "entry": entries, "session": sessions}
CHANGE_MODELS: dict[str, type[EntryChange | SessionChange | CourseChange]] = {
    "course": CourseChange,
    "entry": EntryChange,
    "session": SessionChange,
}
START = (0, "", uuid.UUID(int=0))


async def changes_since(
    db: Database, patient_id: uuid.UUID, since: str | None, limit: int
) -> ChangesPage:
    after = tuple(decode_cursor(since, [int, str, uuid.UUID], name="since")) if since else START
    key = sa.tuple_(
        sa.literal(after[0], sa.BigInteger),
        sa.literal(after[1], sa.String),
        sa.literal(after[2], sa.Uuid),
    )
    parts = []
    for name, kind in KINDS.items():
        t = kind.table
        kind_name = sa.literal(name, sa.String)
        parts.append(
            sa.select(
                t.c.change_position.label("position"),
                kind_name.label("type"),
                t.c.id,
                t.c.version,
                sa.literal("upsert", sa.String).label("op"),
            ).where(
                t.c.patient_id == patient_id,
                t.c.change_position >= after[0],
                sa.tuple_(t.c.change_position, kind_name, t.c.id) > key,
            )
        )
    parts.append(
        sa.select(
            tombstones.c.change_position.label("position"),
            tombstones.c.kind.label("type"),
            tombstones.c.id,
            tombstones.c.version,
            sa.literal("delete", sa.String).label("op"),
        ).where(
            tombstones.c.patient_id == patient_id,
            tombstones.c.change_position >= after[0],
            sa.tuple_(tombstones.c.change_position, tombstones.c.kind, tombstones.c.id) > key,
        )
    )
    feed = sa.union_all(*parts).subquery()
    query = sa.select(feed).order_by(feed.c.position, feed.c.type, feed.c.id).limit(limit + 1)
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        wanted: dict[str, list[uuid.UUID]] = {}
        for row in rows:
            if row.op == "upsert":
                wanted.setdefault(row.type, []).append(row.id)
        data: dict[tuple[str, uuid.UUID], Any] = {}
        for name, ids in wanted.items():
            kind = KINDS[name]
            found = await conn.execute(
                sa.select(kind.table).where(
                    kind.table.c.patient_id == patient_id, one_of(conn, kind.table.c.id, ids)
                )
            )
            for record in found.mappings():
                data[(name, record["id"])] = kind.public(record)
    changes = [
        CHANGE_MODELS[row.type].model_construct(
            type=row.type,
            id=row.id,
            op=row.op,
            version=row.version,
            data=data.get((row.type, row.id)) if row.op == "upsert" else None,
        )
        for row in rows
    ]
    last = (rows[-1].position, rows[-1].type, rows[-1].id) if rows else after
    return ChangesPage.model_construct(
        changes=changes, next_cursor=encode_cursor(list(last)), has_more=has_more
    )
