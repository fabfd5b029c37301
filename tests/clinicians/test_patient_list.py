"""The patient list keeps each patient's row per version of that patient's data: a write, a
new day, a new name or time zone recomputes that patient's row alone, the store stays
within its size, and the list always equals one computed from scratch. On both databases.

The service is called with its ``now`` so that a test can move "today" without sleeping.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clinicians import overview
from app.clinicians.overview import PatientRows, Row, RowKey
from app.clinicians.schemas import PatientOverview, PatientSort
from app.core.database import Database
from app.core.http import render
from app.core.pagination import Page
from app.main import create_app
from tests.clinicians.test_reports import course, write_entry
from tests.clinicians.test_sharing import link
from tests.conftest import Account, app_of, make_settings, statements_sent

#: Today (UTC) while the test runs; each test pins its "now"s to it.
TODAY = dt.datetime.now(dt.UTC).date()


def at(days: int, hour: int) -> dt.datetime:
    """``hour`` o'clock UTC, ``days`` from today."""
    return dt.datetime.combine(TODAY + dt.timedelta(days=days), dt.time(hour), dt.UTC)


def date(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


Executed = list[tuple[str, Any]]


@pytest.fixture
def executed(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Executed]:
    """Every statement the app's engine sends for requests while the test runs, with its
    parameters (``statements_sent``: the listing, run on the driver on PostgreSQL, with
    none; its only parameter is the clinician)."""
    seen: Executed = []
    with statements_sent(
        db, monkeypatch, lambda statement, params: seen.append((statement, params))
    ):
        yield seen


def ids_in(parameters: Any) -> set[str]:
    """The parameters as hex strings (SQLite binds a UUID as hex, asyncpg as a UUID)."""
    values = parameters.values() if isinstance(parameters, dict) else parameters
    return {str(v).replace("-", "") for v in values}


def recomputed_for(executed: Executed, patients: list[Account]) -> list[set[str]]:
    """For each statement after the first (which lists the linked patients): which of
    ``patients`` it names."""
    return [{p.id.hex for p in patients} & ids_in(parameters) for _, parameters in executed[1:]]


class Lister:
    """The service's list of one clinician's patients, with a store and a "now" of choice."""

    def __init__(self, portal: Callable[..., Any], db: Database, clinician: Account) -> None:
        self.portal, self.db, self.clinician = portal, db, clinician

    def body(
        self,
        rows: PatientRows,
        now: dt.datetime,
        sort: PatientSort = "name",
        offset: int = 0,
        limit: int = 100,
    ) -> bytes:
        body: bytes = self.portal(
            overview.patient_list_json,
            self.db,
            rows,
            self.clinician.id,
            sort,
            offset,
            limit,
            now=now,
        )
        return body

    def items(
        self, rows: PatientRows, now: dt.datetime, sort: PatientSort = "name"
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.body(rows, now, sort))["items"]
        return items


@pytest.fixture
def lister(portal: Callable[..., Any], db: Database, clinician: Account) -> Lister:
    return Lister(portal, db, clinician)


def by_name(items: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {i["display_name"]: (i["pain_7d_mean"], i["attention"]) for i in items}


def test_a_write_recomputes_that_patients_row_alone_and_shows_at_once(
    client: TestClient,
    clinician: Account,
    make_account: Callable[..., Account],
    executed: Executed,
) -> None:
    ann, bob, cid = (make_account("patient", display_name=n) for n in ("Ann", "Bob", "Cid"))
    for who in (ann, bob, cid):
        link(client, clinician, who)
        write_entry(client, who, date(-1), 6)
    rows: PatientRows = app_of(client).state.patient_rows

    def listed() -> dict[str, tuple[Any, ...]]:
        executed.clear()
        response = client.get("/v1/patients", headers=clinician.headers)
        assert response.status_code == 200
        return by_name(response.json()["items"])

    assert listed() == {"Ann": (6.0, []), "Bob": (6.0, []), "Cid": (6.0, [])}
    assert len(executed) == 4
    assert recomputed_for(executed, [ann, bob, cid]) == [{ann.id.hex, bob.id.hex, cid.id.hex}] * 3
    kept = len(rows)

    write_entry(client, bob, date(0), 2)
    assert listed() == {"Ann": (6.0, []), "Bob": (4.0, []), "Cid": (6.0, [])}
    # One query lists the linked patients with their keys; three recompute Bob's row only.
    assert len(executed) == 4 and "change_counters" in executed[0][0]
    assert recomputed_for(executed, [ann, bob, cid]) == [{bob.id.hex}] * 3
    assert len(rows) == kept + 1

    assert listed()["Bob"] == (4.0, [])
    assert len(executed) == 1


def test_a_new_day_recomputes_the_week_and_the_silence(
    client: TestClient,
    lister: Lister,
    clinician: Account,
    make_account: Callable[..., Account],
    executed: Executed,
) -> None:
    """A patient's "today" moves at the patient's midnight: Kit's (UTC+14) ten hours before
    UTC's, Ann's (UTC) at UTC's. The entry six days back then leaves the 7-day window and
    the patient becomes silent (seven days without an entry)."""
    ann = make_account("patient", display_name="Ann", timezone="UTC")
    kit = make_account("patient", display_name="Kit", timezone="Pacific/Kiritimati")
    for who in (ann, kit):
        link(client, clinician, who)
        write_entry(client, who, date(-6), 6)
    rows = PatientRows()

    def listed(now: dt.datetime) -> dict[str, tuple[Any, ...]]:
        executed.clear()
        return by_name(lister.items(rows, now))

    # 09:00 UTC is 23:00 at Kiritimati: the same day for both.
    assert listed(at(0, 9)) == {"Ann": (6.0, []), "Kit": (6.0, [])}
    assert listed(at(0, 9) + dt.timedelta(minutes=59))["Kit"] == (6.0, [])
    assert len(executed) == 1  # nobody's day moved: every row is known
    # 11:00 UTC is 01:00 tomorrow at Kiritimati: Kit's row alone is recomputed.
    assert listed(at(0, 11)) == {"Ann": (6.0, []), "Kit": (None, ["silent"])}
    assert len(executed) == 4
    assert recomputed_for(executed, [ann, kit]) == [{kit.id.hex}] * 3
    # Ann's day moves on at UTC's midnight.
    assert listed(at(1, 0)) == {"Ann": (None, ["silent"]), "Kit": (None, ["silent"])}
    listed(at(1, 1))
    assert len(executed) == 1


def test_a_new_name_or_time_zone_shows_at_once(
    client: TestClient,
    lister: Lister,
    clinician: Account,
    make_account: Callable[..., Account],
) -> None:
    """Neither moves the change position, only the account version."""
    ann = make_account("patient", display_name="Ann", timezone="UTC")
    link(client, clinician, ann)
    write_entry(client, ann, date(-6), 6)
    rows = PatientRows()
    noon = at(0, 12)
    assert by_name(lister.items(rows, noon)) == {"Ann": (6.0, [])}
    # Noon UTC is 02:00 tomorrow at Kiritimati.
    patched = client.patch("/v1/me", json={"timezone": "Pacific/Kiritimati"}, headers=ann.headers)
    assert patched.status_code == 200
    assert by_name(lister.items(rows, noon)) == {"Ann": (None, ["silent"])}
    patched = client.patch("/v1/me", json={"display_name": "Ann B."}, headers=ann.headers)
    assert patched.status_code == 200
    assert by_name(lister.items(rows, noon)) == {"Ann B.": (None, ["silent"])}


def row(n: int) -> tuple[RowKey, Row]:
    key: RowKey = (uuid.uuid4(), n, 1, TODAY, TODAY)
    return key, Row(b"{}", (str(n),), (str(n),))


def test_the_store_keeps_at_most_its_size_least_recently_used_out_first() -> None:
    rows = PatientRows(max_rows=2)
    (k1, r1), (k2, r2), (k3, r3) = row(1), row(2), row(3)
    rows.put(k1, r1)
    rows.put(k2, r2)
    assert rows.get(k1) is r1  # now k2 is the least recently used
    rows.put(k3, r3)
    assert len(rows) == 2
    assert rows.get(k2) is None and rows.get(k1) is r1 and rows.get(k3) is r3
    nothing = PatientRows(max_rows=0)
    nothing.put(k1, r1)
    assert len(nothing) == 0 and nothing.get(k1) is None
    assert PatientRows().max_rows == overview.ROWS_KEPT


def test_a_clinic_larger_than_the_store_is_still_listed_right(
    client: TestClient,
    lister: Lister,
    clinician: Account,
    make_account: Callable[..., Account],
) -> None:
    for n in range(5):
        who = make_account("patient", display_name=f"P{n}")
        link(client, clinician, who)
        write_entry(client, who, date(-n), n)
    small = PatientRows(max_rows=2)
    noon = at(0, 12)
    for sort in ("name", "attention", "name"):
        assert lister.body(small, noon, sort) == lister.body(PatientRows(), noon, sort)
        assert len(small) == 2


def assert_equals_from_scratch(lister: Lister, rows: PatientRows, now: dt.datetime) -> None:
    """The list from the long-lived store equals one computed from nothing, in both orders
    and page by page, and its JSON is exactly ``Page[PatientOverview]`` rendered."""
    for sort in ("name", "attention"):
        whole = lister.body(rows, now, sort)
        assert whole == lister.body(PatientRows(), now, sort)
        assert whole == render(Page[PatientOverview].model_validate_json(whole))
        pages: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = json.loads(lister.body(rows, now, sort, offset, 2))
            pages += page["items"]
            if page["next_cursor"] is None:
                break
            offset += 2
        assert pages == json.loads(whole)["items"]


def test_the_list_equals_a_computation_from_scratch_through_every_kind_of_change(
    client: TestClient,
    lister: Lister,
    clinician: Account,
    make_account: Callable[..., Account],
) -> None:
    zones = ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin", "Asia/Kolkata")
    people = [
        make_account("patient", display_name=name, timezone=zone)
        for name, zone in zip(("eve", "Dan", "cat", "Bob", "Ann"), zones, strict=True)
    ]
    for who in people:
        link(client, clinician, who)
    eve, dan, cat, bob, ann = people
    # Eve: substantial response. Dan: worse. Cat: a course ending yesterday and an early
    # baseline. Bob: silent. Ann: nothing at all.
    for who, before, now in ((eve, 8, 2), (dan, 4, 6), (cat, 5, 5)):
        course(client, who, date(-14))
        for n in (-20, -19, -18, -13, -12, -11):
            write_entry(client, who, date(n), before)
        for n in (-3, -1, 0):
            write_entry(client, who, date(n), now)
    ended = str(uuid.uuid4())
    body = {"name": "Cupping", "start_date": str(date(-5)), "end_date": str(date(-1))}
    response = client.put(f"/v1/patients/me/courses/{ended}", json=body, headers=cat.headers)
    assert response.status_code == 201, response.text
    write_entry(client, bob, date(-9), 3)

    rows = PatientRows()
    nows = (at(0, 1), at(0, 12), at(0, 23), at(1, 0), at(1, 13), at(2, 2))

    def check() -> None:
        for now in nows:
            assert_equals_from_scratch(lister, rows, now)

    check()
    write_entry(client, ann, date(-2), 7)
    check()
    entry = str(uuid.uuid4())
    response = client.put(
        f"/v1/patients/me/entries/{entry}",
        json={"recorded_at": f"{date(0)}T08:00:00+00:00", "local_date": str(date(0)), "pain": 9},
        headers=dan.headers,
    )
    assert response.status_code == 201
    check()
    assert client.delete(f"/v1/patients/me/entries/{entry}", headers=dan.headers).status_code == 204
    check()
    course(client, bob, date(-1), name="Massage")
    check()
    session = {"occurred_at": f"{date(0)}T10:00:00+00:00", "modality": "acupuncture"}
    response = client.put(
        f"/v1/patients/me/sessions/{uuid.uuid4()}", json=session, headers=eve.headers
    )
    assert response.status_code == 201, response.text
    check()
    patched = client.patch("/v1/me", json={"timezone": "Pacific/Kiritimati"}, headers=ann.headers)
    assert patched.status_code == 200
    check()
    patched = client.patch("/v1/me", json={"display_name": "Zed"}, headers=eve.headers)
    assert patched.status_code == 200
    check()
    revoked = client.delete(f"/v1/patients/me/links/{clinician.id}", headers=dan.headers)
    assert revoked.status_code == 204
    check()
    assert "Dan" not in by_name(lister.items(rows, nows[0]))
    link(client, clinician, dan)
    newcomer = make_account("patient", display_name="Fay", timezone="America/New_York")
    link(client, clinician, newcomer)
    check()
    assert {"Dan", "Fay"} <= set(by_name(lister.items(rows, nows[0])))


def test_many_changed_patients_are_recomputed_in_chunks(
    client: TestClient,
    lister: Lister,
    clinician: Account,
    make_account: Callable[..., Account],
    executed: Executed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However many rows are missing, each query names at most ``IDS_PER_QUERY`` patients."""
    people = [make_account("patient", display_name=f"P{n}") for n in range(5)]
    for n, who in enumerate(people):
        link(client, clinician, who)
        write_entry(client, who, date(-n), n)
    noon = at(0, 12)
    expected = lister.body(PatientRows(), noon)
    monkeypatch.setattr(overview, "IDS_PER_QUERY", 2)
    executed.clear()
    assert lister.body(PatientRows(), noon) == expected
    assert len(executed) == 1 + 3 * 3
    assert [len(named) for named in recomputed_for(executed, people)] == [2] * 6 + [1] * 3


def test_a_process_keeping_no_rows_computes_every_row_of_every_page(
    lister: Lister,
    clinician: Account,
    make_account: Callable[..., Account],
    client: TestClient,
    executed: Executed,
) -> None:
    """``PAINDIARY_PATIENT_ROWS_KEPT=0``: the same list, every row computed for every page
    (listing and three recomputing queries each time)."""
    assert create_app(make_settings("sqlite:///never-opened.db")).state.patient_rows.max_rows == (
        overview.ROWS_KEPT
    )
    settings = make_settings("sqlite:///never-opened.db", patient_rows_kept=0)
    nothing = create_app(settings).state.patient_rows
    assert nothing.max_rows == 0
    for name in ("Ann", "Bob"):
        who = make_account("patient", display_name=name)
        link(client, clinician, who)
        write_entry(client, who, date(-1), 5)
    noon = at(0, 12)
    expected = lister.body(PatientRows(), noon)
    for _ in range(2):
        executed.clear()
        assert lister.body(nothing, noon) == expected
        assert len(executed) == 4
    assert len(nothing) == 0
