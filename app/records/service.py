"""Patient-owned, versioned records: diary entries, treatment courses and session events.

Each kind is described once (:class:`RecordKind`); this module holds the rules they share:
client-generated ids with idempotent ``PUT``, ``version`` +1 per change, preconditions,
JSON merge patch, tombstones on delete and a change position on every write.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.clock import utcnow
from app.core.database import Database
from app.core.errors import Invalid, NotFound, PreconditionFailed
from app.core.http import Preconditions
from app.core.pagination import decode_cursor, encode_cursor
from app.records import changes

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)

WriteStatus = Literal["created", "updated", "unchanged"]


class RecordKind(Generic[InT, OutT]):
    """What differs between kinds of record. Subclasses live in each domain's service."""

    name: ClassVar[str]  # "entry", "course", "session": the changes feed's `type`
    label: ClassVar[str]  # "diary entry": used in messages
    collection: ClassVar[str]  # "entries": its path segment and its operationIds' prefix
    table: ClassVar[sa.Table]
    schema: ClassVar[type[BaseModel]]  # the request body (InT)
    #: Columns of the list order, newest first; the last one is unique (the id).
    order: ClassVar[Sequence[str]]
    #: Column that ``?from=&to=`` filter on.
    date_column: ClassVar[str]

    async def prepare(
        self,
        conn: AsyncConnection,
        patient_id: uuid.UUID,
        body: InT,
        existing: RowMapping | None,
        now: dt.datetime,
    ) -> dict[str, Any]:
        """Column values for a validated body (domain rules that need the database go here)."""
        raise NotImplementedError

    def editable(self, row: RowMapping) -> dict[str, Any]:
        """The client-writable fields of a stored record, JSON-compatible (for merge patch)."""
        raise NotImplementedError

    def public(self, row: Mapping[Any, Any]) -> OutT:
        raise NotImplementedError

    async def before_delete(
        self, conn: AsyncConnection, patient_id: uuid.UUID, row: RowMapping, position: int
    ) -> None:
        """Hook for kinds that other records point at."""

    def pk(self, patient_id: uuid.UUID, record_id: uuid.UUID) -> sa.ColumnElement[bool]:
        c = self.table.c
        return sa.and_(c.patient_id == patient_id, c.id == record_id)


@dataclass(slots=True)
class WriteResult(Generic[OutT]):
    record: OutT
    version: int
    status: WriteStatus


async def get_record(
    db: Database, kind: RecordKind[Any, OutT], patient_id: uuid.UUID, record_id: uuid.UUID
) -> OutT:
    async with db.read() as conn:
        row = (
            (await conn.execute(sa.select(kind.table).where(kind.pk(patient_id, record_id))))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"No {kind.label} with id {record_id}.")
    return kind.public(row)


async def put_record(
    db: Database,
    kind: RecordKind[InT, OutT],
    patient_id: uuid.UUID,
    record_id: uuid.UUID,
    body: InT,
    pre: Preconditions | None = None,
) -> WriteResult[OutT]:
    """Create or replace a record at a client-chosen id; an identical replay changes nothing.

    Two statement paths, each for a reason: on PostgreSQL, a new record — most of a phone's
    sync — is created in one statement (one round trip, no transaction held open); when the
    id is taken, for a conditional replace, and always on SQLite (one writer, no round
    trips to save), the write takes the general path: one transaction that locks the
    patient's change counter and the record.
    """
    _check_body_id(body, record_id)
    if db.dialect == "postgresql" and (pre is None or pre.if_match is None):
        created = await _create_in_one_statement(db, kind, patient_id, record_id, body)
        if created is not None:
            return created
    async with db.transaction() as conn:
        position = await changes.next_change_position(conn, patient_id)
        existing = await _locked(conn, kind, patient_id, record_id)
        return await _save(conn, kind, patient_id, record_id, body, existing, position, pre)


async def patch_record(
    db: Database,
    kind: RecordKind[InT, OutT],
    patient_id: uuid.UUID,
    record_id: uuid.UUID,
    patch: dict[str, Any],
    pre: Preconditions | None = None,
) -> WriteResult[OutT]:
    """Apply an RFC 7396 JSON merge patch to the record's writable fields."""
    async with db.transaction() as conn:
        position = await changes.next_change_position(conn, patient_id)
        existing = await _locked(conn, kind, patient_id, record_id)
        if existing is None:
            raise NotFound(f"No {kind.label} with id {record_id}.")
        merged = merge_patch_of(kind.schema, kind.editable(existing), patch)
        try:
            body: InT = kind.schema.model_validate(merged)  # type: ignore[assignment]
        except ValidationError as exc:
            raise Invalid.from_validation(exc) from exc
        _check_body_id(body, record_id)
        return await _save(conn, kind, patient_id, record_id, body, existing, position, pre)


async def delete_record(
    db: Database,
    kind: RecordKind[Any, Any],
    patient_id: uuid.UUID,
    record_id: uuid.UUID,
    pre: Preconditions | None = None,
) -> None:
    """Delete a record, leaving a tombstone. Deleting it again is a no-op (safe retries)."""
    async with db.transaction() as conn:
        position = await changes.next_change_position(conn, patient_id)
        existing = await _locked(conn, kind, patient_id, record_id)
        if existing is None:
            buried = await changes.find_tombstone(conn, patient_id, kind.name, record_id)
            if buried is None:
                raise NotFound(f"No {kind.label} with id {record_id}.")
            if pre is not None and pre.if_match is not None:
                raise PreconditionFailed(f"The {kind.label} has been deleted.")
            return
        if pre is not None and not pre.match_ok(existing["version"]):
            raise PreconditionFailed(_stale(kind, existing["version"]))
        await kind.before_delete(conn, patient_id, existing, position)
        await conn.execute(sa.delete(kind.table).where(kind.pk(patient_id, record_id)))
        await changes.bury(
            conn, patient_id, kind.name, record_id, existing["version"] + 1, position, utcnow()
        )


async def list_records(
    db: Database,
    kind: RecordKind[Any, OutT],
    patient_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> tuple[list[OutT], str | None]:
    """One page, newest first, and the cursor of the next page (None on the last)."""
    table = kind.table
    order_cols = [table.c[name] for name in kind.order]
    query = sa.select(table).where(table.c.patient_id == patient_id, *where)
    date_col = table.c[kind.date_column]
    if date_from is not None:
        query = query.where(date_col >= date_from)
    if date_to is not None:
        query = query.where(date_col <= date_to)
    if cursor is not None:
        types = [col.type.python_type for col in order_cols]
        after = decode_cursor(cursor, types)
        query = query.where(sa.tuple_(*order_cols) < sa.tuple_(*after))
    query = query.order_by(*(col.desc() for col in order_cols)).limit(limit + 1)
    async with db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1][name] for name in kind.order])
    return [kind.public(row) for row in rows], next_cursor


def is_unchanged(stored: Mapping[Any, Any] | None, values: Mapping[str, Any]) -> bool:
    """Whether a write of ``values`` would leave the stored record as it is (a replay)."""
    return stored is not None and all(stored[name] == value for name, value in values.items())


def new_row(
    values: Mapping[str, Any],
    patient_id: uuid.UUID,
    record_id: uuid.UUID,
    version: int,
    now: dt.datetime,
    position: int,
) -> dict[str, Any]:
    """The stored row of a record created now: its values plus the server fields."""
    return {
        **values,
        "patient_id": patient_id,
        "id": record_id,
        "version": version,
        "created_at": now,
        "updated_at": now,
        "change_position": position,
    }


def merge_patch_of(model: type[BaseModel], target: dict[str, Any], patch: Any) -> Any:
    """``patch`` merged (RFC 7396) into ``target``, the writable fields of a ``model``, for
    the model to validate. A member naming no field stays in, ``null`` included: the model
    then refuses it (422, as any other unknown member) where the merge would have removed
    nothing in silence — a misspelt field meant to clear a value."""
    merged = merge_patch(target, patch)
    if isinstance(patch, dict) and isinstance(merged, dict):
        merged |= {k: v for k, v in patch.items() if v is None and k not in model.model_fields}
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


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
        sa.update(changes.counters)
        .where(changes.counters.c.patient_id == sa.bindparam("v_patient_id"))
        .values(position=changes.counters.c.position + 1)
        .returning(changes.counters.c.position)
        .cte("position")
    )
    buried = (
        sa.delete(changes.tombstones)
        .where(
            changes.tombstones.c.patient_id == sa.bindparam("v_patient_id"),
            changes.tombstones.c.kind == kind,
            changes.tombstones.c.id == sa.bindparam("v_id"),
        )
        .returning(changes.tombstones.c.version)
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


async def _create_in_one_statement(
    db: Database,
    kind: RecordKind[InT, OutT],
    patient_id: uuid.UUID,
    record_id: uuid.UUID,
    body: InT,
) -> WriteResult[OutT] | None:
    """The common case — a new record — in one round trip; None when the id is taken (or the
    patient is gone), and the caller takes the general path."""
    now = utcnow()
    async with db.single_statement() as conn:
        values = await kind.prepare(conn, patient_id, body, None, now)
        row = {**values, "patient_id": patient_id, "id": record_id}
        row |= {"created_at": now, "updated_at": now}
        statement = create_with_position(kind.table, kind.name)
        inserted = await db.first_row(conn, statement, creation_parameters(row))
    if inserted is None:
        return None
    row |= {"version": inserted["version"], "change_position": inserted["change_position"]}
    return WriteResult(kind.public(row), inserted["version"], "created")


async def _locked(
    conn: AsyncConnection, kind: RecordKind[Any, Any], patient_id: uuid.UUID, record_id: uuid.UUID
) -> RowMapping | None:
    query = sa.select(kind.table).where(kind.pk(patient_id, record_id)).with_for_update()
    return (await conn.execute(query)).mappings().first()


async def _save(
    conn: AsyncConnection,
    kind: RecordKind[InT, OutT],
    patient_id: uuid.UUID,
    record_id: uuid.UUID,
    body: InT,
    existing: RowMapping | None,
    position: int,
    pre: Preconditions | None,
) -> WriteResult[OutT]:
    current = None if existing is None else existing["version"]
    now = utcnow()
    values = await kind.prepare(conn, patient_id, body, existing, now)
    unchanged = is_unchanged(existing, values)
    if pre is not None and not pre.match_ok(current):
        # RFC 9110 §13.1.1: a retried If-Match write whose change is already stored (the
        # response was lost) may succeed; If-None-Match (create only) may not.
        if not (unchanged and pre.if_none_match is None):
            if current is None:
                raise PreconditionFailed(f"No {kind.label} with id {record_id} to update.")
            raise PreconditionFailed(_stale(kind, current))
    table = kind.table
    if existing is None:
        buried = await changes.take_tombstone(conn, patient_id, kind.name, record_id)
        version = 1 if buried is None else buried + 1
        row = new_row(values, patient_id, record_id, version, now, position)
        await conn.execute(sa.insert(table).values(row))
        return WriteResult(kind.public(row), row["version"], "created")
    if unchanged:
        return WriteResult(kind.public(existing), existing["version"], "unchanged")
    update = {
        **values,
        "version": existing["version"] + 1,
        "updated_at": now,
        "change_position": position,
    }
    await conn.execute(sa.update(table).where(kind.pk(patient_id, record_id)).values(update))
    return WriteResult(kind.public({**existing, **update}), update["version"], "updated")


def _check_body_id(body: BaseModel, record_id: uuid.UUID) -> None:
    body_id = getattr(body, "id", None)
    if body_id is not None and body_id != record_id:
        raise Invalid([(["body", "id"], "differs from the id in the path")])


def _stale(kind: RecordKind[Any, Any], current: int) -> str:
    return f"The {kind.label} is at version {current}; fetch it again before changing it."
