"""CORS for a configured list of origins (``PAINDIARY_CORS_ORIGINS``; none by default), and
the security headers on every kind of response, CORS preflights and crashes included."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.settings import Settings
from app.main import create_app
from tests.conftest import Account, assert_problem, make_settings

APP = "https://app.example.org"
DEV = "http://localhost:5173"
ENTRY = {"recorded_at": "2026-01-20T08:30:00+01:00", "pain": 4}
ME = "/v1/patients/me"
LIMIT = 2048
KEY = "k" * 32


@pytest.fixture(scope="module")
def cors_client(database_url: str) -> Iterator[TestClient]:
    """The same database behind an app that allows two origins (and has a route that
    crashes, and a 2048-byte body limit)."""
    app = create_app(make_settings(database_url, cors_origins=[APP, DEV], max_body_bytes=LIMIT))

    def crash() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", crash)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def cors_headers(response: httpx2.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def preflight(
    client: TestClient, origin: str, method: str = "PUT", headers: str | None = None
) -> httpx2.Response:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    return client.options(f"{ME}/entries/{uuid.uuid4()}", headers=asked)


def assert_security_headers(response: httpx2.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", response.request.url
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("x-frame-options") == "DENY"
    assert response.headers.get("referrer-policy") == "no-referrer"


# --- Preflights -------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [APP, DEV])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_a_preflight_from_an_allowed_origin_is_allowed(
    cors_client: TestClient, origin: str, method: str
) -> None:
    response = preflight(
        cors_client,
        origin,
        method,
        "authorization, content-type, if-match, if-none-match, idempotency-key",
    )

    assert response.status_code == 200, response.text
    assert cors_headers(response) == {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        # Starlette adds the CORS-safelisted request headers to ours.
        "access-control-allow-headers": "Accept, Accept-Language, Authorization, "
        "Content-Language, Content-Type, Idempotency-Key, If-Match, If-None-Match",
        "access-control-max-age": "600",
    }
    assert "Origin" in response.headers["vary"]
    assert_security_headers(response)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.net",
        "https://app.example.org.evil.example.net",
        "http://app.example.org",  # another scheme is another origin
        "https://app.example.org:8443",
        "https://app.example.org/",
        "null",
        "*",
    ],
)
def test_a_preflight_from_another_origin_is_refused(cors_client: TestClient, origin: str) -> None:
    response = preflight(cors_client, origin, "PUT", "authorization")

    problem = assert_problem(response, 400)
    assert problem["detail"] == "This cross-origin request is not allowed (its origin)."
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        pytest.param("TRACE", None, "method", id="method-trace"),
        pytest.param("QUERY", None, "method", id="method-query"),
        pytest.param("PUT", "authorization, x-debug", "headers", id="header-x-debug"),
        pytest.param("PUT", "cookie", "headers", id="header-cookie"),
    ],
)
def test_a_preflight_for_another_method_or_header_is_refused(
    cors_client: TestClient, method: str, headers: str | None, refused: str
) -> None:
    response = preflight(cors_client, APP, method, headers)

    problem = assert_problem(response, 400)
    assert problem["detail"] == f"This cross-origin request is not allowed (its {refused})."
    assert_security_headers(response)


# --- Requests ---------------------------------------------------------------------------


def test_an_allowed_origin_reads_the_answer_and_its_exposed_headers(
    cors_client: TestClient, patient: Account
) -> None:
    url = f"{ME}/entries/{uuid.uuid4()}"

    response = cors_client.put(url, json=ENTRY, headers=patient.headers | {"Origin": APP})

    assert response.status_code == 201, response.text
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-expose-headers": "ETag, Location, Retry-After, X-Request-ID",
    }
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == url
    assert "Origin" in response.headers["vary"]


@pytest.mark.parametrize(
    ("send", "status"),
    [
        pytest.param(lambda c, h: c.get("/v1/me"), 401, id="401"),
        pytest.param(lambda c, h: c.get(f"{ME}/entries/{uuid.uuid4()}", headers=h), 404,
                     id="404"),
        pytest.param(lambda c, h: c.put(f"{ME}/entries/{uuid.uuid4()}", json={}, headers=h),
                     422, id="422"),
        pytest.param(lambda c, h: c.put(f"{ME}/entries/{uuid.uuid4()}",
                                        json=ENTRY | {"notes": "n" * LIMIT}, headers=h),
                     413, id="413"),
    ],
)  # fmt: skip
def test_an_allowed_origin_reads_the_problems_too(
    cors_client: TestClient,
    patient: Account,
    send: Callable[[TestClient, dict[str, str]], httpx2.Response],
    status: int,
) -> None:
    cors_client.headers["Origin"] = APP
    try:
        response = send(cors_client, patient.headers)
    finally:
        del cors_client.headers["Origin"]

    assert_problem(response, status)
    assert response.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize("origin", ["https://evil.example.net", None])
def test_another_origin_or_none_gets_no_allow_origin(
    cors_client: TestClient, patient: Account, origin: str | None
) -> None:
    headers = patient.headers | ({"Origin": origin} if origin else {})

    response = cors_client.get(f"{ME}/entries", headers=headers)

    assert response.status_code == 200, response.text
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers["vary"]  # a shared cache must not mix the answers


def test_without_configured_origins_there_are_no_cors_headers(
    client: TestClient, patient: Account
) -> None:
    asked = preflight(client, APP, "PUT", "authorization")
    simple = client.get(f"{ME}/entries", headers=patient.headers | {"Origin": APP})

    assert_problem(asked, 405)  # OPTIONS is no method of ours
    assert simple.status_code == 200
    for response in (asked, simple):
        assert cors_headers(response) == {}
        assert_security_headers(response)


# --- The setting ------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No PAINDIARY_* variables and no .env file, but a secret key."""
    for name in list(os.environ):
        if name.upper().startswith("PAINDIARY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAINDIARY_SECRET_KEY", KEY)
    return monkeypatch


def test_no_origins_by_default(environment: pytest.MonkeyPatch) -> None:
    assert Settings().cors_origins == []


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        pytest.param(f'["{APP}", "{DEV}"]', [APP, DEV], id="json-list"),
        pytest.param(f"{APP},{DEV}", [APP, DEV], id="comma-separated"),
        pytest.param(f" {APP} , {DEV} ,", [APP, DEV], id="comma-separated-with-spaces"),
        pytest.param(APP, [APP], id="one"),
        pytest.param(f"{APP},{APP}", [APP], id="duplicate"),
        pytest.param("http://[::1]:8080", ["http://[::1]:8080"], id="ipv6"),
        pytest.param("", [], id="empty"),
        pytest.param("[]", [], id="empty-json-list"),
    ],
)
def test_origins_from_the_environment(
    environment: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    environment.setenv("PAINDIARY_CORS_ORIGINS", value)

    assert Settings().cors_origins == origins


@pytest.mark.parametrize(
    "value",
    [
        "*",
        '["*"]',
        "https://app.example.org/",
        "https://app.example.org/path",
        "https://App.example.org",
        "https://app.example.org:443",
        "http://localhost:80",
        "ftp://app.example.org",
        "app.example.org",
        "null",
        "[1]",
        '["https://app.example.org"',
    ],
)
def test_an_origin_no_browser_would_send_is_refused_at_start(
    environment: pytest.MonkeyPatch, value: str
) -> None:
    environment.setenv("PAINDIARY_CORS_ORIGINS", value)

    with pytest.raises(ValidationError) as raised:
        Settings()

    assert "cors_origins" in str(raised.value)


# --- Security headers on every kind of response -----------------------------------------


def _chunks(raw: bytes) -> Iterator[bytes]:
    for start in range(0, len(raw), 1000):
        yield raw[start : start + 1000]


def _created(client: TestClient, headers: dict[str, str]) -> str:
    url = f"{ME}/entries/{uuid.uuid4()}"
    assert client.put(url, json=ENTRY, headers=headers).status_code == 201
    return url


Send = Callable[[TestClient, dict[str, str], int], httpx2.Response]
KINDS: dict[str, tuple[Send, int]] = {
    "200": (lambda c, h, n: c.get("/healthz"), 200),
    "201": (lambda c, h, n: c.put(f"{ME}/entries/{uuid.uuid4()}", json=ENTRY, headers=h), 201),
    "204": (lambda c, h, n: c.delete(_created(c, h), headers=h), 204),
    "304": (lambda c, h, n: c.get(_created(c, h), headers=h | {"If-None-Match": '"1"'}), 304),
    "400": (lambda c, h, n: c.put(_created(c, h), json=ENTRY, headers=h | {"If-Match": "1"}),
            400),
    "401": (lambda c, h, n: c.get("/v1/me"), 401),
    "404": (lambda c, h, n: c.get("/nope"), 404),
    "405": (lambda c, h, n: c.post("/healthz"), 405),
    "413-content-length": (lambda c, h, n: c.put(f"{ME}/entries/{uuid.uuid4()}",
                                                 content=b"{" + b" " * n + b"}", headers=h), 413),
    "413-chunked": (lambda c, h, n: c.put(f"{ME}/entries/{uuid.uuid4()}",
                                          content=_chunks(b"{" + b" " * n + b"}"), headers=h),
                    413),
    "422-validation": (lambda c, h, n: c.put(f"{ME}/entries/{uuid.uuid4()}", json={},
                                             headers=h), 422),
    "422-unreadable-json": (lambda c, h, n: c.put(f"{ME}/entries/{uuid.uuid4()}",
                                                  content=b"[" * 2000,
                                                  headers=h | {"Content-Type": "application/json"}),
                            422),
    "422-nul-in-query": (lambda c, h, n: c.get(f"{ME}/entries?from=%00", headers=h), 422),
    "422-nul-in-body": (lambda c, h, n: c.put(f"{ME}/entries/{uuid.uuid4()}",
                                              json=ENTRY | {"notes": "\x00"}, headers=h), 422),
    "500": (lambda c, h, n: c.get("/boom"), 500),
    "preflight-allowed": (lambda c, h, n: preflight(c, APP), 200),
    "preflight-refused": (lambda c, h, n: preflight(c, "https://evil.example.net"), 400),
}  # fmt: skip
ONLY_WITH_CORS = {"500", "preflight-allowed", "preflight-refused"}  # /boom is the CORS app's


@pytest.mark.parametrize(
    ("kind", "cors"),
    [(kind, False) for kind in KINDS if kind not in ONLY_WITH_CORS]
    + [(kind, True) for kind in KINDS],
    ids=lambda value: value if isinstance(value, str) else ("cors" if value else "default"),
)
def test_every_response_carries_the_security_headers(
    client: TestClient, cors_client: TestClient, patient: Account, kind: str, cors: bool
) -> None:
    send, status = KINDS[kind]
    over_limit = LIMIT if cors else 4 * 1024 * 1024

    response = send(cors_client if cors else client, patient.headers, over_limit)

    assert response.status_code == status, response.text
    assert_security_headers(response)
    if status >= 400:
        assert_problem(response, status)


def test_responses_seen_from_an_allowed_origin_keep_the_security_headers(
    cors_client: TestClient, patient: Account
) -> None:
    cors_client.headers["Origin"] = APP
    try:
        responses = {
            kind: KINDS[kind][0](cors_client, patient.headers, LIMIT)
            for kind in ("201", "304", "404", "413-chunked", "422-nul-in-body", "500")
        }
    finally:
        del cors_client.headers["Origin"]

    for kind, response in responses.items():
        assert response.status_code == KINDS[kind][1], (kind, response.text)
        assert_security_headers(response)
        if kind != "500":  # Starlette answers a crash outside every middleware, CORS too
            assert response.headers["access-control-allow-origin"] == APP, kind


def test_a_patient_export_seen_from_an_allowed_origin_is_still_private(
    cors_client: TestClient, patient: Account
) -> None:
    response = cors_client.get("/v1/me/export", headers=patient.headers | {"Origin": APP})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert "access-control-allow-credentials" not in response.headers
    assert_security_headers(response)
