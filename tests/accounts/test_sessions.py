"""Sessions end when the user says so (contract §1): an access token names its session, and
signing out, a replayed refresh token or erasing the account makes it fail at once, on this
process and (within ``session_check_seconds``) on every other one sharing the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from fastapi.testclient import TestClient

from app.cli import proxy_options
from app.core.ratelimit import rate_limit
from tests.conftest import PASSWORD, SECRET, Account, app_of, assert_problem, make_settings

ENDED = "This session has ended; sign in again."
#: Routes that answered 200 (with empty bodies) to an erased account's token.
PATIENT_READS = (
    "/v1/me",
    "/v1/patients/me/entries",
    "/v1/patients/me/courses",
    "/v1/patients/me/sessions",
    "/v1/patients/me/changes",
    "/v1/patients/me/entries.csv",
    "/v1/patients/me/access-log",
    "/v1/patients/me/links",
)


def sign_in(client: TestClient, email: str) -> dict[str, Any]:
    response = client.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_an_access_token_names_its_session(client: TestClient, patient: Account) -> None:
    first, second = sign_in(client, patient.email), sign_in(client, patient.email)
    claims = [jwt.decode(p["access_token"], SECRET, algorithms=["HS256"]) for p in (first, second)]
    assert claims[0]["sid"] != claims[1]["sid"]  # one session per sign-in
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    ).json()
    same = jwt.decode(refreshed["access_token"], SECRET, algorithms=["HS256"])
    assert same["sid"] == claims[0]["sid"]  # a refresh stays in its session


def test_signing_out_ends_that_sessions_access_tokens_at_once(
    client: TestClient, patient: Account
) -> None:
    phone, laptop = sign_in(client, patient.email), sign_in(client, patient.email)
    assert client.get("/v1/patients/me/entries", headers=bearer(phone)).status_code == 200

    revoked = client.post(
        "/v1/auth/revoke", json={"refresh_token": phone["refresh_token"]}, headers=bearer(phone)
    )
    assert revoked.status_code == 204

    for path in ("/v1/me", "/v1/patients/me/entries"):
        problem = assert_problem(client.get(path, headers=bearer(phone)), 401)
        assert problem["detail"] == ENDED
    assert client.get("/v1/patients/me/entries", headers=bearer(laptop)).status_code == 200


def test_a_replayed_refresh_token_ends_its_session(client: TestClient, patient: Account) -> None:
    pair = sign_in(client, patient.email)
    form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    rotated = client.post("/v1/auth/token", data=form).json()
    assert client.get("/v1/me", headers=bearer(rotated)).status_code == 200

    # Replayed with its successor in use (a stolen token): the family is revoked.
    client.post("/v1/auth/token", data={**form, "refresh_token": rotated["refresh_token"]})
    assert_problem(client.post("/v1/auth/token", data=form), 401)

    for tokens in (pair, rotated):
        assert_problem(client.get("/v1/me", headers=bearer(tokens)), 401)


def test_an_erased_account_gets_401_everywhere(
    client: TestClient, make_account: Callable[..., Account]
) -> None:
    patient = make_account("patient")
    pair = sign_in(client, patient.email)
    assert client.delete("/v1/me", headers=bearer(pair)).status_code == 204

    for path in PATIENT_READS:
        for headers in (bearer(pair), patient.headers):  # a signed-in token, and one without
            response = client.get(path, headers=headers)
            assert_problem(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")

    clinician = make_account("clinician")
    assert client.delete("/v1/me", headers=clinician.headers).status_code == 204
    assert_problem(client.get("/v1/patients", headers=clinician.headers), 401)


def test_another_process_refuses_an_ended_session_within_its_check_interval(
    client: TestClient, app_with: Callable[..., TestClient], patient: Account
) -> None:
    """Two apps on one database, as two processes or replicas: each keeps its own view of
    the ended sessions and reads the others' from the database (here at every request)."""
    other = app_with(session_check_seconds=0)
    pair = sign_in(client, patient.email)
    assert other.get("/v1/patients/me/entries", headers=bearer(pair)).status_code == 200

    client.post(
        "/v1/auth/revoke", json={"refresh_token": pair["refresh_token"]}, headers=bearer(pair)
    )
    assert_problem(other.get("/v1/patients/me/entries", headers=bearer(pair)), 401)

    erased = sign_in(client, patient.email)
    assert other.get("/v1/me", headers=bearer(erased)).status_code == 200
    assert client.delete("/v1/me", headers=bearer(erased)).status_code == 204
    assert_problem(other.get("/v1/me", headers=patient.headers), 401)


NEW_PASSWORD = "a much longer new passphrase"


def change_password(
    client: TestClient, pair: dict[str, Any], current: str, new: str = NEW_PASSWORD
) -> Any:
    return client.post(
        "/v1/me/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(pair),
    )


def test_a_password_change_ends_every_other_session_and_answers_a_new_pair(
    client: TestClient, patient: Account
) -> None:
    here, elsewhere = sign_in(client, patient.email), sign_in(client, patient.email)

    changed = change_password(client, here, PASSWORD)

    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert set(fresh) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert client.get("/v1/patients/me/entries", headers=bearer(fresh)).status_code == 200
    for old in (here, elsewhere):  # access and refresh tokens of every earlier session
        assert_problem(client.get("/v1/me", headers=bearer(old)), 401)
        form = {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]}
        assert_problem(client.post("/v1/auth/token", data=form), 401)
    old_password = {"grant_type": "password", "username": patient.email, "password": PASSWORD}
    assert_problem(client.post("/v1/auth/token", data=old_password), 401)
    new_password = old_password | {"password": NEW_PASSWORD}
    assert client.post("/v1/auth/token", data=new_password).status_code == 200
    refreshed = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
    )
    assert refreshed.status_code == 200


def test_a_wrong_current_password_is_403_and_changes_nothing(
    client: TestClient, patient: Account
) -> None:
    pair = sign_in(client, patient.email)

    problem = assert_problem(change_password(client, pair, "not the password"), 403)

    assert problem["detail"] == "The current password is wrong."
    assert client.get("/v1/me", headers=bearer(pair)).status_code == 200  # still signed in
    assert sign_in(client, patient.email)["access_token"]  # the password is unchanged


def test_a_new_password_under_10_characters_is_422_and_changes_nothing(
    client: TestClient, patient: Account
) -> None:
    pair = sign_in(client, patient.email)
    assert_problem(change_password(client, pair, PASSWORD, "short"), 422, field="new_password")
    assert client.get("/v1/me", headers=bearer(pair)).status_code == 200
    assert sign_in(client, patient.email)["access_token"]


def test_another_process_refuses_the_sessions_a_password_change_ended(
    client: TestClient, app_with: Callable[..., TestClient], patient: Account
) -> None:
    other = app_with(session_check_seconds=0)
    elsewhere = sign_in(client, patient.email)
    assert other.get("/v1/me", headers=bearer(elsewhere)).status_code == 200

    fresh = change_password(client, sign_in(client, patient.email), PASSWORD).json()

    assert_problem(other.get("/v1/me", headers=bearer(elsewhere)), 401)
    assert other.get("/v1/me", headers=bearer(fresh)).status_code == 200


def test_failed_sign_ins_are_limited_per_account_whatever_the_address(
    app_with: Callable[..., TestClient], patient: Account, other_patient: Account
) -> None:
    app = app_with(failed_sign_ins_per_account=3, sign_in_failure_window=60)
    now = [1000.0]
    state = app_of(app).state
    state.failed_sign_ins = rate_limit(state.db, "failed-sign-ins", 3, 60, lambda: now[0])
    device = sign_in(app, patient.email)  # signed in before the attack

    def attempt(email: str, password: str, address: str) -> Any:
        form = {"grant_type": "password", "username": email, "password": password}
        return app.post("/v1/auth/token", data=form, headers={"X-Forwarded-For": address})

    for n in range(3):
        assert_problem(attempt(patient.email, "wrong password", f"203.0.113.{n}"), 401)
    refused = attempt(patient.email, PASSWORD, "198.51.100.7")  # even the right one
    assert_problem(refused, 429)
    assert refused.headers["Retry-After"] == "60"
    assert_problem(attempt(patient.email.upper(), PASSWORD, "198.51.100.8"), 429)

    # Other accounts sign in; the device signed in before keeps refreshing its tokens.
    assert attempt(other_patient.email, PASSWORD, "203.0.113.1").status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": device["refresh_token"]}
    assert app.post("/v1/auth/token", data=form).status_code == 200

    now[0] += 60  # a window, not a lock
    assert attempt(patient.email, PASSWORD, "198.51.100.7").status_code == 200


def test_an_unknown_email_is_limited_like_a_known_one(
    app_with: Callable[..., TestClient],
) -> None:
    app = app_with(failed_sign_ins_per_account=2, sign_in_failure_window=60)
    form = {"grant_type": "password", "username": "nobody@example.org", "password": "x" * 12}
    statuses = [app.post("/v1/auth/token", data=form).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_wrong_current_passwords_are_limited_as_failed_sign_ins(
    app_with: Callable[..., TestClient], patient: Account
) -> None:
    app = app_with(failed_sign_ins_per_account=2, sign_in_failure_window=60)
    device = sign_in(app, patient.email)

    wrong = [change_password(app, device, "not the password") for _ in range(2)]
    refused = change_password(app, device, PASSWORD)  # even the right one, for a while

    assert [r.status_code for r in wrong] == [403, 403]
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert app.get("/v1/me", headers=bearer(device)).status_code == 200  # no session ended
    assert sign_in(app, patient.email)["access_token"]  # the password is unchanged


def test_x_forwarded_for_is_read_only_from_configured_proxies() -> None:
    assert proxy_options(make_settings("sqlite:///x.db")) == {"proxy_headers": False}
    trusted = make_settings("sqlite:///x.db", forwarded_allow_ips="10.0.0.1,10.0.0.2")
    assert proxy_options(trusted) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.1,10.0.0.2",
    }
