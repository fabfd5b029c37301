"""Every error is an RFC 9457 problem: routing errors, validation, domain errors, crashes
and oversized bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.accounts.models import User
from app.core.database import Database, table_of
from app.core.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    Unauthorized,
)
from app.main import create_app
from tests.conftest import PASSWORD, assert_problem, count_rows, make_settings

users = table_of(User)
LIMIT = 2048
LEAK = "hunter2-very-secret"


@pytest.fixture(scope="module")
def raising_client(database_url: str) -> Iterator[TestClient]:
    """An app with throwaway routes that raise, for the error handlers."""
    app = create_app(make_settings(database_url))

    def crash() -> None:
        raise RuntimeError(f"password={LEAK}")

    def db_down() -> None:
        raise OperationalError(f"SELECT '{LEAK}'", {}, ConnectionRefusedError(LEAK))

    def domain(kind: str) -> None:
        errors: dict[str, AppError] = {
            "bad-request": BadRequest("Bad."),
            "unauthorized": Unauthorized(),
            "forbidden": Forbidden("No."),
            "not-found": NotFound("Gone."),
            "conflict": Conflict("Taken."),
            "precondition-failed": PreconditionFailed("Stale."),
            "payload-too-large": PayloadTooLarge("Big."),
            "service-unavailable": ServiceUnavailable("Later."),
            "validation-error": Invalid([(["body", "pain"], "too high")]),
        }
        raise errors[kind]

    app.add_api_route("/boom", crash)
    app.add_api_route("/db-down", db_down)
    app.add_api_route("/domain/{kind}", domain)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def small_client(database_url: str) -> Iterator[TestClient]:
    """An app that refuses request bodies over 2048 bytes."""
    app = create_app(make_settings(database_url, max_body_bytes=LIMIT))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# --- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/me/nope", "/v1/auth"])
def test_unknown_path_is_404_problem(client: TestClient, path: str) -> None:
    problem = assert_problem(client.get(path), 404)

    assert problem["title"] == "Not Found"
    assert problem["type"].endswith("/not-found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/healthz", "GET"),
        ("DELETE", "/v1/auth/register", "POST"),
        ("GET", "/v1/auth/token", "POST"),
        ("PUT", "/v1/auth/revoke", "POST"),
    ],
)
def test_wrong_method_is_405_problem(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)

    problem = assert_problem(response, 405)
    assert problem["title"] == "Method Not Allowed"
    assert response.headers["allow"] == allow


def test_wrong_method_on_a_path_with_several_routes_is_405(client: TestClient) -> None:
    response = client.put("/v1/me", json={})

    assert_problem(response, 405)
    # RFC 9110: every method the resource supports, not only the first route's.
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    entry = client.post("/v1/patients/me/entries/0b6f7a52-2a38-4a4c-9d55-4a3c0d1e2f30")
    assert_problem(entry, 405)
    assert entry.headers["allow"] == "DELETE, GET, PATCH, PUT"


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{broken", b'{"email": "a@b.org",}', b"\xff\xfe", b""])
def test_malformed_json_is_422_problem_and_stores_nothing(
    client: TestClient, db: Database, portal: Callable[..., Any], body: bytes
) -> None:
    response = client.post(
        "/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert all(e["loc"][0] == "body" for e in problem["errors"])
    assert portal(count_rows, db, users) == 0


@pytest.mark.parametrize("body", [b'{"email": "caf\xe9@example.org"}', b"\xe2\xda\x81P\xc4"])
def test_a_body_that_is_not_utf8_is_422_problem_and_stores_nothing(
    client: TestClient, db: Database, portal: Callable[..., Any], body: bytes
) -> None:
    # FastAPI's own answer was 400 "There was an error parsing the body" (found by
    # schemathesis: a status the document did not declare).
    response = client.post(
        "/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/validation-error")
    assert problem["errors"] == [{"loc": ["body"], "msg": "the body must be UTF-8 encoded JSON"}]
    assert portal(count_rows, db, users) == 0


def test_a_json_array_instead_of_an_object_is_422(client: TestClient) -> None:
    response = client.post("/v1/auth/register", json=[{"email": "a@example.org"}])

    assert_problem(response, 422)


def test_validation_problem_lists_every_field(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/register", json={"email": "nope", "password": "short", "role": "king"}
    )

    problem = assert_problem(response, 422)
    assert problem["type"].endswith("/validation-error")
    locs = {tuple(e["loc"]) for e in problem["errors"]}
    assert locs == {("body", "email"), ("body", "password"), ("body", "role")}
    assert all(set(e) == {"loc", "msg"} for e in problem["errors"])
    assert "short" not in json.dumps(problem["errors"])  # rejected values are not echoed
    assert "king" not in response.text


# --- domain errors and crashes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "detail"),
    [
        ("bad-request", 400, "Bad."),
        ("unauthorized", 401, "Missing or invalid credentials."),
        ("forbidden", 403, "No."),
        ("not-found", 404, "Gone."),
        ("conflict", 409, "Taken."),
        ("precondition-failed", 412, "Stale."),
        ("payload-too-large", 413, "Big."),
        ("validation-error", 422, "body.pain: too high"),
        ("service-unavailable", 503, "Later."),
    ],
)
def test_domain_errors_map_to_their_status(
    raising_client: TestClient, kind: str, status: int, detail: str
) -> None:
    response = raising_client.get(f"/domain/{kind}")

    problem = assert_problem(response, status)
    assert problem["type"] == f"https://paindiary.example/problems/{kind}"
    assert problem["detail"] == detail
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if status == 422:
        assert problem["errors"] == [{"loc": ["body", "pain"], "msg": "too high"}]
    else:
        assert "errors" not in problem


def test_unhandled_exception_is_500_problem_without_traceback(
    raising_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = raising_client.get("/boom")

    problem = assert_problem(response, 500)
    assert problem["title"] == "Internal Server Error"
    assert set(problem) == {"type", "title", "status", "detail"}
    assert LEAK not in response.text
    assert "RuntimeError" not in response.text
    assert "boom" not in response.text
    # The traceback goes to the log, not to the client.
    logged = [r for r in caplog.records if r.name == "paindiary.errors" and r.exc_info]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == [f"password={LEAK}"]


def test_unhandled_exception_response_keeps_the_security_headers(
    raising_client: TestClient,
) -> None:
    response = raising_client.get("/boom")

    assert response.status_code == 500
    assert response.headers.get("cache-control") == "no-store"
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_database_outage_is_503_with_retry_after_and_no_sql(raising_client: TestClient) -> None:
    response = raising_client.get("/db-down")

    problem = assert_problem(response, 503)
    assert response.headers["retry-after"] == "2"
    assert LEAK not in response.text
    assert "SELECT" not in response.text
    assert problem["type"].endswith("/service-unavailable")


# --- request body limit -----------------------------------------------------------------


def _register_body(padding: int) -> bytes:
    return json.dumps(
        {"email": "big@example.org", "password": "p" * padding, "role": "patient"}
    ).encode()


def _chunks(raw: bytes, size: int = 500) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def test_body_over_the_limit_with_content_length_is_413(
    small_client: TestClient, db: Database, portal: Callable[..., Any]
) -> None:
    raw = _register_body(3000)

    response = small_client.post(
        "/v1/auth/register", content=raw, headers={"Content-Type": "application/json"}
    )

    problem = assert_problem(response, 413)
    assert str(LIMIT) in problem["detail"]
    assert response.headers["cache-control"] == "no-store"
    assert portal(count_rows, db, users) == 0


def test_chunked_body_over_the_limit_is_413(
    small_client: TestClient, db: Database, portal: Callable[..., Any]
) -> None:
    raw = _register_body(3000)

    response = small_client.post(
        "/v1/auth/register", content=_chunks(raw), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)
    assert portal(count_rows, db, users) == 0


def test_chunked_form_over_the_limit_is_413(
    small_client: TestClient, db: Database, portal: Callable[..., Any]
) -> None:
    raw = b"grant_type=password&username=a%40example.org&password=" + b"p" * 3000

    response = small_client.post(
        "/v1/auth/token",
        content=_chunks(raw),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert_problem(response, 413)


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 400), (LIMIT + 1, 413)])
def test_body_limit_boundary(small_client: TestClient, size: int, status: int) -> None:
    # An unknown grant type is a 400 from the route, so a 400 proves the body got through.
    head = b"grant_type=magic&padding="
    raw = head + b"x" * (size - len(head))
    assert len(raw) == size

    response = small_client.post(
        "/v1/auth/token",
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    problem = assert_problem(response, status)
    if status == 400:
        assert "grant_type" in problem["detail"]


def test_small_chunked_body_still_works(small_client: TestClient) -> None:
    raw = b"grant_type=magic&padding=" + b"x" * 1000

    response = small_client.post(
        "/v1/auth/token",
        content=_chunks(raw, 200),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    problem = assert_problem(response, 400)
    assert "grant_type" in problem["detail"]


def test_body_under_the_limit_is_stored(
    small_client: TestClient, db: Database, portal: Callable[..., Any]
) -> None:
    response = small_client.post(
        "/v1/auth/register",
        json={"email": "small@example.org", "password": PASSWORD, "role": "patient"},
    )

    assert response.status_code == 201, response.text
    assert portal(count_rows, db, users, email="small@example.org") == 1


# --- the OpenAPI document ---------------------------------------------------------------


def test_openapi_declares_the_problems_every_operation_can_answer(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    paths = document["paths"]

    put = paths["/v1/patients/{patient_id}/entries/{record_id}"]["put"]["responses"]
    assert " ".join(put) == "200 201 400 401 403 404 412 413 422 429 503"
    assert all(put[code]["content"] == problem for code in put if code >= "400")
    assert "WWW-Authenticate" in put["401"]["headers"]
    assert "Retry-After" in put["503"]["headers"]
    # FastAPI's own 422 (HTTPValidationError as application/json) is not what we send.
    unlink = paths["/v1/patients/me/links/{clinician_id}"]["delete"]["responses"]
    assert unlink["422"]["content"] == problem
    assert "HTTPValidationError" not in document["components"]["schemas"]
    # Any query string may hold NUL, which is refused with 422 everywhere.
    assert list(paths["/healthz"]["get"]["responses"]) == ["200", "422"]
    assert list(paths["/v1/reference/acupoints"]["get"]["responses"]) == ["200", "422", "503"]
