"""Response headers on every response, conditional-request parsing and opaque cursors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.errors import BadRequest, Invalid
from app.core.http import Preconditions, etag
from app.core.pagination import decode_cursor, encode_cursor
from tests.conftest import PASSWORD, Account, assert_problem


def assert_private(response: Any) -> None:
    assert response.headers["cache-control"] == "no-store", response.request.url
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


# --- headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/docs", 200),
        ("GET", "/docs/assets/swagger-ui.css", 200),
        ("GET", "/v1/me", 401),
        ("GET", "/v1/patients/me/entries", 401),
        ("GET", "/nope", 404),
        ("POST", "/healthz", 405),
        ("POST", "/v1/auth/register", 422),
        ("POST", "/v1/auth/token", 422),
    ],
)
def test_every_response_is_private_and_nosniff(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)

    assert response.status_code == status
    assert_private(response)


def test_signed_in_responses_are_private(client: TestClient, patient: Account) -> None:
    entry_url = f"/v1/patients/me/entries/{uuid.uuid4()}"
    recorded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    signed_in = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": patient.email, "password": PASSWORD},
    )
    responses = [
        signed_in,
        client.get("/v1/me", headers=patient.headers),
        client.patch("/v1/me", json={"display_name": "P"}, headers=patient.headers),
        client.put(entry_url, json={"recorded_at": recorded, "pain": 3}, headers=patient.headers),
        client.get(entry_url, headers=patient.headers),
        client.get(entry_url, headers=patient.headers | {"If-None-Match": '"1"'}),
        client.get("/v1/patients/me/entries", headers=patient.headers),
        client.get("/v1/me/export", headers=patient.headers),
        client.delete(entry_url, headers=patient.headers),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200, 201, 200, 304, 200, 200, 204]
    for response in responses:
        assert_private(response)


def test_reference_acupoints_may_be_cached_publicly(client: TestClient) -> None:
    response = client.get("/v1/reference/acupoints")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert response.headers["x-content-type-options"] == "nosniff"


# --- conditional requests over HTTP -----------------------------------------------------


def test_if_none_match_over_http(client: TestClient, patient: Account) -> None:
    url = f"/v1/patients/me/entries/{uuid.uuid4()}"
    recorded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    created = client.put(url, json={"recorded_at": recorded, "pain": 3}, headers=patient.headers)
    assert created.headers["etag"] == '"1"'

    weak = client.get(url, headers=patient.headers | {"If-None-Match": 'W/"1"'})
    other = client.get(url, headers=patient.headers | {"If-None-Match": '"2"'})
    garbage = client.get(url, headers=patient.headers | {"If-None-Match": "1"})

    assert weak.status_code == 304
    assert weak.headers["etag"] == '"1"'
    assert weak.content == b""
    assert other.status_code == 200
    assert other.json()["pain"] == 3
    problem = assert_problem(garbage, 400)
    assert "If-None-Match" in problem["detail"]


def test_bad_if_match_changes_nothing(client: TestClient, patient: Account) -> None:
    url = f"/v1/patients/me/entries/{uuid.uuid4()}"
    recorded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    client.put(url, json={"recorded_at": recorded, "pain": 3}, headers=patient.headers)

    garbage = client.put(
        url,
        json={"recorded_at": recorded, "pain": 9},
        headers=patient.headers | {"If-Match": "version-1"},
    )
    stale = client.put(
        url,
        json={"recorded_at": recorded, "pain": 9},
        headers=patient.headers | {"If-Match": '"7"'},
    )

    assert_problem(garbage, 400)
    assert_problem(stale, 412)
    current = client.get(url, headers=patient.headers).json()
    assert (current["pain"], current["version"]) == (3, 1)


# --- Preconditions ----------------------------------------------------------------------


def test_etag_is_strong_and_quoted() -> None:
    assert etag(3) == '"3"'


def test_no_headers_means_no_preconditions() -> None:
    pre = Preconditions(None, None)

    assert (pre.if_match, pre.if_none_match) == (None, None)
    assert pre.match_ok(None) is True
    assert pre.match_ok(4) is True
    assert pre.not_modified(4) is False


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ('"3"', {3}),
        ('W/"3"', {3}),
        ('  "3"  ', {3}),
        ('"1", W/"2" ,"3"', {1, 2, 3}),
        ('"12",W/"40"', {12, 40}),
        ('"abc"', set()),  # a tag this service never issued
        ('"abc", "5"', {5}),
        ("*", "*"),
        (" * ", "*"),
    ],
)
def test_parses_entity_tags(header: str, parsed: Any) -> None:
    pre = Preconditions(header, header)

    assert pre.if_match == parsed
    assert pre.if_none_match == parsed


@pytest.mark.parametrize(
    "header", ["3", "W/3", '"3', '3"', "abc", 'W/"3", 4', '"', "W/", "w/3", '"3" "4"x']
)
@pytest.mark.parametrize("which", ["If-Match", "If-None-Match"])
def test_garbage_header_is_bad_request(which: str, header: str) -> None:
    args = (header, None) if which == "If-Match" else (None, header)

    with pytest.raises(BadRequest) as raised:
        Preconditions(*args)

    assert raised.value.status == 400
    assert raised.value.detail.startswith(f"{which} must be")


@pytest.mark.parametrize(
    ("if_match", "current", "ok"),
    [
        ('"3"', 3, True),
        ('W/"3"', 3, True),
        ('"3"', 4, False),
        ('"3"', None, False),
        ('"2", "3"', 3, True),
        ('"abc"', 1, False),
        ("*", 7, True),
        ("*", None, False),
    ],
)
def test_if_match(if_match: str, current: int | None, ok: bool) -> None:
    assert Preconditions(if_match, None).match_ok(current) is ok


@pytest.mark.parametrize(
    ("if_none_match", "current", "ok", "not_modified"),
    [
        ("*", None, True, None),  # create only: no record yet
        ("*", 1, False, True),
        ('"2"', 2, False, True),
        ('W/"2"', 2, False, True),
        ('"2"', 3, True, False),
        ('"2"', None, True, None),
        ('"1", "2"', 1, False, True),
    ],
)
def test_if_none_match(
    if_none_match: str, current: int | None, ok: bool, not_modified: bool | None
) -> None:
    pre = Preconditions(None, if_none_match)

    assert pre.match_ok(current) is ok
    if current is not None:
        assert pre.not_modified(current) is not_modified


def test_if_match_and_if_none_match_together() -> None:
    pre = Preconditions('"3"', '"3"')

    assert pre.match_ok(3) is False  # If-None-Match forbids what If-Match allows
    assert pre.match_ok(4) is False  # If-Match does not match


# --- cursors ----------------------------------------------------------------------------

KEY_TYPES: list[type] = [dt.datetime, dt.date, uuid.UUID, int, str]
KEY = [
    dt.datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.date(2026, 11, 20),
    uuid.UUID("8e4f1a52-2a38-4a4c-9d55-4a3c11111111"),
    42,
    "weather/long drive",
]


def test_cursor_round_trip() -> None:
    cursor = encode_cursor(KEY)

    decoded = decode_cursor(cursor, KEY_TYPES)

    assert decoded == KEY
    assert decoded[0].utcoffset() == dt.timedelta(hours=-5)
    assert all(type(v) is type(k) for v, k in zip(decoded, KEY, strict=True))


def test_cursor_is_url_safe_and_opaque() -> None:
    cursor = encode_cursor(KEY)

    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "weather" not in cursor


def _b64(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not a cursor",
        encode_cursor(KEY)[:-6],  # truncated
        encode_cursor(KEY)[5:],  # front chopped off
        _b64({"a": 1}),  # not a list
        _b64(["2026-11-20T08:30:00+01:00"]),  # wrong length
        _b64([*encode_cursor(KEY)]),  # wrong length, strings
        _b64(["2026-11-20T08:30:00", "2026-11-20", str(KEY[2]), "42", "x"]),  # naive
        _b64(["2026-11-20T08:30:00+01:00", "2026-11-20", "not-a-uuid", "42", "x"]),
        _b64(["2026-11-20T08:30:00+01:00", "2026-11-20", str(KEY[2]), "forty", "x"]),
        _b64(["2026-11-20T08:30:00+01:00", "2026-13-20", str(KEY[2]), "42", "x"]),
        _b64(["2026-11-20T08:30:00+01:00", "2026-11-20", str(KEY[2]), 42, "x"]),  # not str
        _b64([None, None, None, None, None]),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    ],
)
def test_tampered_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(Invalid) as raised:
        decode_cursor(cursor, KEY_TYPES)

    assert raised.value.status == 422
    assert raised.value.errors == [
        {"loc": ["query", "cursor"], "msg": "not a cursor issued by this service"}
    ]


def test_cursor_for_other_sort_keys_is_invalid() -> None:
    cursor = encode_cursor([dt.date(2026, 11, 20), uuid.uuid4()])

    with pytest.raises(Invalid):
        decode_cursor(cursor, [int, uuid.UUID])


def test_tampered_cursor_over_http_is_422(client: TestClient, patient: Account) -> None:
    response = client.get(
        "/v1/patients/me/entries", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=patient.headers
    )

    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {"loc": ["query", "cursor"], "msg": "not a cursor issued by this service"}
    ]


def test_an_unknown_query_parameter_is_422_and_changes_nothing(
    client: TestClient, patient: Account
) -> None:
    """As an unknown body field: a typo (`limt`) is refused, not silently dropped."""
    listed = client.get("/v1/patients/me/entries?limt=5&limit=5", headers=patient.headers)
    problem = assert_problem(listed, 422)
    assert [e["loc"] for e in problem["errors"]] == [["query", "limt"]]

    entry_id = uuid.uuid4()
    body = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 4}
    put = client.put(
        f"/v1/patients/me/entries/{entry_id}?dry_run=1", json=body, headers=patient.headers
    )
    assert [e["loc"] for e in assert_problem(put, 422)["errors"]] == [["query", "dry_run"]]
    assert (
        client.get(f"/v1/patients/me/entries/{entry_id}", headers=patient.headers).status_code
        == 404
    )

    declared = client.get(
        "/v1/patients/me/entries?limit=5&from=2026-01-01", headers=patient.headers
    )
    assert declared.status_code == 200, declared.text
    assert client.get("/healthz?probe=1").status_code == 200  # operations stay lenient
