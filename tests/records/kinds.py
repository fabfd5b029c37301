"""The three kinds of patient record as the tests see them (contract §2–§4), and a client for
one caller's records of one kind.

The rules the kinds share are tested once, over every kind, in ``test_contract.py``; each
domain's own test file uses the same descriptions for the rules of its kind alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.database import Database
from app.courses.service import courses
from app.diary.service import entries
from app.records.changes import tombstones
from app.sessions.service import sessions
from tests.conftest import Account, assert_problem, count_rows

MERGE_PATCH = "application/merge-patch+json"
#: What every record has that the server sets; the rest is the client's view of it.
SERVER_FIELDS = frozenset({"id", "patient_id", "version", "created_at", "updated_at"})


@dataclasses.dataclass(frozen=True)
class Kind:
    """What the contract's tests need to know of one kind of record."""

    name: str  # the tombstones' `kind` (and the changes feed's `type`)
    label: str  # as problem details name it
    collection: str  # the path segment after the patient
    table: sa.Table
    #: A valid body with every client field set (unlike its default), and the client view
    #: of the record it makes (derived fields included).
    full: Mapping[str, Any]
    full_out: Mapping[str, Any]
    #: The required fields alone (another record than ``full``), and what it reads as.
    minimal: Mapping[str, Any]
    minimal_out: Mapping[str, Any]
    #: An optional integer field: the values 1, 2, 3… make successive versions.
    field: str
    too_big: int  # a value of ``field`` beyond its range
    #: Fields set in ``full`` that a merge patch may null, and what they read as then.
    cleared: Mapping[str, Any]
    required: tuple[str, ...]
    date_field: str  # what ``?from=&to=`` filter on
    on: Callable[[str], dict[str, Any]]  # the fields that put a record on a day
    #: Fields of this kind the server owns or derives, with a value a client might forge.
    forged: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def body(self, **fields: Any) -> dict[str, Any]:
        """``full`` with some fields changed."""
        return {**self.full, **fields}

    def at(self, value: int) -> dict[str, Any]:
        """``full`` with ``field`` at ``value``."""
        return self.body(**{self.field: value})

    @property
    def writable(self) -> set[str]:
        """The fields a client may write: what a merge patch may carry."""
        return (set(self.full_out) - set(self.forged)) | {"id"}


def client_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in SERVER_FIELDS}


ENTRY_FULL: dict[str, Any] = {
    "recorded_at": "2026-11-20T21:15:00+01:00",
    "pain": 6,
    "pain_worst": 8,
    "sites": [
        {"region": "lower_back", "side": "both", "intensity": 7, "qualities": ["aching", "stiff"]},
        {"region": "head", "side": "midline", "intensity": 4, "qualities": ["throbbing"]},
        {"region": "knee", "side": "left", "intensity": 0, "qualities": ["sharp", "burning"]},
    ],
    "sleep_hours": 6.5,
    "sleep_quality": 3,
    "stress": 7,
    "mood": 4,
    "activity_interference": 6,
    "enjoyment_interference": 5,
    "medications": [
        {"name": "Ibuprofen", "dose": 400.0, "unit": "mg", "kind": "as_needed"},
        {"name": "Amitriptyline", "dose": 12.5, "unit": "mg", "kind": "preventive"},
    ],
    "tags": ["weather", "long drive", "yoga"],
    "notes": "Flare-up after the drive; better after stretching.",
}
ENTRY_MINIMAL = {"recorded_at": "2026-11-19T07:45:00-05:00", "pain": 4}

ENTRY = Kind(
    name="entry",
    label="diary entry",
    collection="entries",
    table=entries.table,
    full=ENTRY_FULL,
    # 2026-11-20 ended long before any run of these tests: the entry is back-filled.
    full_out=ENTRY_FULL | {"local_date": "2026-11-20", "backfilled": True},
    minimal=ENTRY_MINIMAL,
    minimal_out=ENTRY_MINIMAL
    | {"local_date": "2026-11-19", "backfilled": True, "sites": [], "medications": []}
    | {"tags": [], "notes": None, "pain_worst": None, "sleep_hours": None}
    | {"sleep_quality": None, "stress": None, "mood": None}
    | {"activity_interference": None, "enjoyment_interference": None},
    field="pain",
    too_big=11,
    cleared={"notes": None, "pain_worst": None, "sites": []},
    required=("recorded_at", "pain"),
    date_field="local_date",
    on=lambda day: {"recorded_at": f"{day}T09:00:00+01:00"},
    forged={"backfilled": False},
)

COURSE_FULL: dict[str, Any] = {
    "name": "Acupuncture for low back pain",
    "condition": "low_back_pain",
    "modality": "acupuncture",
    "start_date": "2026-10-01",
    "end_date": "2026-12-10",
    "planned_sessions": 10,
    "practitioner": "Dr. Li",
    "pattern": "qi stagnation",
    "notes": "weekly on Tuesdays",
}
COURSE_MINIMAL = {"name": "Electro for the knee", "start_date": "2026-09-01"}

COURSE = Kind(
    name="course",
    label="treatment course",
    collection="courses",
    table=courses.table,
    full=COURSE_FULL,
    full_out=COURSE_FULL,
    minimal=COURSE_MINIMAL,
    minimal_out=COURSE_MINIMAL
    | dict.fromkeys(("condition", "modality", "end_date", "planned_sessions"))
    | dict.fromkeys(("practitioner", "pattern", "notes")),
    field="planned_sessions",
    too_big=101,
    cleared={"end_date": None, "condition": None},
    required=("name", "start_date"),
    date_field="start_date",
    on=lambda day: {"start_date": day, "end_date": None},
)

#: Every field but the link to a course (and what goes with it: modality, frequency).
SESSION_FULL: dict[str, Any] = {
    "occurred_at": "2026-10-06T18:30:00+02:00",
    "points": ["LI4", "ST36"],
    "duration_minutes": 30,
    "pain_before": 6,
    "pain_after": 3,
    "adverse_events": ["soreness"],
    "practitioner": "Dr. Li",
    "notes": "felt warm",
}
SESSION_MINIMAL = {"occurred_at": "2026-10-07T09:00:00+02:00"}
NO_COURSE = dict.fromkeys(("course_id", "modality", "electro_frequency_hz"))

SESSION = Kind(
    name="session",
    label="session event",
    collection="sessions",
    table=sessions.table,
    full=SESSION_FULL,
    full_out=SESSION_FULL | NO_COURSE | {"local_date": "2026-10-06"},
    minimal=SESSION_MINIMAL,
    minimal_out=SESSION_MINIMAL
    | NO_COURSE
    | {"local_date": "2026-10-07", "points": [], "adverse_events": []}
    | dict.fromkeys(("duration_minutes", "pain_before", "pain_after", "practitioner", "notes")),
    field="pain_after",
    too_big=11,
    cleared={"notes": None, "points": []},
    required=("occurred_at",),
    date_field="local_date",
    on=lambda day: {"occurred_at": f"{day}T09:00:00+01:00"},
    forged={"local_date": "2001-01-01"},
)

KINDS = (ENTRY, COURSE, SESSION)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_time(value: str) -> dt.datetime:
    """An RFC 3339 timestamp the service sent (it must carry an offset)."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


class Records:
    """One caller's view of one patient's records of one kind, through the HTTP API.

    ``caller=None`` sends no credentials.
    """

    def __init__(
        self, client: TestClient, caller: Account | None, kind: Kind, patient: str = "me"
    ) -> None:
        self.client = client
        self.caller = caller
        self.kind = kind
        self.base = f"/v1/patients/{patient}/{kind.collection}"

    def url(self, record_id: str | uuid.UUID | None = None) -> str:
        return self.base if record_id is None else f"{self.base}/{record_id}"

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        own = {} if self.caller is None else self.caller.headers
        return own | dict(extra or {})

    def request(
        self,
        method: str,
        record_id: str | uuid.UUID | None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        """``body`` None sends none."""
        url, sent = self.url(record_id), self.headers(headers)
        if body is None:
            return self.client.request(method, url, headers=sent)
        return self.client.request(method, url, json=body, headers=sent)

    def put(
        self, record_id: str | uuid.UUID, body: Any, headers: Mapping[str, str] | None = None
    ) -> httpx2.Response:
        return self.request("PUT", record_id, body, headers)

    def post(self, body: Any, headers: Mapping[str, str] | None = None) -> httpx2.Response:
        return self.request("POST", None, body, headers)

    def get(
        self, record_id: str | uuid.UUID, headers: Mapping[str, str] | None = None
    ) -> httpx2.Response:
        return self.request("GET", record_id, None, headers)

    def patch(
        self,
        record_id: str | uuid.UUID,
        patch: Any,
        content_type: str = MERGE_PATCH,
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        """A merge patch; ``patch`` is sent as JSON whatever it is (``None`` too)."""
        extra = {"Content-Type": content_type} | dict(headers or {})
        return self.client.patch(
            self.url(record_id), content=json.dumps(patch).encode(), headers=self.headers(extra)
        )

    def delete(
        self, record_id: str | uuid.UUID, headers: Mapping[str, str] | None = None
    ) -> httpx2.Response:
        return self.request("DELETE", record_id, None, headers)

    def page(self, **params: Any) -> httpx2.Response:
        """One page of the list."""
        return self.client.get(self.base, params=params, headers=self.headers())

    def create(self, record_id: str | uuid.UUID | None = None, /, **fields: Any) -> dict[str, Any]:
        """PUT a new record (the kind's full body with ``fields``); what the server answered."""
        response = self.put(record_id or new_id(), self.kind.body(**fields))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def ids(self, **params: Any) -> list[str]:
        """The ids of one page of the list."""
        response = self.page(**params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    def stored(self) -> dict[str, list[dict[str, Any]]]:
        """Every stored row of this kind's table and of the tombstones (all patients')."""
        state: dict[str, list[dict[str, Any]]] = _portal(self.client).call(
            _stored_state, _db(self.client), self.kind.table
        )
        return state

    def count(self, **where: Any) -> int:
        """How many rows of this kind's table match, e.g. ``count(patient_id=...)``."""
        n: int = _portal(self.client).call(
            lambda: count_rows(_db(self.client), self.kind.table, **where)
        )
        return n


def _db(client: TestClient) -> Database:
    assert isinstance(client.app, FastAPI)
    database: Database = client.app.state.db
    return database


def _portal(client: TestClient) -> Any:
    assert client.portal is not None
    return client.portal


async def _stored_state(db: Database, table: sa.Table) -> dict[str, list[dict[str, Any]]]:
    async with db.read() as conn:
        records = await conn.execute(sa.select(table).order_by(table.c.patient_id, table.c.id))
        graves = await conn.execute(
            sa.select(tombstones).order_by(tombstones.c.patient_id, tombstones.c.id)
        )
        return {
            "records": [dict(row) for row in records.mappings()],
            "tombstones": [dict(row) for row in graves.mappings()],
        }


def assert_invalid(response: httpx2.Response, loc: str) -> dict[str, Any]:
    """A 422 problem whose ``errors`` hold exactly this location (dotted: ``body.pain``)."""
    problem = assert_problem(response, 422, field=loc)
    locs = [".".join(str(part) for part in error["loc"]) for error in problem["errors"]]
    assert loc in locs, (loc, locs)
    assert all(isinstance(error["msg"], str) and error["msg"] for error in problem["errors"])
    return problem


def assert_refused(
    records: Records, fields: Mapping[str, Any], loc: str, **base: Any
) -> list[dict[str, Any]]:
    """``fields`` make a valid body (the kind's full one with ``base``) invalid: a PUT of a
    new record, a POST, a PUT over a stored record and a merge patch of it are each 422
    naming ``loc`` (the patch is validated after the merge), and nothing changes.
    Returns the four problems."""
    stored_id = records.create(**base)["id"]
    state = records.stored()
    body = records.kind.body(**base) | dict(fields)
    responses = (
        records.put(new_id(), body),
        records.post(body),
        records.put(stored_id, body),
        records.patch(stored_id, dict(fields)),
    )
    problems = [assert_invalid(response, loc) for response in responses]
    assert records.stored() == state
    return problems


def invalid_cases(values: Mapping[str, Sequence[Any]]) -> list[Any]:
    """Parameters ``(fields, loc)`` for :func:`assert_refused` from the values each location
    refuses: ``{"points.0": [[4]]}`` gives ``({"points": [4]}, "body.points.0")``."""
    return [
        pytest.param({loc.split(".")[0]: value}, f"body.{loc}", id=f"{loc}={_shown(value)}")
        for loc, refused in values.items()
        for value in refused
    ]


def _shown(value: Any) -> str:
    """A value as a short test id: long strings and lists by their length."""
    if isinstance(value, str) and len(value) > 12:
        return f"{len(value)}-chars"
    if isinstance(value, list):
        return f"{len(value)}-items" if len(value) > 3 else f"[{','.join(map(_shown, value))}]"
    return json.dumps(value)
