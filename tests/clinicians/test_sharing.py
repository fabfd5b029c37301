"""Consent end to end: share codes, links, what a linked clinician may do, the access log,
revocation — on both databases."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.access.models import AccessLogEntry, ClinicianLink
from app.clinicians.models import ShareCode
from app.core.database import Database, table_of
from app.core.ratelimit import rate_limit
from app.core.security import digest
from tests.conftest import Account, app_of, assert_problem, count_rows

ENTRY = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 6, "notes": "stiff neck"}
COURSE = {"name": "Acupuncture", "modality": "acupuncture", "start_date": "2026-11-02"}


def share(client: TestClient, patient: Account, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/patients/me/share-codes", json=body or None, headers=patient.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def link(client: TestClient, clinician: Account, patient: Account) -> dict[str, Any]:
    code = share(client, patient)["code"]
    response = client.post("/v1/links", json={"code": code}, headers=clinician.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_share_code_is_unguessable_single_use_and_expiring(
    client: TestClient, patient: Account, clinician: Account
) -> None:
    before = dt.datetime.now(dt.UTC)
    created = share(client, patient, expires_in_hours=2)
    code = created["code"]
    assert len(code.replace("-", "")) == 12 and code.replace("-", "").isalnum()
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert dt.timedelta(hours=2) <= expires - before < dt.timedelta(hours=2, seconds=30)
    assert share(client, patient)["code"] != code  # codes are random
    default = dt.datetime.fromisoformat(share(client, patient)["expires_at"]) - before
    assert dt.timedelta(hours=72) <= default < dt.timedelta(hours=72, seconds=30)

    linked = client.post("/v1/links", json={"code": code.lower()}, headers=clinician.headers)
    assert linked.status_code == 201
    assert linked.json()["patient_id"] == str(patient.id)
    assert linked.json()["display_name"] == "Pat Patient"
    again = client.post("/v1/links", json={"code": code}, headers=clinician.headers)
    assert_problem(again, 404)


def test_an_expired_code_is_404(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    code = share(client, patient, expires_in_hours=1)["code"]

    async def expire() -> None:
        table = table_of(ShareCode)
        async with db.transaction() as conn:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await conn.execute(sa.update(table).values(expires_at=past))

    portal(expire)
    assert_problem(client.post("/v1/links", json={"code": code}, headers=clinician.headers), 404)
    assert portal(count_rows, db, table_of(ClinicianLink)) == 0


@pytest.mark.parametrize(
    "body",
    [{"expires_in_hours": 0}, {"expires_in_hours": 169}, {"expires_in_hours": "2"}, {"hours": 2}],
)
def test_bad_share_code_requests(
    client: TestClient,
    patient: Account,
    db: Database,
    portal: Callable[..., Any],
    body: dict[str, Any],
) -> None:
    response = client.post("/v1/patients/me/share-codes", json=body, headers=patient.headers)
    assert_problem(response, 422)
    assert portal(count_rows, db, table_of(ShareCode)) == 0


def test_only_patients_share_and_only_clinicians_redeem(
    client: TestClient, patient: Account, other_patient: Account, clinician: Account
) -> None:
    assert_problem(client.post("/v1/patients/me/share-codes", headers=clinician.headers), 403)
    code = share(client, patient)["code"]
    assert_problem(
        client.post("/v1/links", json={"code": code}, headers=other_patient.headers), 403
    )
    assert_problem(client.post("/v1/links", json={"code": code}), 401)


def test_the_code_is_stored_only_as_a_digest(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    code = share(client, patient)["code"]

    async def stored() -> list[str]:
        async with db.read() as conn:
            return list((await conn.execute(sa.select(table_of(ShareCode).c.code_hash))).scalars())

    assert portal(stored) == [digest(code.replace("-", ""))]


def test_a_linked_clinician_reads_and_writes_care_but_not_the_diary(
    client: TestClient, patient: Account, clinician: Account
) -> None:
    entry_url = f"/v1/patients/me/entries/{uuid.uuid4()}"
    assert client.put(entry_url, json=ENTRY, headers=patient.headers).status_code == 201
    base = f"/v1/patients/{patient.id}"
    assert_problem(client.get(f"{base}/entries", headers=clinician.headers), 404)  # not yet

    link(client, clinician, patient)
    listed = client.get(f"{base}/entries", headers=clinician.headers)
    assert listed.status_code == 200 and listed.json()["items"][0]["notes"] == "stiff neck"
    course_id = uuid.uuid4()
    course = client.put(f"{base}/courses/{course_id}", json=COURSE, headers=clinician.headers)
    assert course.status_code == 201
    session = client.post(
        f"{base}/sessions",
        json={
            "course_id": str(course_id),
            "occurred_at": "2026-11-02T10:00:00+01:00",
            "points": ["LI4"],
        },
        headers=clinician.headers,
    )
    assert session.status_code == 201 and session.json()["modality"] == "acupuncture"
    diary_write = client.put(
        f"{base}/entries/{uuid.uuid4()}", json=ENTRY, headers=clinician.headers
    )
    assert_problem(diary_write, 403)
    assert_problem(
        client.delete(f"{base}{entry_url[len('/v1/patients/me') :]}", headers=clinician.headers),
        403,
    )
    # "me" is the caller's own record, and a clinician has none.
    assert_problem(client.get("/v1/patients/me/entries", headers=clinician.headers), 404)


def test_share_read_log_revoke_lockout(
    client: TestClient, patient: Account, clinician: Account, make_account: Callable[..., Account]
) -> None:
    other_clinician = make_account("clinician", display_name="Dr. Other")
    client.put(f"/v1/patients/me/entries/{uuid.uuid4()}", json=ENTRY, headers=patient.headers)
    linked = link(client, clinician, patient)
    base = f"/v1/patients/{patient.id}"

    links = client.get("/v1/patients/me/links", headers=patient.headers).json()
    assert [(x["clinician_id"], x["display_name"]) for x in links] == [
        (str(clinician.id), "Dr. Chen")
    ]
    assert links[0]["linked_at"] == linked["linked_at"]

    assert client.get(f"{base}/report", headers=clinician.headers).status_code == 200
    assert (
        client.get(
            f"{base}/report", headers={**clinician.headers, "Accept": "application/fhir+json"}
        ).status_code
        == 200
    )
    assert client.get(f"{base}/report/chart.svg", headers=clinician.headers).status_code == 200
    assert_problem(client.get(f"{base}/report", headers=other_clinician.headers), 404)

    log = client.get("/v1/patients/me/access-log", headers=patient.headers).json()["items"]
    assert [(x["method"], x["path"]) for x in log] == [
        ("GET", f"{base}/report/chart.svg"),
        ("GET", f"{base}/report"),
        ("GET", f"{base}/report"),
    ]
    assert {x["actor_id"] for x in log} == {str(clinician.id)}
    assert {x["actor_display_name"] for x in log} == {"Dr. Chen"}
    # The patient's own reads are not logged.
    client.get(f"{base}/report", headers=patient.headers)
    assert (
        len(client.get("/v1/patients/me/access-log", headers=patient.headers).json()["items"]) == 3
    )

    revoked = client.delete(f"/v1/patients/me/links/{clinician.id}", headers=patient.headers)
    assert revoked.status_code == 204
    for path in ("/report", "/report/chart.svg", "/entries", "/courses", "/summary"):
        assert_problem(client.get(base + path, headers=clinician.headers), 404)
    assert client.get("/v1/patients", headers=clinician.headers).json()["items"] == []
    assert_problem(
        client.delete(f"/v1/patients/me/links/{clinician.id}", headers=patient.headers), 404
    )
    assert (
        len(client.get("/v1/patients/me/access-log", headers=patient.headers).json()["items"]) == 3
    )


def test_access_log_pages_newest_first(
    client: TestClient, patient: Account, clinician: Account
) -> None:
    link(client, clinician, patient)
    for _ in range(5):
        client.get(f"/v1/patients/{patient.id}/entries", headers=clinician.headers)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            "/v1/patients/me/access-log", params=params, headers=patient.headers
        ).json()
        seen += [x["at"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)


def test_redeeming_is_rate_limited(
    client: TestClient, clinician: Account, patient: Account
) -> None:
    state = app_of(client).state
    shared = state.link_attempts
    limit = shared.limit
    # A fresh count (on PostgreSQL the table is emptied before each test anyway).
    state.link_attempts = rate_limit(state.db, "share-codes", limit, shared.window)
    try:
        for _ in range(limit):
            wrong = client.post(
                "/v1/links", json={"code": "ZZZZ-ZZZZ-ZZZZ"}, headers=clinician.headers
            )
            assert_problem(wrong, 404)
        blocked = client.post(
            "/v1/links", json={"code": share(client, patient)["code"]}, headers=clinician.headers
        )
        assert_problem(blocked, 429)
        assert 1 <= int(blocked.headers["retry-after"]) <= 900
    finally:
        state.link_attempts = shared


def test_erasing_a_clinician_removes_links_but_keeps_the_patients_log(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    link(client, clinician, patient)
    client.get(f"/v1/patients/{patient.id}/entries", headers=clinician.headers)
    assert client.delete("/v1/me", headers=clinician.headers).status_code == 204
    assert portal(count_rows, db, table_of(ClinicianLink)) == 0
    log = client.get("/v1/patients/me/access-log", headers=patient.headers).json()["items"]
    assert len(log) == 1 and log[0]["actor_display_name"] is None
    assert portal(count_rows, db, table_of(AccessLogEntry), patient_id=patient.id) == 1


def test_export_holds_links_codes_and_the_access_log(
    client: TestClient, patient: Account, clinician: Account
) -> None:
    link(client, clinician, patient)
    client.get(f"/v1/patients/{patient.id}/entries", headers=clinician.headers)
    export = client.get("/v1/me/export", headers=patient.headers).json()
    assert [c["clinician_id"] for c in export["clinician_links"]] == [str(clinician.id)]
    assert export["clinician_links"][0]["email"] == clinician.email
    assert len(export["share_codes"]) == 1 and export["share_codes"][0]["used_by"] == str(
        clinician.id
    )
    assert "code" not in export["share_codes"][0] and "code_hash" not in export["share_codes"][0]
    assert [(e["method"], e["path"]) for e in export["access_log"]] == [
        ("GET", f"/v1/patients/{patient.id}/entries")
    ]


def test_an_erased_accounts_token_cannot_share_or_link(
    client: TestClient, patient: Account, clinician: Account, make_account: Any
) -> None:
    """Access tokens outlive an erasure by up to 15 minutes: they get 401, never a 500,
    and a refused redemption leaves the code usable."""
    code = share(client, patient)["code"]
    assert client.delete("/v1/me", headers=clinician.headers).status_code == 204
    refused = client.post("/v1/links", json={"code": code}, headers=clinician.headers)
    assert_problem(refused, 401)
    other = make_account("clinician")
    taken = client.post("/v1/links", json={"code": code}, headers=other.headers)
    assert taken.status_code == 201 and taken.json()["patient_id"] == str(patient.id)

    assert client.delete("/v1/me", headers=patient.headers).status_code == 204
    assert_problem(client.post("/v1/patients/me/share-codes", headers=patient.headers), 401)
