"""/v1/auth/register, /v1/auth/token (password grant), /v1/me and /v1/me/export (contract §1)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from app.accounts.models import RefreshToken, User
from app.core.database import Database, table_of
from app.courses.models import TreatmentCourse
from app.diary.models import DiaryEntry
from app.records.models import ChangeCounter, Tombstone
from app.sessions.models import SessionEvent
from tests.conftest import PASSWORD, SECRET, Account, assert_problem, count_rows

users = table_of(User)
refresh_tokens = table_of(RefreshToken)
entries = table_of(DiaryEntry)
courses = table_of(TreatmentCourse)
sessions = table_of(SessionEvent)
counters = table_of(ChangeCounter)
tombstones = table_of(Tombstone)

USER_FIELDS = {
    "id", "email", "role", "display_name", "timezone", "version", "created_at", "updated_at",
}  # fmt: skip


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


def mint(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_records(client: TestClient, account: Account) -> dict[str, dict[str, Any]]:
    """One diary entry, one course and one session of that course, through the API."""
    recorded = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).astimezone(
        dt.timezone(dt.timedelta(hours=1))
    )
    start = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    entry_id, course_id, session_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = "/v1/patients/me"
    entry = client.put(
        f"{base}/entries/{entry_id}",
        json={"recorded_at": recorded.isoformat(), "pain": 6, "tags": ["weather"]},
        headers=account.headers,
    )
    assert entry.status_code == 201, entry.text
    course = client.put(
        f"{base}/courses/{course_id}",
        json={"name": "Neck course", "modality": "acupuncture", "start_date": start},
        headers=account.headers,
    )
    assert course.status_code == 201, course.text
    session = client.put(
        f"{base}/sessions/{session_id}",
        json={
            "course_id": str(course_id),
            "occurred_at": recorded.isoformat(),
            "points": ["li 4", "GB-20"],
            "pain_before": 6,
            "pain_after": 3,
        },
        headers=account.headers,
    )
    assert session.status_code == 201, session.text
    return {"entry": entry.json(), "course": course.json(), "session": session.json()}


# --- register ---------------------------------------------------------------------------


def test_register_returns_the_user_with_defaults(
    client: TestClient, db: Database, portal: Callable[..., Any]
) -> None:
    response = client.post(
        "/v1/auth/register",
        json={"email": "Ada.Lovelace@Example.ORG", "password": "0123456789", "role": "patient"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == "ada.lovelace@example.org"
    assert body["role"] == "patient"
    assert body["timezone"] == "UTC"
    assert body["display_name"] is None
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"]
    created = dt.datetime.fromisoformat(body["created_at"])
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=1)
    user_id = uuid.UUID(body["id"])
    assert "0123456789" not in response.text
    assert portal(count_rows, db, users, id=user_id, email="ada.lovelace@example.org") == 1
    assert portal(count_rows, db, counters, patient_id=user_id) == 1


def test_a_registered_patient_can_sign_in_and_write(client: TestClient) -> None:
    registered = client.post(
        "/v1/auth/register",
        json={"email": "New.Patient@example.org", "password": PASSWORD, "role": "patient"},
    ).json()
    pair = sign_in(client, "new.patient@example.org").json()
    recorded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()

    entry = client.put(
        f"/v1/patients/me/entries/{uuid.uuid4()}",
        json={"recorded_at": recorded, "pain": 4},
        headers=bearer(pair["access_token"]),
    )

    assert entry.status_code == 201, entry.text
    assert entry.json()["patient_id"] == registered["id"]


def test_register_clinician_with_name_and_timezone(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/register",
        json={
            "email": "chen@example.org",
            "password": PASSWORD,
            "role": "clinician",
            "display_name": "  Dr. Chen ",
            "timezone": "America/New_York",
        },
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == "clinician"
    assert body["display_name"] == "Dr. Chen"
    assert body["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "Zq9!xy.12"}, "password"),  # 9 characters
        ({"password": ""}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@"}, "email"),
        ({"role": "admin"}, "role"),
        ({"role": None}, "role"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"nickname": "Ada"}, "nickname"),
    ],
)
def test_register_rejects_bad_input_and_stores_nothing(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {"email": "ada@example.org", "password": PASSWORD, "role": "patient"} | change

    response = client.post("/v1/auth/register", json=body)

    problem = assert_problem(response, 422, field=field)
    assert problem["errors"][0]["msg"]
    assert "Zq9!xy.12" not in response.text  # rejected input is not echoed back
    assert portal(count_rows, db, users) == 0
    assert portal(count_rows, db, counters) == 0


@pytest.mark.parametrize("missing", ["email", "password", "role"])
def test_register_requires_each_field(
    client: TestClient, db: Database, portal: Callable[..., Any], missing: str
) -> None:
    body = {"email": "ada@example.org", "password": PASSWORD, "role": "patient"}
    del body[missing]

    assert_problem(client.post("/v1/auth/register", json=body), 422, field=missing)
    assert portal(count_rows, db, users) == 0


def test_register_unknown_field_says_so(client: TestClient) -> None:
    body = {"email": "ada@example.org", "password": PASSWORD, "role": "patient", "nick": "A"}

    problem = assert_problem(client.post("/v1/auth/register", json=body), 422, field="nick")

    assert problem["errors"] == [{"loc": ["body", "nick"], "msg": "unknown field"}]


@pytest.mark.parametrize("again", ["ada@example.org", "ADA@Example.Org"])
def test_register_duplicate_email_is_409(
    client: TestClient, db: Database, portal: Callable[..., Any], again: str
) -> None:
    first = client.post(
        "/v1/auth/register",
        json={"email": "ada@example.org", "password": PASSWORD, "role": "patient"},
    )
    assert first.status_code == 201

    second = client.post(
        "/v1/auth/register",
        json={"email": again, "password": "another password", "role": "clinician"},
    )

    assert_problem(second, 409)
    assert portal(count_rows, db, users) == 1
    assert portal(count_rows, db, users, role="patient") == 1
    # The first account keeps its password.
    assert sign_in(client, "ada@example.org").status_code == 200
    assert sign_in(client, "ada@example.org", "another password").status_code == 401


# --- token endpoint: password grant -----------------------------------------------------


def test_password_grant_issues_a_working_pair(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    response = sign_in(client, patient.email.upper())

    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert isinstance(pair["refresh_token"], str) and len(pair["refresh_token"]) >= 40
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(pair["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(patient.id)
    assert claims["role"] == "patient"
    assert claims["exp"] - claims["iat"] == 900
    me = client.get("/v1/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == str(patient.id)
    assert portal(count_rows, db, refresh_tokens, user_id=patient.id) == 1


def test_password_grant_for_clinician_carries_its_role(
    client: TestClient, clinician: Account
) -> None:
    pair = sign_in(client, clinician.email).json()

    claims = jwt.decode(pair["access_token"], SECRET, algorithms=["HS256"])
    assert claims["role"] == "clinician"


def test_wrong_password_and_unknown_email_look_the_same(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    wrong_password = sign_in(client, patient.email, "not the password")
    unknown_email = sign_in(client, "nobody@example.org", PASSWORD)

    first = assert_problem(wrong_password, 401)
    second = assert_problem(unknown_email, 401)
    assert first == second
    assert wrong_password.headers["www-authenticate"] == "Bearer"
    assert unknown_email.headers["www-authenticate"] == "Bearer"
    assert portal(count_rows, db, refresh_tokens) == 0


def test_unsupported_grant_type_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/token", data={"grant_type": "client_credentials", "username": "a@b.org"}
    )

    problem = assert_problem(response, 400)
    assert "grant_type" in problem["detail"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"username": "ada@example.org", "password": PASSWORD}, "grant_type"),
        ({"grant_type": "password", "password": PASSWORD}, "username"),
        ({"grant_type": "password", "username": "ada@example.org"}, "username"),
        ({"grant_type": "password", "username": "", "password": ""}, "username"),
        ({"grant_type": "refresh_token"}, "refresh_token"),
        ({"grant_type": "refresh_token", "refresh_token": ""}, "refresh_token"),
    ],
)
def test_token_endpoint_missing_fields_is_422(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    form: dict[str, str],
    field: str,
) -> None:
    assert_problem(client.post("/v1/auth/token", data=form), 422, field=field)
    assert portal(count_rows, db, refresh_tokens) == 0


def test_token_endpoint_wants_a_form_not_json(client: TestClient, patient: Account) -> None:
    response = client.post(
        "/v1/auth/token",
        json={"grant_type": "password", "username": patient.email, "password": PASSWORD},
    )

    assert_problem(response, 422, field="grant_type")


# --- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/me"),
        ("PATCH", "/v1/me"),
        ("DELETE", "/v1/me"),
        ("GET", "/v1/me/export"),
        ("POST", "/v1/auth/revoke"),
        ("GET", "/v1/patients/me/entries"),
    ],
)
def test_no_token_is_401_with_bearer_challenge(client: TestClient, method: str, path: str) -> None:
    body = {"refresh_token": "x"} if path.endswith("revoke") else {}
    response = client.request(method, path, json=body)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def _bad_tokens(user_id: uuid.UUID) -> dict[str, str]:
    now = int(time.time())
    good = {"sub": str(user_id), "role": "patient", "iat": now, "exp": now + 600}
    return {
        "garbage": "not-a-jwt",
        "expired": mint(good | {"iat": now - 3600, "exp": now - 60}),
        "other key": mint(good, key="another-secret-key-that-is-long-enough-987654"),
        "alg none": _unsigned(good),
        "no exp": mint({k: v for k, v in good.items() if k != "exp"}),
        "no sub": mint({k: v for k, v in good.items() if k != "sub"}),
        "sub not uuid": mint(good | {"sub": "admin"}),
        "no role": mint({k: v for k, v in good.items() if k != "role"}),
        "HS512": _hs512(good),
        "tampered": _tampered(mint(good)),
    }


def _hs512(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():  # PyJWT warns that the key is short for HS512
        warnings.simplefilter("ignore")
        return mint(claims, algorithm="HS512")


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{flipped}"


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "expired",
        "other key",
        "alg none",
        "no exp",
        "no sub",
        "sub not uuid",
        "no role",
        "HS512",
        "tampered",
    ],
)
def test_bad_access_tokens_are_401(client: TestClient, patient: Account, kind: str) -> None:
    token = _bad_tokens(patient.id)[kind]

    response = client.get("/v1/me", headers=bearer(token))

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_freshly_minted_token_with_the_right_key_works(
    client: TestClient, patient: Account
) -> None:
    # The control for the test above: the same claims, well signed, are accepted.
    now = int(time.time())
    token = mint({"sub": str(patient.id), "role": "patient", "iat": now, "exp": now + 600})

    assert client.get("/v1/me", headers=bearer(token)).status_code == 200


def test_other_authorization_schemes_are_401(client: TestClient, patient: Account) -> None:
    response = client.get("/v1/me", headers={"Authorization": f"Basic {patient.token}"})

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_of_a_user_that_does_not_exist_is_401(client: TestClient) -> None:
    now = int(time.time())
    token = mint({"sub": str(uuid.uuid4()), "role": "patient", "iat": now, "exp": now + 600})

    assert_problem(client.get("/v1/me", headers=bearer(token)), 401)


# --- /v1/me -----------------------------------------------------------------------------


def test_get_me(client: TestClient, patient: Account) -> None:
    response = client.get("/v1/me", headers=patient.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == str(patient.id)
    assert body["email"] == patient.email
    assert body["role"] == "patient"
    assert body["display_name"] == "Pat Patient"
    assert body["timezone"] == "Europe/Berlin"
    assert body["version"] == 1
    assert "password" not in response.text


def test_get_me_as_clinician(client: TestClient, clinician: Account) -> None:
    body = client.get("/v1/me", headers=clinician.headers).json()

    assert body["role"] == "clinician"
    assert body["display_name"] == "Dr. Chen"
    assert body["timezone"] == "UTC"


def test_patch_me_changes_display_name(client: TestClient, patient: Account) -> None:
    before = client.get("/v1/me", headers=patient.headers).json()

    response = client.patch("/v1/me", json={"display_name": "Pat P."}, headers=patient.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Pat P."
    assert body["timezone"] == "Europe/Berlin"
    assert body["version"] == 2
    assert body["created_at"] == before["created_at"]
    updated = dt.datetime.fromisoformat(body["updated_at"])
    assert updated > dt.datetime.fromisoformat(before["updated_at"])
    assert client.get("/v1/me", headers=patient.headers).json() == body


def test_patch_me_accepts_merge_patch_media_type(client: TestClient, patient: Account) -> None:
    response = client.patch(
        "/v1/me",
        content=json.dumps({"timezone": "Asia/Tokyo"}),
        headers=patient.headers | {"Content-Type": "application/merge-patch+json"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == "Asia/Tokyo"
    assert response.json()["display_name"] == "Pat Patient"
    assert response.json()["version"] == 2


def test_patch_me_null_clears_display_name(client: TestClient, patient: Account) -> None:
    response = client.patch("/v1/me", json={"display_name": None}, headers=patient.headers)

    assert response.status_code == 200, response.text
    assert response.json()["display_name"] is None
    assert response.json()["version"] == 2
    assert client.get("/v1/me", headers=patient.headers).json()["display_name"] is None


def test_patch_me_two_changes_count_twice(client: TestClient, patient: Account) -> None:
    client.patch("/v1/me", json={"display_name": "A"}, headers=patient.headers)

    response = client.patch(
        "/v1/me", json={"display_name": "B", "timezone": "UTC"}, headers=patient.headers
    )

    assert response.json()["version"] == 3
    assert response.json()["display_name"] == "B"
    assert response.json()["timezone"] == "UTC"


@pytest.mark.parametrize(
    "patch",
    [{}, {"display_name": "Pat Patient"}, {"timezone": "Europe/Berlin"}],
    ids=["empty", "same-name", "same-timezone"],
)
def test_patch_me_without_a_real_change_keeps_version(
    client: TestClient, patient: Account, patch: dict[str, Any]
) -> None:
    before = client.get("/v1/me", headers=patient.headers).json()

    response = client.patch("/v1/me", json=patch, headers=patient.headers)

    assert response.status_code == 200, response.text
    assert response.json() == before


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"timezone": None}, "timezone"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"timezone": 5}, "timezone"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"email": "new@example.org"}, "email"),
        ({"role": "clinician"}, "role"),
        ({"nickname": "P"}, "nickname"),
        # a misspelt field meant to clear a value: refused, not a silent no-op
        ({"displayname": None}, "displayname"),
        ({"": None}, ""),
    ],
)
def test_patch_me_rejects_bad_input_and_changes_nothing(
    client: TestClient, patient: Account, patch: dict[str, Any], field: str
) -> None:
    before = client.get("/v1/me", headers=patient.headers).json()

    response = client.patch("/v1/me", json=patch, headers=patient.headers)

    assert_problem(response, 422, field=field)
    assert client.get("/v1/me", headers=patient.headers).json() == before


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "{broken"])
def test_patch_me_needs_a_json_object(client: TestClient, patient: Account, body: str) -> None:
    response = client.patch(
        "/v1/me", content=body, headers=patient.headers | {"Content-Type": "application/json"}
    )

    assert_problem(response, 422)
    assert client.get("/v1/me", headers=patient.headers).json()["version"] == 1


# --- DELETE /v1/me ----------------------------------------------------------------------


def test_delete_me_erases_everything_of_the_account(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    other_patient: Account,
) -> None:
    records = create_records(client, patient)
    create_records(client, other_patient)
    doomed = client.put(
        f"/v1/patients/me/entries/{uuid.uuid4()}",
        json={"recorded_at": records["entry"]["recorded_at"], "pain": 1},
        headers=patient.headers,
    ).json()
    deleted = client.delete(f"/v1/patients/me/entries/{doomed['id']}", headers=patient.headers)
    assert deleted.status_code == 204
    pair = sign_in(client, patient.email).json()
    assert portal(count_rows, db, tombstones, patient_id=patient.id) == 1
    assert portal(count_rows, db, refresh_tokens, user_id=patient.id) == 1

    response = client.delete("/v1/me", headers=patient.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert portal(count_rows, db, users, id=patient.id) == 0
    for table in (entries, courses, sessions, counters, tombstones):
        assert portal(count_rows, db, table, patient_id=patient.id) == 0, table.name
    assert portal(count_rows, db, refresh_tokens, user_id=patient.id) == 0
    # The other patient keeps everything.
    assert portal(count_rows, db, users, id=other_patient.id) == 1
    for table in (entries, courses, sessions, counters):
        assert portal(count_rows, db, table, patient_id=other_patient.id) == 1, table.name
    # Nothing of the account works any more.
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert_problem(refreshed, 401)
    assert_problem(client.get("/v1/me", headers=patient.headers), 401)
    assert_problem(sign_in(client, patient.email), 401)
    # A write with the still-unexpired access token is refused (the session ended) and
    # stores nothing.
    late = client.put(
        f"/v1/patients/me/entries/{uuid.uuid4()}",
        json={"recorded_at": records["entry"]["recorded_at"], "pain": 2},
        headers=patient.headers,
    )
    assert_problem(late, 401)
    assert portal(count_rows, db, entries, patient_id=patient.id) == 0


def test_delete_me_frees_the_email(client: TestClient, patient: Account) -> None:
    assert client.delete("/v1/me", headers=patient.headers).status_code == 204

    again = client.post(
        "/v1/auth/register",
        json={"email": patient.email, "password": PASSWORD, "role": "clinician"},
    )

    assert again.status_code == 201, again.text
    assert again.json()["id"] != str(patient.id)


# --- GET /v1/me/export ------------------------------------------------------------------


def test_export_holds_account_and_every_record(
    client: TestClient, patient: Account, other_patient: Account
) -> None:
    records = create_records(client, patient)
    create_records(client, other_patient)

    response = client.get("/v1/me/export", headers=patient.headers)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "exported_at", "account", "entries", "courses", "sessions",
        "clinician_links", "share_codes", "access_log",
    }  # fmt: skip
    assert body["account"] == client.get("/v1/me", headers=patient.headers).json()
    assert body["entries"] == [records["entry"]]
    assert body["courses"] == [records["course"]]
    assert body["sessions"] == [records["session"]]
    assert body["entries"][0]["tags"] == ["weather"]
    assert body["sessions"][0]["points"] == ["LI4", "GB20"]
    assert body["sessions"][0]["course_id"] == records["course"]["id"]
    exported_at = dt.datetime.fromisoformat(body["exported_at"])
    assert abs(dt.datetime.now(dt.UTC) - exported_at) < dt.timedelta(minutes=1)
    assert "password" not in response.text
    assert str(other_patient.id) not in response.text


def test_export_of_a_new_patient_is_empty(client: TestClient, other_patient: Account) -> None:
    body = client.get("/v1/me/export", headers=other_patient.headers).json()

    assert body["account"]["id"] == str(other_patient.id)
    assert (body["entries"], body["courses"], body["sessions"]) == ([], [], [])


def test_export_is_for_patients_only(client: TestClient, clinician: Account) -> None:
    assert_problem(client.get("/v1/me/export", headers=clinician.headers), 403)
