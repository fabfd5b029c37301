"""Refresh tokens: rotation, the lost-response grace period, reuse detection and revocation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.accounts.models import RefreshToken
from app.core.database import Database, table_of
from app.main import create_app
from tests.conftest import PASSWORD, SECRET, Account, assert_problem, count_rows, make_settings

refresh_tokens = table_of(RefreshToken)


def sign_in(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": account.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def refresh(client: TestClient, token: str) -> Any:
    return client.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )


def rotate(client: TestClient, token: str) -> str:
    """Refresh, expecting success; the new refresh token."""
    response = refresh(client, token)
    assert response.status_code == 200, response.text
    new: str = response.json()["refresh_token"]
    return new


def refused(response: Any) -> None:
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def token_id(token: str) -> uuid.UUID:
    return uuid.UUID(hex=token.split(".")[0])


async def read_token(db: Database, token: str) -> dict[str, Any]:
    query = sa.select(refresh_tokens).where(refresh_tokens.c.id == token_id(token))
    async with db.read() as conn:
        return dict((await conn.execute(query)).mappings().one())


async def set_token(db: Database, token: str, **values: Any) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(refresh_tokens).where(refresh_tokens.c.id == token_id(token)).values(**values)
        )


def ago(seconds: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)


# --- rotation ---------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_and_marks_the_old_token_used(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    first = sign_in(client, patient)

    response = refresh(client, first["refresh_token"])

    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    assert pair["refresh_token"] != first["refresh_token"]
    claims = jwt.decode(pair["access_token"], SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"]) == (str(patient.id), "patient")
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(patient.id)

    old = portal(read_token, db, first["refresh_token"])
    new = portal(read_token, db, pair["refresh_token"])
    assert old["used_at"] is not None
    assert old["revoked_at"] is None
    assert old["successor_id"] == new["id"]
    assert new["family_id"] == old["family_id"]
    assert (new["used_at"], new["revoked_at"], new["successor_id"]) == (None, None, None)
    assert new["expires_at"] - new["issued_at"] == dt.timedelta(days=30)
    # Only digests are stored, never the secret itself.
    assert first["refresh_token"].split(".")[1] not in old["secret_hash"]
    assert len(old["secret_hash"]) == 64
    assert portal(count_rows, db, refresh_tokens, user_id=patient.id) == 2


def test_refresh_keeps_the_clinician_role(client: TestClient, clinician: Account) -> None:
    pair = refresh(client, sign_in(client, clinician)["refresh_token"]).json()

    claims = jwt.decode(pair["access_token"], SECRET, algorithms=["HS256"])
    assert claims["role"] == "clinician"


def test_a_chain_of_rotations_works(client: TestClient, patient: Account) -> None:
    token = sign_in(client, patient)["refresh_token"]
    seen = {token}

    for _ in range(4):
        token = rotate(client, token)
        seen.add(token)

    assert len(seen) == 5


# --- replay of a used token -------------------------------------------------------------


def test_replay_within_grace_while_successor_unused_gets_a_new_pair(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)  # the phone never saw this response

    replay = refresh(client, a)

    assert replay.status_code == 200, replay.text
    c = replay.json()["refresh_token"]
    assert c not in (a, b)
    refused(refresh(client, b))  # the unused successor died
    assert portal(read_token, db, b)["revoked_at"] is not None
    assert portal(read_token, db, a)["successor_id"] == token_id(c)
    # The new token is healthy and rotates normally.
    d = rotate(client, c)
    assert portal(read_token, db, d)["revoked_at"] is None


def test_replay_twice_within_grace_still_works(client: TestClient, patient: Account) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    c = rotate(client, a)

    d = rotate(client, a)

    refused(refresh(client, b))
    refused(refresh(client, c))
    rotate(client, d)


def test_replay_just_inside_the_grace_period_works(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    portal(set_token, db, a, used_at=ago(50))

    c = rotate(client, a)

    refused(refresh(client, b))
    rotate(client, c)


def test_replay_after_successor_was_used_revokes_the_family(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    c = rotate(client, b)
    other_device = sign_in(client, patient)["refresh_token"]

    refused(refresh(client, a))

    refused(refresh(client, c))  # the newest token of the family is dead too
    refused(refresh(client, b))
    for token in (a, b, c):
        assert portal(read_token, db, token)["revoked_at"] is not None
    assert portal(count_rows, db, refresh_tokens, user_id=patient.id) == 4
    # Another sign-in (another family) is untouched.
    assert portal(read_token, db, other_device)["revoked_at"] is None
    rotate(client, other_device)


def test_replay_of_the_middle_token_after_its_successor_was_used(
    client: TestClient, patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    c = rotate(client, b)
    d = rotate(client, c)

    refused(refresh(client, b))

    refused(refresh(client, d))


def test_replay_after_the_grace_period_revokes_the_family(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    portal(set_token, db, a, used_at=ago(61))

    refused(refresh(client, a))

    refused(refresh(client, b))  # successor unused, but the family is revoked
    assert portal(read_token, db, a)["revoked_at"] is not None
    assert portal(read_token, db, b)["revoked_at"] is not None


def test_with_no_grace_period_any_replay_revokes_the_family(
    client: TestClient, database_url: str, patient: Account
) -> None:
    app = create_app(make_settings(database_url, refresh_reuse_grace_seconds=0))
    with TestClient(app, raise_server_exceptions=False) as strict:
        a = sign_in(strict, patient)["refresh_token"]
        b = rotate(strict, a)

        refused(refresh(strict, a))

        refused(refresh(strict, b))
    # The main app sees the same revoked family.
    refused(refresh(client, b))


def test_a_revoked_successor_stays_dead_and_revokes_nothing_else(
    client: TestClient, patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    c = rotate(client, a)  # b dies here

    refused(refresh(client, b))
    refused(refresh(client, b))

    rotate(client, c)


# --- invalid refresh tokens -------------------------------------------------------------


def test_expired_refresh_token_is_refused(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    portal(set_token, db, a, expires_at=ago(1))

    refused(refresh(client, a))

    assert portal(read_token, db, a)["used_at"] is None
    assert portal(count_rows, db, refresh_tokens, user_id=patient.id) == 1


def test_wrong_secret_is_refused_and_harmless(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    head, secret = a.split(".")
    forged = f"{head}.{secret[::-1]}"

    refused(refresh(client, forged))

    assert portal(read_token, db, a)["used_at"] is None
    assert portal(read_token, db, a)["revoked_at"] is None
    rotate(client, a)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "not-hex.secret",
        f"{uuid.UUID(int=0x5EED1).hex}.",
        f"{uuid.UUID(int=0x5EED2).hex}",
        f"{uuid.UUID(int=0x5EED3).hex}.some-secret",
        ".secret",
    ],
)
def test_garbage_refresh_tokens_are_401(
    client: TestClient, db: Database, portal: Callable[..., Any], token: str
) -> None:
    refused(refresh(client, token))
    assert portal(count_rows, db, refresh_tokens) == 0


def test_refresh_token_of_one_user_cannot_be_grafted(
    client: TestClient, patient: Account, other_patient: Account
) -> None:
    mine = sign_in(client, patient)["refresh_token"]
    theirs = sign_in(client, other_patient)["refresh_token"]

    refused(refresh(client, f"{mine.split('.')[0]}.{theirs.split('.')[1]}"))

    rotate(client, mine)
    rotate(client, theirs)


# --- revoke -----------------------------------------------------------------------------


def revoke(client: TestClient, account: Account, token: str) -> Any:
    return client.post("/v1/auth/revoke", json={"refresh_token": token}, headers=account.headers)


def test_revoke_ends_the_family(
    client: TestClient, db: Database, portal: Callable[..., Any], patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    other_device = sign_in(client, patient)["refresh_token"]

    response = revoke(client, patient, b)

    assert response.status_code == 204
    assert response.content == b""
    refused(refresh(client, b))
    refused(refresh(client, a))
    assert portal(read_token, db, b)["revoked_at"] is not None
    rotate(client, other_device)


def test_revoking_an_old_token_ends_its_newest_successor(
    client: TestClient, patient: Account
) -> None:
    a = sign_in(client, patient)["refresh_token"]
    b = rotate(client, a)
    c = rotate(client, b)

    assert revoke(client, patient, a).status_code == 204

    refused(refresh(client, c))


def test_revoke_is_idempotent(client: TestClient, patient: Account) -> None:
    a = sign_in(client, patient)["refresh_token"]

    assert revoke(client, patient, a).status_code == 204
    assert revoke(client, patient, a).status_code == 204

    refused(refresh(client, a))


def test_revoking_someone_elses_token_does_nothing(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    other_patient: Account,
) -> None:
    victim = sign_in(client, patient)["refresh_token"]

    response = revoke(client, other_patient, victim)

    assert response.status_code == 204
    assert portal(read_token, db, victim)["revoked_at"] is None
    rotate(client, victim)


@pytest.mark.parametrize(
    "make_token",
    [
        lambda real: "garbage",
        lambda real: f"{uuid.uuid4().hex}.secret",
        lambda real: real.split(".")[0] + ".wrong-secret",
        lambda real: real.split(".")[0],
    ],
    ids=["garbage", "unknown-id", "wrong-secret", "no-secret"],
)
def test_revoke_with_a_bad_token_is_204_and_changes_nothing(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    make_token: Callable[[str], str],
) -> None:
    real = sign_in(client, patient)["refresh_token"]

    response = revoke(client, patient, make_token(real))

    assert response.status_code == 204
    assert portal(read_token, db, real)["revoked_at"] is None
    rotate(client, real)


def test_revoke_needs_a_signed_in_caller(client: TestClient, patient: Account) -> None:
    a = sign_in(client, patient)["refresh_token"]

    response = client.post("/v1/auth/revoke", json={"refresh_token": a})

    refused(response)
    rotate(client, a)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "refresh_token"),
        ({"refresh_token": ""}, "refresh_token"),
        ({"refresh_token": "x" * 513}, "refresh_token"),
        ({"refresh_token": "x", "refresh_tokn": "y"}, "refresh_tokn"),
    ],
)
def test_revoke_rejects_bad_bodies(
    client: TestClient, patient: Account, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/auth/revoke", json=body, headers=patient.headers)

    assert_problem(response, 422, field=field)
