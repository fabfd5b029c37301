"""The streamed FHIR report (``GET …/report``, ``Accept: application/fhir+json``) on both
databases: a 10-year diary seeded directly, pages, bounds, writes during the stream, and
the same document as the model-built report (tests/clinicians/test_fhir.py's oracle)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from app.clinicians import fhir, fhir_export
from app.clinicians.fhir import PatientRecord
from app.core.database import Database, table_of
from app.core.errors import NotFound
from app.diary.schemas import EntryOut
from app.diary.service import entries
from app.records.models import ChangeCounter
from app.sessions.schemas import SessionOut
from app.sessions.service import sessions
from tests.clinicians.test_fhir import compact, observation_id, oracle_bundle, validated
from tests.clinicians.test_sharing import link
from tests.conftest import Account, assert_problem

FHIR_JSON = "application/fhir+json"

TEN_YEARS = 3650
SESSIONS = 100
FIRST_DAY = dt.date(2016, 1, 1)
SERVER_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: Offsets the seeded entries are recorded with, in minutes: winter and summer time, and
#: now and then one FHIR can write only in UTC (beyond +14:00) and two odd ones.
ODD_OFFSETS = (900, -300, 345)


def entry_row(patient_id: uuid.UUID, n: int, position: int) -> dict[str, Any]:
    """Day ``n``'s entry: every column, as stored (a UTC instant and its offset)."""
    day = FIRST_DAY + dt.timedelta(days=n)
    offset = ODD_OFFSETS[n // 500 % 3] if n % 500 == 250 else 120 if 90 <= n % 365 < 300 else 60
    local = dt.datetime.combine(day, dt.time(7 + n % 3, n % 60, 0, 250_000 * (n % 4 == 0)))
    recorded_at = (local - dt.timedelta(minutes=offset)).replace(tzinfo=dt.UTC)
    notes = [None, None, "Long drive, flare-up", "bad\x01 night\x1b\tagain\r\n", "   ", "头痛 🚗"]
    return {
        "patient_id": patient_id,
        "id": uuid.UUID(int=(n * 7919) % 2**64 << 64 | n),
        "recorded_at": recorded_at,
        "recorded_offset_minutes": offset,
        "local_date": day,
        "pain": n % 11,
        "pain_worst": min(10, n % 11 + 2) if n % 2 else None,
        "sites": (
            [{"region": "neck", "side": "left", "intensity": 5, "qualities": ["aching"]}]
            if n % 3 == 0
            else []
        ),
        "sleep_hours": None if n % 17 == 0 else 4 + (n % 21) * 0.25,
        "sleep_quality": n % 10,
        "stress": None if n % 11 == 0 else n % 10,
        "mood": n % 9,
        "activity_interference": None,
        "enjoyment_interference": None,
        "medications": (
            [{"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"}]
            if n % 5 == 0
            else []
        ),
        "tags": ["weather"] if n % 4 == 0 else [],
        "notes": notes[n % 6] if n % 7 == 0 else None,
        "backfilled": False,
        "version": 1 + n % 3,
        "created_at": SERVER_TIME,
        "updated_at": SERVER_TIME,
        "change_position": position,
    }


def session_row(patient_id: uuid.UUID, k: int, days: int, position: int) -> dict[str, Any]:
    """Session ``k`` of ``SESSIONS``, spread over ``days``: every column, as stored."""
    day = FIRST_DAY + dt.timedelta(days=k * days // SESSIONS)
    offset = 60 if k % 2 else 120
    modalities = ["acupuncture", "electroacupuncture", "dry_needling", None, "other"]
    modality = modalities[k % 5]
    local = dt.datetime.combine(day, dt.time(17, 30))
    return {
        "patient_id": patient_id,
        "id": uuid.UUID(int=2**127 + k),
        "course_id": None,
        "occurred_at": (local - dt.timedelta(minutes=offset)).replace(tzinfo=dt.UTC),
        "occurred_offset_minutes": offset,
        "local_date": day,
        "modality": modality,
        "points": ["LI4", "GB20", "ST36"][: k % 4],
        "electro_frequency_hz": (2.0, 2.5, 100.0)[k % 3]
        if modality == "electroacupuncture"
        else None,
        "duration_minutes": 20 + k % 15 if k % 3 else None,
        "pain_before": k % 11 if k % 4 else None,
        "pain_after": (k + 5) % 11 if k % 2 else None,
        "adverse_events": ["bruising", "soreness"][: k % 3],
        "practitioner": "Dr. Lee" if k % 2 else None,
        "notes": "Needles retained 30 min." if k % 6 == 0 else None,
        "version": 1,
        "created_at": SERVER_TIME,
        "updated_at": SERVER_TIME,
        "change_position": position,
    }


async def seed_diary(
    db: Database, patient_id: uuid.UUID, days: int = TEN_YEARS, session_count: int = SESSIONS
) -> None:
    """``days`` of entries (one a day) and ``session_count`` sessions, in bulk inserts, each
    with its own change position, and the patient's change counter after them."""
    entry_rows = [entry_row(patient_id, n, n + 1) for n in range(days)]
    session_rows = [session_row(patient_id, k, days, days + k + 1) for k in range(session_count)]
    async with db.transaction() as conn:
        for start in range(0, len(entry_rows), 1000):
            await db.insert_many(conn, entries.table, entry_rows[start : start + 1000])
        if session_rows:
            await db.insert_many(conn, sessions.table, session_rows)
        counters = table_of(ChangeCounter)
        await conn.execute(
            sa.update(counters)
            .where(counters.c.patient_id == patient_id)
            .values(position=days + session_count)
        )


# --- helpers ------------------------------------------------------------------------------


async def stored(
    db: Database, patient_id: uuid.UUID
) -> tuple[list[EntryOut], list[SessionOut], int]:
    """The patient's records as the JSON API shows them, and the change position."""
    async with db.read() as conn:
        entry_rows = await conn.execute(
            sa.select(entries.table).where(entries.table.c.patient_id == patient_id)
        )
        found_entries = [entries.public(row) for row in entry_rows.mappings()]
        session_rows = await conn.execute(
            sa.select(sessions.table).where(sessions.table.c.patient_id == patient_id)
        )
        found_sessions = [sessions.public(row) for row in session_rows.mappings()]
        counters = table_of(ChangeCounter)
        position = (
            await conn.execute(
                sa.select(counters.c.position).where(counters.c.patient_id == patient_id)
            )
        ).scalar_one()
    return found_entries, found_sessions, position


async def collect(
    db: Database,
    patient_id: uuid.UUID,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> bytes:
    chunks = await fhir_export.fhir_report(db, patient_id, date_from, date_to)
    return b"".join([chunk async for chunk in chunks])


def fhir_get(client: TestClient, who: Account, patient: Account, **params: str) -> Any:
    return client.get(
        f"/v1/patients/{patient.id}/report",
        params=params,
        headers={**who.headers, "Accept": FHIR_JSON},
    )


def expected_document(
    body: bytes,
    patient: PatientRecord,
    records: tuple[list[EntryOut], list[SessionOut], int],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> bytes:
    """What the streamed ``body`` must be: the in-memory Bundle of the records within the
    bounds, with the id and timestamp ``body`` holds (which must be those of the export)."""
    found_entries, found_sessions, position = records

    def within(day: dt.date) -> bool:
        return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)

    head = json.loads(body)
    generated_at = dt.datetime.fromisoformat(head["timestamp"])
    bundle_id = fhir.export_bundle_id(patient.id, position, date_from, date_to, generated_at)
    assert head["id"] == str(bundle_id)
    bundle = fhir.fhir_bundle(
        patient,
        [e for e in found_entries if within(e.local_date)],
        [s for s in found_sessions if within(s.local_date)],
        generated_at,
        bundle_id,
    )
    return compact(bundle).encode()


def put_entry(client: TestClient, who: Account, body: dict[str, Any]) -> str:
    entry_id = str(uuid.uuid4())
    response = client.put(f"/v1/patients/me/entries/{entry_id}", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return entry_id


def put_session(client: TestClient, who: Account, body: dict[str, Any]) -> str:
    session_id = str(uuid.uuid4())
    response = client.put(f"/v1/patients/me/sessions/{session_id}", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return session_id


def ids_of(bundle: dict[str, Any], resource_type: str) -> list[str]:
    return [
        item["resource"]["id"]
        for item in bundle["entry"]
        if item["resource"]["resourceType"] == resource_type
    ]


# --- a 10-year diary ----------------------------------------------------------------------


def test_a_ten_year_diary_streams_as_a_valid_bundle(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    portal(seed_diary, db, patient.id)
    link(client, clinician, patient)
    records = portal(stored, db, patient.id)

    response = fhir_get(client, clinician, patient)

    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON
    bundle = response.json()
    Bundle.model_validate(bundle)
    found_entries, found_sessions, _ = records
    assert len(found_entries) == TEN_YEARS and len(found_sessions) == SESSIONS
    values = sum(1 + (e.sleep_hours is not None) + (e.stress is not None) for e in found_entries)
    assert len(bundle["entry"]) == 1 + values + SESSIONS
    kinds = [item["resource"]["resourceType"] for item in bundle["entry"]]
    assert kinds == ["Patient"] + ["Observation"] * values + ["Procedure"] * SESSIONS
    assert len({item["fullUrl"] for item in bundle["entry"]}) == len(bundle["entry"])
    record = PatientRecord(patient.id, "Pat Patient", "Europe/Berlin")
    assert response.content == expected_document(response.content, record, records)


# --- the same document as the model-built report ------------------------------------------


def test_the_stream_is_the_model_built_report_of_the_same_records(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fhir_export, "PAGE", 2)
    same_instant = ["2026-11-20T08:30:00+01:00", "2026-11-20T02:30:00-05:00"]
    bodies: list[dict[str, Any]] = [
        {"recorded_at": same_instant[0], "pain": 6, "sleep_hours": 7.5, "stress": 4},
        {"recorded_at": same_instant[1], "pain": 2, "notes": "bad\x01 night\x1b\tagain\r\n"},
        {"recorded_at": same_instant[0], "pain": 0, "sleep_hours": 0, "stress": 0, "notes": "  "},
        {"recorded_at": "2026-11-20T23:00:00+14:00", "pain": 3, "sleep_hours": 8},
        {"recorded_at": "2026-11-21T08:30:00+15:00", "pain": 4, "notes": "头痛 🚗 <b>&</b>"},
        {"recorded_at": "2026-11-22T06:00:00+05:45", "pain": 5, "sleep_hours": 6.25},
        {"recorded_at": "2026-11-22T06:00:00.250+00:00", "pain": 7, "stress": 9},
        {"recorded_at": "2026-11-23T21:00:00-09:30", "pain": 8, "local_date": "2026-11-22"},
    ]
    for body in bodies:
        put_entry(client, patient, body)
    session_bodies: list[dict[str, Any]] = [
        {
            "occurred_at": "2026-11-20T17:00:00-05:00",
            "modality": "electroacupuncture",
            "points": ["li 4", "GB20"],
            "electro_frequency_hz": 2.5,
            "duration_minutes": 30,
            "pain_before": 6,
            "pain_after": 3,
            "adverse_events": ["bruising", "soreness"],
            "practitioner": "Dr. M\u00fcller <i>",
            "notes": "Needles retained 30 min.",
        },
        {"occurred_at": "2026-11-20T23:00:00+01:00", "modality": "dry_needling"},
        {"occurred_at": "2026-11-20T22:00:00+00:00"},
        {"occurred_at": "2026-11-21T09:00:00+15:00", "modality": "other", "notes": "\x07"},
    ]
    for body in session_bodies:
        put_session(client, patient, body)
    link(client, clinician, patient)
    found_entries, found_sessions, _ = portal(stored, db, patient.id)
    record = PatientRecord(patient.id, "Pat Patient", "Europe/Berlin")

    response = fhir_get(client, clinician, patient)

    streamed = validated(response.json())
    generated_at = dt.datetime.fromisoformat(streamed["timestamp"])
    oracle = oracle_bundle(record, found_entries, found_sessions, generated_at)
    assert compact(streamed) == compact(oracle | {"id": streamed["id"]})
    assert len(ids_of(streamed, "Observation")) == 15
    assert len(ids_of(streamed, "Procedure")) == 4


# --- pages and bounds ---------------------------------------------------------------------


def test_pages_split_equal_instants_by_id(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    monkeypatch: pytest.MonkeyPatch,
    statements: list[str],
) -> None:
    monkeypatch.setattr(fhir_export, "PAGE", 3)
    for n in range(10):
        # Five instants, two entries each (in two offsets): page ends fall between equals.
        instant = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC) + dt.timedelta(hours=n // 2)
        zone = dt.timezone(dt.timedelta(hours=n % 2 * 3))
        put_entry(client, patient, {"recorded_at": instant.astimezone(zone).isoformat(), "pain": n})
    for k in range(4):
        put_session(client, patient, {"occurred_at": f"2026-03-0{2 + k % 2}T10:00:00+01:00"})
    records = portal(stored, db, patient.id)
    record = PatientRecord(patient.id, "Pat Patient", "Europe/Berlin")
    statements.clear()

    body = portal(collect, db, patient.id)

    assert body == expected_document(body, record, records)
    validated(json.loads(body))
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # The patient, then 3 + 3 + 3 + 1 entries and 3 + 1 sessions.
    assert len([s for s in selects if "diary_entries" in s]) == 4
    assert len([s for s in selects if "session_events" in s]) == 2
    assert len(selects) == 7


def test_from_and_to_bound_entries_and_sessions_by_their_local_date(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    inside = [
        # The first day's start in its own offset: the UTC day before.
        put_entry(client, patient, {"recorded_at": "2026-11-01T00:30:00+02:00", "pain": 1}),
        put_entry(client, patient, {"recorded_at": "2026-11-30T23:30:00-05:00", "pain": 2}),
        # Back-filled: the day it is about decides, not when it was recorded.
        put_entry(
            client,
            patient,
            {"recorded_at": "2026-12-02T09:00:00+01:00", "local_date": "2026-11-30", "pain": 3},
        ),
    ]
    before = put_entry(client, patient, {"recorded_at": "2026-10-31T23:30:00-05:00", "pain": 4})
    after = put_entry(client, patient, {"recorded_at": "2026-12-01T00:30:00+02:00", "pain": 5})
    sessions_inside = [
        put_session(client, patient, {"occurred_at": "2026-11-01T00:30:00+02:00"}),
        put_session(client, patient, {"occurred_at": "2026-11-30T23:30:00-05:00"}),
    ]
    session_before = put_session(client, patient, {"occurred_at": "2026-10-31T23:30:00-05:00"})
    session_after = put_session(client, patient, {"occurred_at": "2026-12-01T00:30:00+02:00"})
    link(client, clinician, patient)
    records = portal(stored, db, patient.id)
    record = PatientRecord(patient.id, "Pat Patient", "Europe/Berlin")
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 30)

    response = fhir_get(client, clinician, patient, **{"from": str(first), "to": str(last)})

    assert response.status_code == 200
    bundle = validated(response.json())
    assert ids_of(bundle, "Observation") == pain_ids(inside)
    assert ids_of(bundle, "Procedure") == procedure_ids(sessions_inside)
    assert response.content == expected_document(response.content, record, records, first, last)
    from_only = validated(fhir_get(client, clinician, patient, **{"from": "2026-12-01"}).json())
    assert ids_of(from_only, "Observation") == pain_ids([after])
    assert ids_of(from_only, "Procedure") == procedure_ids([session_after])
    to_only = validated(fhir_get(client, clinician, patient, to="2026-10-31").json())
    assert ids_of(to_only, "Observation") == pain_ids([before])
    assert ids_of(to_only, "Procedure") == procedure_ids([session_before])
    everything = validated(fhir_get(client, clinician, patient).json())
    assert len(ids_of(everything, "Observation")) == 5
    assert len(ids_of(everything, "Procedure")) == 4


def pain_ids(entry_ids: list[str]) -> list[str]:
    return [observation_id(uuid.UUID(i), fhir.PAIN[0]) for i in entry_ids]


def procedure_ids(session_ids: list[str]) -> list[str]:
    return [str(uuid.uuid5(uuid.UUID(i), "Procedure")) for i in session_ids]


# --- consistency --------------------------------------------------------------------------


def test_writes_while_the_document_streams_are_left_out(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fhir_export, "PAGE", 2)
    day = dt.date(2026, 5, 1)

    def at(days: int, hour: int = 8) -> str:
        return f"{day + dt.timedelta(days=days)}T{hour:02d}:00:00+02:00"

    def write(method: str, entry_id: str, status: int, body: Any = None) -> None:
        path = f"/v1/patients/me/entries/{entry_id}"
        response = client.request(method, path, json=body, headers=patient.headers)
        assert response.status_code == status, response.text

    made = [put_entry(client, patient, {"recorded_at": at(n), "pain": n}) for n in range(6)]
    chunks = portal(fhir_export.fhir_report, db, patient.id, None, None)
    received = [portal(chunks.__anext__), portal(chunks.__anext__)]  # the opening, one page
    # Between chunks the stream holds no connection.
    pool = db.engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    assert pool.checkedout() == 0

    # Sent already, moved to the end: it would come again in a later page.
    write("PUT", made[0], 200, {"recorded_at": at(30), "pain": 9})
    # Not sent yet: one changed, one deleted, one new among them.
    write("PUT", made[3], 200, {"recorded_at": at(3), "pain": 10})
    write("DELETE", made[4], 204)
    put_entry(client, patient, {"recorded_at": at(4, hour=9), "pain": 1})
    received.extend(portal(collect_rest, chunks))

    bundle = validated(json.loads(b"".join(received)))
    # What was sent stays as sent; what changed since the document began is not in it.
    assert ids_of(bundle, "Observation") == pain_ids([made[0], made[1], made[2], made[5]])
    assert bundle["entry"][1]["resource"]["valueInteger"] == 0


async def collect_rest(chunks: Any) -> list[bytes]:
    return [chunk async for chunk in chunks]


def test_the_same_position_and_bounds_give_the_same_document(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = dt.datetime(2026, 11, 21, 9, 0, 0, 123456, tzinfo=dt.UTC)
    monkeypatch.setattr(fhir_export, "utcnow", lambda: now)
    made = put_entry(client, patient, {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 6})
    put_session(client, patient, {"occurred_at": "2026-11-20T10:00:00+01:00"})

    first = portal(collect, db, patient.id)
    again = portal(collect, db, patient.id)
    bounded = portal(collect, db, patient.id, dt.date(2026, 11, 1))
    edited = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 5}
    response = client.put(f"/v1/patients/me/entries/{made}", json=edited, headers=patient.headers)
    assert response.status_code == 200
    after_edit = portal(collect, db, patient.id)

    assert again == first
    assert json.loads(first)["timestamp"] == "2026-11-21T09:00:00.123456Z"
    # Same records, other bounds: another document, so another id.
    assert json.loads(bounded)["entry"] == json.loads(first)["entry"]
    assert json.loads(bounded)["id"] != json.loads(first)["id"]
    assert json.loads(after_edit)["id"] != json.loads(first)["id"]


# --- refused before the first byte --------------------------------------------------------


def test_errors_found_before_streaming_are_problems(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    assert_problem(fhir_get(client, clinician, patient), 404)  # not linked
    link(client, clinician, patient)
    bad = fhir_get(client, clinician, patient, **{"from": "2026-12-01", "to": "2026-11-01"})
    assert_problem(bad, 422, field="from")
    assert_problem(fhir_get(client, clinician, patient, to="2026-13-01"), 422)
    with pytest.raises(NotFound):
        portal(fhir_export.fhir_report, db, uuid.uuid4(), None, None)
