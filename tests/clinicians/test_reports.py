"""The clinician's patient list, the JSON report and the CSV export, on both databases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from app.clinicians.schemas import Report
from app.diary.export import COLUMNS
from tests.clinicians.test_sharing import link
from tests.conftest import Account, assert_problem


def day(n: int, tz: str = "UTC") -> dt.date:
    """n days from today in the zone."""
    return dt.datetime.now(ZoneInfo(tz)).date() + dt.timedelta(days=n)


def write_entry(client: TestClient, who: Account, date: dt.date, pain: int, **fields: Any) -> None:
    body = {"recorded_at": f"{date}T12:00:00+00:00", "local_date": str(date), "pain": pain} | fields
    response = client.put(f"/v1/patients/me/entries/{uuid.uuid4()}", json=body, headers=who.headers)
    assert response.status_code == 201, response.text


def course(client: TestClient, who: Account, start: dt.date, name: str = "Acupuncture") -> str:
    course_id = str(uuid.uuid4())
    body = {"name": name, "start_date": str(start), "modality": "acupuncture"}
    assert (
        client.put(
            f"/v1/patients/me/courses/{course_id}", json=body, headers=who.headers
        ).status_code
        == 201
    )
    return course_id


def test_patient_list_values_and_attention_order(
    client: TestClient, clinician: Account, make_account: Callable[..., Account]
) -> None:
    better = make_account("patient", display_name="Ann Better")
    worse = make_account("patient", display_name="Bob Worse")
    silent = make_account("patient", display_name="Cid Silent")
    flat = make_account("patient", display_name="Dee Flat")
    for who in (better, worse, silent, flat):
        link(client, clinician, who)
    # Ann: baseline 8 → now 2 (−75 %, substantial). Bob: 4 → 6 (+50 %, worse).
    # Dee: 5 → 5 (unchanged: not responding). Cid: last entry 10 days ago, no course.
    for who, before, now in ((better, 8, 2), (worse, 4, 6), (flat, 5, 5)):
        course(client, who, day(-14))
        for n in (-20, -19, -18):
            write_entry(client, who, day(n), before)
        for n in (-2, -1, 0):
            write_entry(client, who, day(n), now)
    write_entry(client, silent, day(-10), 7)

    by_name = client.get("/v1/patients", headers=clinician.headers)
    assert by_name.status_code == 200
    items = by_name.json()["items"]
    assert [i["display_name"] for i in items] == [
        "Ann Better",
        "Bob Worse",
        "Cid Silent",
        "Dee Flat",
    ]
    ann = items[0]
    assert ann["last_entry_date"] == str(day(0))
    assert ann["pain_7d_mean"] == 2.0
    assert ann["active_course"]["reduction_pct"] == 75.0
    assert ann["active_course"]["category"] == "substantial"
    assert ann["attention"] == []
    assert items[1]["active_course"]["reduction_pct"] == -50.0
    assert items[1]["attention"] == ["worse", "not_responding"] or items[1]["attention"] == [
        "worse"
    ]
    assert items[2]["active_course"] is None and items[2]["pain_7d_mean"] is None
    assert items[2]["last_entry_date"] == str(day(-10)) and items[2]["attention"] == ["silent"]
    assert items[3]["active_course"]["category"] == "unchanged"
    assert items[3]["attention"] == ["not_responding"]

    attention = client.get("/v1/patients", params={"sort": "attention"}, headers=clinician.headers)
    order = [i["display_name"] for i in attention.json()["items"]]
    assert order == ["Bob Worse", "Cid Silent", "Dee Flat", "Ann Better"]

    page1 = client.get("/v1/patients", params={"limit": 3}, headers=clinician.headers).json()
    page2 = client.get(
        "/v1/patients",
        params={"limit": 3, "cursor": page1["next_cursor"]},
        headers=clinician.headers,
    ).json()
    assert len(page1["items"]) == 3 and [i["display_name"] for i in page2["items"]] == ["Dee Flat"]
    assert page2["next_cursor"] is None


def test_the_patient_list_takes_the_same_queries_for_one_patient_or_many(
    client: TestClient,
    clinician: Account,
    make_account: Callable[..., Account],
    statements: list[str],
) -> None:
    """One query lists the linked patients; the rows not known yet are computed in three
    more, whether one patient's or six patients' rows are missing."""

    def queries_for_list() -> int:
        statements.clear()
        assert client.get("/v1/patients", headers=clinician.headers).status_code == 200
        return len(statements)

    first = make_account("patient")
    link(client, clinician, first)
    course(client, first, day(-3))
    assert queries_for_list() == 4
    for _ in range(6):
        who = make_account("patient")
        link(client, clinician, who)
        course(client, who, day(-3))
        write_entry(client, who, day(0), 4)
    assert queries_for_list() == 4
    write_entry(client, first, day(0), 5)
    assert queries_for_list() == 4
    assert queries_for_list() == 1


def test_an_unchanged_patient_list_is_answered_from_one_query(
    client: TestClient, clinician: Account, patient: Account, statements: list[str]
) -> None:
    link(client, clinician, patient)
    write_entry(client, patient, day(0), 4)
    first = client.get("/v1/patients", headers=clinician.headers)
    statements.clear()
    again = client.get("/v1/patients", headers=clinician.headers)
    assert again.content == first.content
    # The linked patients with their change positions: every row is known already.
    assert len(statements) == 1 and "change_counters" in statements[0]


@pytest.mark.parametrize(
    "change",
    ["entry", "deleted entry", "course", "display name", "time zone", "revoked", "linked"],
)
def test_the_patient_list_is_never_stale(
    client: TestClient,
    clinician: Account,
    make_account: Callable[..., Account],
    change: str,
) -> None:
    """Whatever changes in a linked patient's data or the link set, the very next list
    shows it."""
    ann = make_account("patient", display_name="Ann")
    link(client, clinician, ann)
    entry_id = str(uuid.uuid4())
    body = {"recorded_at": f"{day(-1)}T12:00:00+00:00", "local_date": str(day(-1)), "pain": 6}
    response = client.put(f"/v1/patients/me/entries/{entry_id}", json=body, headers=ann.headers)
    assert response.status_code == 201
    before = client.get("/v1/patients", headers=clinician.headers).json()["items"]
    assert [(i["display_name"], i["pain_7d_mean"]) for i in before] == [("Ann", 6.0)]
    expected: list[tuple[Any, ...]] = [("Ann", 6.0)]
    if change == "entry":
        write_entry(client, ann, day(0), 2)
        expected = [("Ann", 4.0)]
    elif change == "deleted entry":
        deleted = client.delete(f"/v1/patients/me/entries/{entry_id}", headers=ann.headers)
        assert deleted.status_code == 204
        expected = [("Ann", None)]
    elif change == "course":
        course(client, ann, day(-3), name="Electroacupuncture")
    elif change == "display name":
        patched = client.patch("/v1/me", json={"display_name": "Ann B."}, headers=ann.headers)
        assert patched.status_code == 200
        expected = [("Ann B.", 6.0)]
    elif change == "time zone":
        # Far enough east that "today" moves on for Ann wherever UTC's day is.
        patched = client.patch(
            "/v1/me", json={"timezone": "Pacific/Kiritimati"}, headers=ann.headers
        )
        assert patched.status_code == 200
    elif change == "revoked":
        revoked = client.delete(f"/v1/patients/me/links/{clinician.id}", headers=ann.headers)
        assert revoked.status_code == 204
        expected = []
    elif change == "linked":
        link(client, clinician, make_account("patient", display_name="Bea"))
        expected = [("Ann", 6.0), ("Bea", None)]
    after = client.get("/v1/patients", headers=clinician.headers).json()["items"]
    assert [(i["display_name"], i["pain_7d_mean"]) for i in after] == expected
    if change == "course":
        assert after[0]["active_course"]["name"] == "Electroacupuncture"


def test_only_clinicians_have_a_patient_list(client: TestClient, patient: Account) -> None:
    assert_problem(client.get("/v1/patients", headers=patient.headers), 403)
    assert_problem(client.get("/v1/patients"), 401)


def test_json_report(client: TestClient, patient: Account, clinician: Account) -> None:
    course_id = course(client, patient, day(-14))
    for n in (-20, -19, -18):
        write_entry(client, patient, day(n, "Europe/Berlin"), 8)
    for n in (-2, -1, 0):
        write_entry(client, patient, day(n, "Europe/Berlin"), 4, notes=f"day {n}")
    write_entry(client, patient, day(-40, "Europe/Berlin"), 9)  # not recent
    session = {
        "course_id": course_id,
        "occurred_at": f"{day(-14)}T10:00:00+01:00",
        "pain_before": 7,
        "pain_after": 4,
    }
    assert (
        client.post("/v1/patients/me/sessions", json=session, headers=patient.headers).status_code
        == 201
    )
    link(client, clinician, patient)

    response = client.get(f"/v1/patients/{patient.id}/report", headers=clinician.headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    Report.model_validate(report)
    assert report["patient"] == {
        "id": str(patient.id),
        "display_name": "Pat Patient",
        "timezone": "Europe/Berlin",
    }
    assert report["as_of"] == str(day(0, "Europe/Berlin"))
    assert len(report["courses"]) == 1
    summary = report["courses"][0]["summary"]
    assert report["courses"][0]["course"]["id"] == course_id
    assert summary["baseline"]["pain_mean"] == 8.0 and summary["current"]["pain_mean"] == 4.0
    assert summary["reduction_pct"] == 50.0 and summary["category"] == "substantial"
    assert summary["sessions_completed"] == 1 and summary["mean_relief"] == 3.0
    assert [e["notes"] for e in report["recent_entries"]] == [
        "day 0",
        "day -1",
        "day -2",
        None,
        None,
        None,
    ]
    assert len(report["sessions"]) == 1
    # The same numbers the course summary endpoint gives.
    direct = client.get(
        f"/v1/patients/me/courses/{course_id}/summary", headers=patient.headers
    ).json()
    assert direct == summary

    bounded = client.get(
        "/v1/patients/me/report",
        params={"from": str(day(0)), "to": str(day(0))},
        headers=patient.headers,
    ).json()
    assert bounded["sessions"] == []
    assert_problem(
        client.get(
            "/v1/patients/me/report",
            params={"from": str(day(0)), "to": str(day(-1))},
            headers=patient.headers,
        ),
        422,
        field="from",
    )


def test_csv_export(client: TestClient, patient: Account, clinician: Account) -> None:
    body = {
        "recorded_at": "2026-11-20T23:30:00-05:00",
        "pain": 6,
        "pain_worst": 8,
        "sites": [
            {"region": "neck", "side": "left", "intensity": 6, "qualities": ["aching", "stiff"]},
            {"region": "head"},
        ],
        "sleep_hours": 5.5,
        "medications": [
            {"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"},
            {"name": "amitriptyline", "kind": "preventive"},
        ],
        "tags": ["long drive", "weather"],
        "notes": 'said "ouch", then; =HYPERLINK("x")\nsecond line',
    }
    entry_id = "0b6f7a52-2a38-4a4c-9d55-4a3c0d1e2f30"
    assert (
        client.put(
            f"/v1/patients/me/entries/{entry_id}", json=body, headers=patient.headers
        ).status_code
        == 201
    )
    write_entry(client, patient, dt.date(2026, 11, 18), 3)
    write_entry(client, patient, dt.date(2026, 11, 25), 2)
    link(client, clinician, patient)

    response = client.get(
        f"/v1/patients/{patient.id}/entries.csv",
        params={"to": "2026-11-22"},
        headers=clinician.headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == COLUMNS
    assert [r[2] for r in rows[1:]] == ["2026-11-18", "2026-11-20"]  # oldest first, `to` applied
    row = dict(zip(COLUMNS, rows[2], strict=True))
    assert row["id"] == entry_id
    assert row["recorded_at"] == "2026-11-20T23:30:00-05:00"
    assert (row["pain"], row["pain_worst"], row["sleep_hours"], row["stress"]) == (
        "6",
        "8",
        "5.5",
        "",
    )
    assert row["sites"] == "neck/left@6:aching+stiff;head"
    assert row["medications"] == "ibuprofen 400 mg (as_needed);amitriptyline (preventive)"
    assert row["tags"] == "long drive;weather"
    assert row["notes"] == body["notes"]  # quoting keeps commas, quotes, newlines
    assert row["backfilled"] == "true" and row["version"] == "1"
    assert_problem(
        client.get(
            "/v1/patients/me/entries.csv",
            params={"from": "2026-11-22", "to": "2026-11-01"},
            headers=patient.headers,
        ),
        422,
    )


def test_csv_guards_against_spreadsheet_formulas(client: TestClient, patient: Account) -> None:
    write_entry(client, patient, dt.date(2026, 11, 18), 3, notes="=1+1", tags=["@home"])
    rows = list(
        csv.reader(
            io.StringIO(client.get("/v1/patients/me/entries.csv", headers=patient.headers).text)
        )
    )
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert row["notes"] == "'=1+1" and row["tags"] == "'@home"


def test_csv_streams_in_pages(
    client: TestClient, patient: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.diary.export as export

    monkeypatch.setattr(export, "PAGE", 3)
    for n in range(8):
        write_entry(client, patient, dt.date(2026, 1, 1) + dt.timedelta(days=n % 4), n % 11)
    rows = list(
        csv.reader(
            io.StringIO(client.get("/v1/patients/me/entries.csv", headers=patient.headers).text)
        )
    )
    assert len(rows) == 9
    assert len({r[0] for r in rows[1:]}) == 8  # every entry once across pages
    assert [r[2] for r in rows[1:]] == sorted(r[2] for r in rows[1:])


def test_fhir_report_over_http_validates(
    client: TestClient, patient: Account, clinician: Account
) -> None:
    from fhir.resources.R4B.bundle import Bundle

    entry = {"recorded_at": "2026-11-20T08:30:00+05:45", "pain": 6, "sleep_hours": 6.5, "stress": 3}
    client.put(f"/v1/patients/me/entries/{uuid.uuid4()}", json=entry, headers=patient.headers)
    write_entry(client, patient, dt.date(2026, 10, 1), 4)  # outside from/to below
    session = {
        "occurred_at": "2026-11-19T17:00:00-05:00",
        "points": ["li 4", "GB20"],
        "modality": "acupuncture",
    }
    client.post("/v1/patients/me/sessions", json=session, headers=patient.headers)
    link(client, clinician, patient)

    response = client.get(
        f"/v1/patients/{patient.id}/report",
        params={"from": "2026-11-01", "to": "2026-11-30"},
        headers={**clinician.headers, "Accept": "application/fhir+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    resources = [e["resource"] for e in bundle["entry"]]
    kinds = sorted(r["resourceType"] for r in resources)
    assert kinds == ["Observation", "Observation", "Observation", "Patient", "Procedure"]
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    for r in resources:
        if "subject" in r:
            assert r["subject"]["reference"] in full_urls
    pain = next(
        r for r in resources if r.get("code", {}).get("coding", [{}])[0].get("code") == "72514-3"
    )
    assert pain["valueInteger"] == 6 and pain["effectiveDateTime"] == "2026-11-20T08:30:00+05:45"
    sleep = next(
        r for r in resources if r.get("code", {}).get("coding", [{}])[0].get("code") == "93832-4"
    )
    assert sleep["valueQuantity"] == {
        "value": 6.5,
        "unit": "h",
        "system": "http://unitsofmeasure.org",
        "code": "h",
    }
    procedure = next(r for r in resources if r["resourceType"] == "Procedure")
    assert procedure["status"] == "completed"
    assert procedure["performedDateTime"] == "2026-11-19T17:00:00-05:00"
    assert [b["text"] for b in procedure["bodySite"]] == ["LI4", "GB20"]


def test_chart_over_http_escapes_what_patients_typed(
    client: TestClient, patient: Account, clinician: Account
) -> None:
    import xml.etree.ElementTree as ET

    hostile = '</text><script>alert("x")</script><text>'
    course_id = str(uuid.uuid4())
    body = {"name": hostile, "start_date": str(day(-10))}
    assert (
        client.put(
            f"/v1/patients/me/courses/{course_id}", json=body, headers=patient.headers
        ).status_code
        == 201
    )
    for n in (-12, -11, -9, -8, -1):
        write_entry(client, patient, day(n), 5)
    session = {"course_id": course_id, "occurred_at": f"{day(-9)}T10:00:00+00:00"}
    client.post("/v1/patients/me/sessions", json=session, headers=patient.headers)
    link(client, clinician, patient)

    response = client.get(f"/v1/patients/{patient.id}/report/chart.svg", headers=clinician.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    svg = response.text
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    missing = client.get(
        "/v1/patients/me/report/chart.svg",
        params={"course_id": str(uuid.uuid4())},
        headers=patient.headers,
    )
    assert_problem(missing, 404)
    no_course = client.get(
        f"/v1/patients/{clinician.id}/report/chart.svg", headers=clinician.headers
    )
    assert_problem(no_course, 404)
