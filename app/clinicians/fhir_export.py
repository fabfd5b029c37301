"""The FHIR report streamed (contract §7, ``Accept: application/fhir+json``): the Bundle's
JSON text in chunks, the entries and sessions read a page at a time, so years of diary
never sit in memory at once (as ``GET …/entries.csv`` does, :mod:`app.diary.export`).

:func:`fhir_report` reads what the document begins with — the patient and its change
position — before the response starts, so an unknown patient or bad bounds are still a
problem+json answer; it hands back the generator of the rest. The resources are built from
the rows by :mod:`app.clinicians.fhir`, the order is the Bundle's: entries by (recorded
instant, id), then sessions by (occurred instant, id), each page one short query on the
stored UTC instant and id (keyset pagination). No connection is held while a chunk is
sent.

Consistency: the document holds the records of the patient's change position read first
(``change_position`` ≤ that position). A record written while the document streams —
created, changed or deleted — is left out rather than sent twice or half-changed; the next
report has it. The Bundle id (:func:`app.clinicians.fhir.export_bundle_id`) is derived from
that position, the ``from``/``to`` bounds and ``generated_at``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from app.accounts.models import User
from app.clinicians import fhir
from app.core.clock import utcnow
from app.core.database import Database, table_of
from app.core.errors import NotFound
from app.core.fields import check_date_range, with_offset
from app.diary.service import entries
from app.records.models import ChangeCounter
from app.sessions.service import sessions

#: Rows read per query (≈ 1.7 MB of JSON for a page of entries with three values each).
PAGE = 1000

_users = table_of(User)
_counters = table_of(ChangeCounter)

_ENTRY_COLUMNS = (
    "id", "recorded_at", "recorded_offset_minutes", "pain", "sleep_hours", "stress", "notes",
)  # fmt: skip
_SESSION_COLUMNS = (
    "id", "occurred_at", "occurred_offset_minutes", "modality", "points",
    "electro_frequency_hz", "duration_minutes", "pain_before", "pain_after",
    "adverse_events", "practitioner", "notes",
)  # fmt: skip


async def fhir_report(
    db: Database, patient_id: uuid.UUID, date_from: dt.date | None, date_to: dt.date | None
) -> AsyncIterator[bytes]:
    """The FHIR R4 Bundle of the patient's entries and sessions whose ``local_date`` is
    within ``date_from``…``date_to`` (each bound optional, inclusive), as UTF-8 chunks.

    Raises before returning: ``Invalid`` for bounds that end before they start, ``NotFound``
    for an unknown patient."""
    check_date_range(date_from, date_to)
    query = (
        sa.select(_users.c.display_name, _users.c.timezone, _counters.c.position)
        .select_from(_users.outerjoin(_counters, _counters.c.patient_id == _users.c.id))
        .where(_users.c.id == patient_id)
    )
    async with db.read() as conn:
        person = (await conn.execute(query)).first()
    if person is None:
        raise NotFound("No such patient.")
    patient = fhir.PatientRecord(patient_id, person.display_name, person.timezone)
    position = person.position or 0
    generated_at = utcnow()
    bundle_id = fhir.export_bundle_id(patient_id, position, date_from, date_to, generated_at)
    opening = fhir.bundle_opening(bundle_id, fhir.fhir_datetime(generated_at), patient)
    return _chunks(db, patient, position, date_from, date_to, opening)


async def _chunks(
    db: Database,
    patient: fhir.PatientRecord,
    position: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    opening: str,
) -> AsyncIterator[bytes]:
    yield opening.encode()
    subject = fhir.patient_urn(patient.id)

    def observations(row: Any) -> list[dict[str, Any]]:
        record = dict(row)
        record["recorded_at"] = with_offset(row["recorded_at"], row["recorded_offset_minutes"])
        return fhir.entry_observations(record, subject)

    def procedure(row: Any) -> list[dict[str, Any]]:
        record = dict(row)
        record["occurred_at"] = with_offset(row["occurred_at"], row["occurred_offset_minutes"])
        return [fhir.session_procedure(record, subject)]

    parts = [
        (entries.table, _ENTRY_COLUMNS, "recorded_at", observations),
        (sessions.table, _SESSION_COLUMNS, "occurred_at", procedure),
    ]
    for table, columns, instant, build in parts:
        pages = _pages(db, table, columns, instant, patient.id, position, date_from, date_to)
        async for rows in pages:
            resources = [resource for row in rows for resource in build(row)]
            yield fhir.more_entries(resources).encode()
    yield fhir.BUNDLE_CLOSING.encode()


async def _pages(
    db: Database,
    table: sa.Table,
    columns: Sequence[str],
    instant: str,
    patient_id: uuid.UUID,
    position: int,
    first: dt.date | None,
    last: dt.date | None,
) -> AsyncIterator[Sequence[RowMapping]]:
    """The patient's records of ``local_date`` ``first``…``last`` and change position up to
    ``position``, in pages ordered by (``instant``, id): ``columns`` of each, as mappings."""
    c = table.c
    order = (c[instant], c.id)
    query = sa.select(*(c[name] for name in columns)).where(
        c.patient_id == patient_id, c.change_position <= position
    )
    if first is not None:
        query = query.where(c.local_date >= first)
    if last is not None:
        query = query.where(c.local_date <= last)
    query = query.order_by(*order).limit(PAGE)
    after: tuple[Any, Any] | None = None
    while True:
        page = query if after is None else query.where(sa.tuple_(*order) > sa.tuple_(*after))
        async with db.read() as conn:
            rows = (await conn.execute(page)).mappings().all()
        if not rows:
            return
        yield rows
        if len(rows) < PAGE:
            return
        after = (rows[-1][instant], rows[-1]["id"])
