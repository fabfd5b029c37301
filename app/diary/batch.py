"""POST …/entries/batch: up to 500 entries from a phone that was offline, each standing or
falling alone, written in a fixed number of statements whatever the batch size."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, WithJsonSchema
from typing_extensions import TypeAliasType

from app.core.clock import utcnow
from app.core.database import Database, one_of
from app.core.errors import Invalid, validation_errors
from app.core.fields import WHOLE
from app.diary.schemas import EntryIn
from app.diary.service import entries
from app.records import changes
from app.records.service import is_unchanged, new_row

MAX_ITEMS = 500
# A named alias: OpenAPI lists it once, as a component clients turn into a type.
BatchStatus = TypeAliasType(
    "BatchStatus", Literal["created", "updated", "unchanged", "conflict", "invalid"]
)


class BatchItem(EntryIn):
    """An entry in a batch: its ``id`` is required; ``if_version`` is the version the phone
    last saw (0 = "only if it does not exist"); a write over a newer version is a
    ``conflict``."""

    id: uuid.UUID  # required in a batch
    if_version: Annotated[int, Strict(), Field(ge=0), WHOLE] | None = None


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are checked one by one (a bad item is reported, not fatal), so any JSON value
    # is taken here; the documented shape of an item is BatchItem.
    items: Annotated[
        list[Any],
        WithJsonSchema(
            {
                "type": "array",
                "maxItems": MAX_ITEMS,
                "items": {"$ref": "#/components/schemas/BatchItem"},
            }
        ),
    ] = Field(max_length=MAX_ITEMS)


class BatchItemError(BaseModel):
    loc: list[str]  # as a problem's `errors[].loc`: field names and indices, as strings
    msg: str


class BatchResult(BaseModel):
    id: uuid.UUID | None
    status: BatchStatus
    version: int | None = None
    errors: list[BatchItemError] | None = None


class BatchResponse(BaseModel):
    results: list[BatchResult]


def _result(record_id: uuid.UUID, status: BatchStatus, version: int | None) -> BatchResult:
    """The outcome of an item that was applied or weighed (validated: cheaper than
    ``model_construct`` with pydantic 2.14, docs/performance.md)."""
    return BatchResult(id=record_id, status=status, version=version)


@dataclass
class _Plan:
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    revived: set[uuid.UUID] = field(default_factory=set)


async def write_batch(
    db: Database, patient_id: uuid.UUID, raw_items: list[dict[str, Any]]
) -> list[BatchResult]:
    """Apply the items in order (a later item with the same id sees the earlier one)."""
    results: list[BatchResult | None] = [None] * len(raw_items)
    parsed: list[tuple[int, BatchItem]] = []
    for index, raw in enumerate(raw_items):
        try:
            parsed.append((index, BatchItem.model_validate(raw)))
        except ValidationError as exc:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            results[index] = BatchResult(
                id=_uuid_or_none(raw_id),
                status="invalid",
                errors=[BatchItemError(**e) for e in validation_errors(exc)],
            )
    if parsed:
        await _apply(db, patient_id, parsed, results)
    return [r for r in results if r is not None]


async def _apply(
    db: Database,
    patient_id: uuid.UUID,
    parsed: list[tuple[int, BatchItem]],
    results: list[BatchResult | None],
) -> None:
    """The last valid item for an id is the one applied; earlier ones with that id were
    superseded on the phone and report its outcome. An item whose content is already
    stored is ``unchanged`` whatever its ``if_version`` (it was applied before: a replay)."""
    table = entries.table
    last_for: dict[uuid.UUID, int] = {item.id: index for index, item in parsed}
    applied = [(index, item) for index, item in parsed if last_for[item.id] == index]
    ids = list(last_for)
    now = utcnow()
    async with db.transaction() as conn:
        # Reserve one change position per applied item; gaps (unchanged items) are harmless.
        last = await changes.next_change_position(conn, patient_id, count=len(applied))
        positions = iter(range(last - len(applied) + 1, last + 1))
        stored = {
            row["id"]: dict(row)
            for row in (
                await conn.execute(
                    sa.select(table)
                    .where(table.c.patient_id == patient_id, one_of(conn, table.c.id, ids))
                    .with_for_update()
                )
            ).mappings()
        }
        buried = await changes.tombstone_versions(conn, patient_id, entries.name, ids)
        plan = _Plan()
        for index, item in applied:
            position = next(positions)
            try:
                results[index] = await _plan_item(
                    conn, patient_id, item, stored.get(item.id), buried, position, now, plan
                )
            except Invalid as exc:
                results[index] = BatchResult(
                    id=item.id,
                    status="invalid",
                    errors=[BatchItemError(loc=e["loc"], msg=e["msg"]) for e in exc.errors],
                )
        await _write(db, conn, patient_id, plan)
    for index, item in parsed:
        if results[index] is None:  # superseded by a later item with the same id
            results[index] = results[last_for[item.id]]


async def _plan_item(
    conn: Any,
    patient_id: uuid.UUID,
    item: BatchItem,
    current: dict[str, Any] | None,
    buried: dict[uuid.UUID, int],
    position: int,
    now: Any,
    plan: _Plan,
) -> BatchResult:
    version = current["version"] if current else None
    values = await entries.prepare(conn, patient_id, item, current, now)  # type: ignore[arg-type]
    if is_unchanged(current, values):
        return _result(item.id, "unchanged", version)
    if item.if_version is not None and item.if_version != (version or 0):
        return _result(item.id, "conflict", version)
    if current is None:
        first = buried.get(item.id, 0) + 1
        if first > 1:
            plan.revived.add(item.id)
        plan.created.append(new_row(values, patient_id, item.id, first, now, position))
        return _result(item.id, "created", first)
    current.update(values)
    current.update(version=current["version"] + 1, updated_at=now, change_position=position)
    plan.updated.append(current)
    return _result(item.id, "updated", current["version"])


async def _write(db: Database, conn: Any, patient_id: uuid.UUID, plan: _Plan) -> None:
    table = entries.table
    if plan.revived:
        await changes.drop_tombstones(conn, patient_id, entries.name, list(plan.revived))
    if plan.created:
        await db.insert_many(conn, table, plan.created)
    if plan.updated:
        columns = [
            c.name for c in table.columns if c.name not in ("patient_id", "id", "created_at")
        ]
        statement = (
            sa.update(table)
            .where(
                table.c.patient_id == sa.bindparam("b_patient_id"),
                table.c.id == sa.bindparam("b_id"),
            )
            .values({name: sa.bindparam(f"b_{name}") for name in columns})
        )
        await conn.execute(
            statement,
            [
                {f"b_{name}": row[name] for name in [*columns, "patient_id", "id"]}
                for row in plan.updated
            ],
        )


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
