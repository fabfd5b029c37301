"""GET /metrics (Prometheus), X-Request-ID and the structured logs (contract §8)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import QueuePool

from app.core.database import Database
from app.core.observability import (
    HttpMetrics,
    JsonFormatter,
    TextFormatter,
    exception_chain,
    logging_config,
)
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import SECRET, Account, assert_problem, make_settings

METRICS_TOKEN = "metrics-token-0123456789"
ENTRY_ROUTE = "/v1/patients/{patient_id}/entries/{record_id}"
NOTE = "SECRET-NOTE-123"
EMAIL = "leak.marker@example.org"
PASSWORD = "SECRET-PASSWORD-456"
QUERY = "SECRET-QUERY-789"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def token_client(database_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, metrics_token=METRICS_TOKEN))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def raising_client(database_url: str) -> Iterator[TestClient]:
    """A test-only app with a route that crashes quoting personal data, and a small body
    limit."""
    app = create_app(make_settings(database_url, max_body_bytes=2048))

    def crash() -> None:
        raise RuntimeError(f"note={NOTE} email={EMAIL}") from KeyError(PASSWORD)

    app.add_api_route("/boom/{thing_id}", crash)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the ``paindiary`` loggers write through the JSON formatter during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("paindiary")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_total(samples: Samples, method: str, route: str, status: int) -> float:
    labels = frozenset({"method": method, "route": route, "status": str(status)}.items())
    return samples.get(("paindiary_http_requests_total", labels), 0.0)


def counted(before: Samples, after: Samples, method: str, route: str, status: int) -> float:
    """How many requests were answered between two scrapes."""
    return requests_total(after, method, route, status) - requests_total(
        before, method, route, status
    )


def duration_count(samples: Samples, method: str, route: str) -> float:
    labels = frozenset({"method": method, "route": route}.items())
    return samples.get(("paindiary_http_request_duration_seconds_count", labels), 0.0)


def _entry(**fields: Any) -> dict[str, Any]:
    recorded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return {"recorded_at": recorded, "pain": 4, **fields}


# --- metrics ----------------------------------------------------------------------------


def test_metrics_exposition_parses_with_every_family(client: TestClient) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "paindiary_http_requests",
        "paindiary_http_request_duration_seconds",
        "paindiary_http_requests_in_flight",
        "paindiary_db_pool_size",
        "paindiary_db_pool_max_overflow",
        "paindiary_db_pool_checked_out",
        "paindiary_db_pool_checked_in",
        "paindiary_db_pool_overflow",
    } <= names


def test_requests_are_counted_exactly_by_route_template(
    client: TestClient, patient: Account
) -> None:
    entry_id = uuid.uuid4()
    url = f"/v1/patients/me/entries/{entry_id}"
    before = scrape(client)

    assert client.put(url, json=_entry(), headers=patient.headers).status_code == 201
    assert client.get(url, headers=patient.headers).status_code == 200
    assert client.get(url, headers=patient.headers).status_code == 200
    missing = f"/v1/patients/{patient.id}/entries/{uuid.uuid4()}"
    assert client.get(missing, headers=patient.headers).status_code == 404
    assert client.get(url).status_code == 401
    after = scrape(client)

    assert counted(before, after, "PUT", ENTRY_ROUTE, 201) == 1
    assert counted(before, after, "GET", ENTRY_ROUTE, 200) == 2
    assert counted(before, after, "GET", ENTRY_ROUTE, 404) == 1
    assert counted(before, after, "GET", ENTRY_ROUTE, 401) == 1
    timed = duration_count(after, "GET", ENTRY_ROUTE) - duration_count(before, "GET", ENTRY_ROUTE)
    assert timed == 4
    # The earlier scrape is counted once it has been answered.
    assert counted(before, after, "GET", "/metrics", 200) == 1
    # No id (personal data, and unbounded label values) ever becomes a label: every route
    # label is one of the app's templates.
    labels = " ".join(value for _, pairs in after for _, value in pairs)
    assert str(entry_id) not in labels
    assert str(patient.id) not in labels
    documented = set(client.get("/openapi.json").json()["paths"])
    undocumented = {
        "/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets/{path}", "/app/{path}",
    }  # fmt: skip
    routes = {dict(pairs)["route"] for _, pairs in after if "route" in dict(pairs)}
    assert routes <= documented | undocumented | {"unmatched"}


def test_unknown_paths_are_counted_as_unmatched(client: TestClient) -> None:
    thing = uuid.uuid4()
    before = scrape(client)

    assert client.get(f"/nope/{thing}?q={QUERY}").status_code == 404
    assert client.request("BREW", "/healthz").status_code == 405
    after = scrape(client)

    assert counted(before, after, "GET", "unmatched", 404) == 1
    # An invented method is counted as "other", on the route it was sent to.
    assert counted(before, after, "other", "/healthz", 405) == 1
    text = client.get("/metrics").text
    assert str(thing) not in text
    assert QUERY not in text
    assert "BREW" not in text


def test_mounted_docs_assets_are_counted_by_mount(client: TestClient) -> None:
    before = scrape(client)

    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    after = scrape(client)

    assert counted(before, after, "GET", "/docs/assets/{path}", 200) == 1


def test_durations_form_a_cumulative_histogram(db: Database) -> None:
    metrics = HttpMetrics(db.engine)
    for seconds in (0.0005, 0.001, 0.0011, 0.3, 11.0):
        metrics.observe("GET", "/x", 200, seconds)

    (family,) = [
        f
        for f in text_string_to_metric_families(metrics.exposition().decode())
        if f.name == "paindiary_http_request_duration_seconds"
    ]
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    assert buckets["0.001"] == 2  # a bound counts the durations equal to it
    assert buckets["0.0025"] == buckets["0.25"] == 3  # cumulative
    assert buckets["0.5"] == buckets["10.0"] == 4
    assert buckets["+Inf"] == 5
    totals = {s.name: s.value for s in family.samples if "le" not in s.labels}
    assert totals["paindiary_http_request_duration_seconds_count"] == 5
    assert totals["paindiary_http_request_duration_seconds_sum"] == pytest.approx(11.3026)


def test_in_flight_gauge_counts_the_scrape_itself(client: TestClient) -> None:
    samples = scrape(client)

    assert samples[("paindiary_http_requests_in_flight", frozenset())] == 1


def test_pool_gauges_follow_the_pool(
    client: TestClient, db: Database, portal: Callable[..., Any], backend: str
) -> None:
    def gauge(samples: Samples, name: str) -> float:
        return samples[(f"paindiary_db_pool_{name}", frozenset())]

    idle = scrape(client)
    connection: AsyncConnection = portal(db.engine.connect)
    try:
        busy = scrape(client)
    finally:
        portal(connection.close)

    if backend == "postgresql":
        expected_size, expected_overflow = 20, 0
    else:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        expected_size, expected_overflow = pool.size(), pool._max_overflow
    assert gauge(idle, "size") == expected_size
    assert gauge(idle, "max_overflow") == expected_overflow
    assert gauge(busy, "checked_out") == gauge(idle, "checked_out") + 1
    for samples in (idle, busy):
        assert 0 <= gauge(samples, "checked_out") <= expected_size + expected_overflow
        assert 0 <= gauge(samples, "checked_in") <= expected_size
        assert 0 <= gauge(samples, "overflow") <= expected_overflow


def test_metrics_are_public_without_a_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer"],
)
def test_metrics_token_is_required_when_set(
    token_client: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = token_client.get("/metrics", headers=headers)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "paindiary_" not in response.text


def test_an_access_token_does_not_open_the_metrics(
    token_client: TestClient, patient: Account
) -> None:
    assert_problem(token_client.get("/metrics", headers=patient.headers), 401)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_the_metrics_token_opens_the_metrics(token_client: TestClient, scheme: str) -> None:
    samples = scrape(token_client, Authorization=f"{scheme} {METRICS_TOKEN}")

    assert ("paindiary_http_requests_in_flight", frozenset()) in samples


def test_metrics_are_documented_as_text(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]

    assert "text/plain" in operation["responses"]["200"]["content"]
    assert "401" in operation["responses"]


# --- request ids ------------------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["abc", "req-1.2_3", "A" * 128, str(uuid.UUID(int=0x5EED4))])
def test_a_valid_request_id_is_echoed(client: TestClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.headers["x-request-id"] == incoming


def test_a_request_id_is_generated_when_none_is_sent(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]

    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "incoming", ["", "A" * 129, "has space", "a/b", "semi;colon", "ünïcode", "<script>"]
)
def test_an_invalid_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/healthz", headers={b"X-Request-ID": incoming.encode()})

    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("POST", "/healthz", 405),
        ("GET", "/v1/me", 401),
        ("POST", "/v1/auth/register", 422),
    ],
)
def test_error_responses_carry_the_request_id(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path, headers={"X-Request-ID": "err-1"})

    assert_problem(response, status)
    assert response.headers["x-request-id"] == "err-1"


def test_crash_and_oversized_body_responses_carry_the_request_id(
    raising_client: TestClient,
) -> None:
    crashed = raising_client.get("/boom/1", headers={"X-Request-ID": "crash-1"})
    too_big = raising_client.post(
        "/v1/auth/register", content=b"x" * 4096, headers={"X-Request-ID": "big-1"}
    )

    assert_problem(crashed, 500)
    assert crashed.headers["x-request-id"] == "crash-1"
    assert crashed.headers["cache-control"] == "no-store"
    assert_problem(too_big, 413)
    assert too_big.headers["x-request-id"] == "big-1"


def test_a_crash_is_counted_as_500(raising_client: TestClient) -> None:
    before = scrape(raising_client)

    raising_client.get("/boom/2")
    after = scrape(raising_client)

    assert counted(before, after, "GET", "/boom/{thing_id}", 500) == 1


# --- logs -------------------------------------------------------------------------------


def test_each_request_writes_one_json_access_line(
    client: TestClient, patient: Account, log_output: io.StringIO
) -> None:
    entry_id = uuid.uuid4()
    response = client.get(
        f"/v1/patients/me/entries/{entry_id}",
        headers=patient.headers | {"X-Request-ID": "trace-42"},
    )

    assert response.status_code == 404
    access = [line for line in _lines(log_output) if line["event"] == "request"]
    assert len(access) == 1
    (line,) = access
    assert set(line) == {
        "ts",
        "level",
        "logger",
        "event",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
    }
    assert line["request_id"] == "trace-42"
    assert (line["method"], line["route"], line["status"]) == ("GET", ENTRY_ROUTE, 404)
    assert line["level"] == "info"
    assert line["logger"] == "paindiary.access"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert dt.datetime.fromisoformat(line["ts"]).tzinfo is not None


def test_logs_hold_no_personal_data(
    client: TestClient,
    raising_client: TestClient,
    patient: Account,
    log_output: io.StringIO,
) -> None:
    registered = client.post(
        "/v1/auth/register",
        json={"email": EMAIL, "password": PASSWORD, "role": "patient"},
    )
    signed_in = client.post(
        "/v1/auth/token", data={"grant_type": "password", "username": EMAIL, "password": PASSWORD}
    )
    wrong = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": EMAIL, "password": PASSWORD + "x"},
    )
    entry_id = uuid.uuid4()
    queried = client.get(f"/v1/patients/me/entries?cursor={QUERY}", headers=patient.headers)
    written = client.put(
        f"/v1/patients/{patient.id}/entries/{entry_id}",
        json=_entry(notes=NOTE),
        headers=patient.headers,
    )
    invalid = client.put(
        f"/v1/patients/me/entries/{entry_id}",
        json=_entry(notes=NOTE, pain=11),
        headers=patient.headers,
    )
    crashed = raising_client.get(f"/boom/{entry_id}?q={QUERY}", headers=patient.headers)

    statuses = [
        r.status_code for r in (registered, signed_in, wrong, queried, written, invalid, crashed)
    ]
    assert statuses == [201, 200, 401, 422, 201, 422, 500]
    output = log_output.getvalue()
    lines = _lines(log_output)
    assert len([line for line in lines if line["event"] == "request"]) == 7
    access_token = signed_in.json()["access_token"]
    refresh_token = signed_in.json()["refresh_token"]
    for secret in (
        NOTE,
        EMAIL,
        "leak.marker",
        PASSWORD,
        QUERY,
        access_token,
        refresh_token,
        patient.token,
        SECRET,
        str(entry_id),
        str(patient.id),
    ):
        assert secret not in output, secret
    # The crash is logged with its request id, type and code lines, not its message.
    (error,) = [line for line in lines if line.get("exception")]
    assert error["request_id"] == crashed.headers["x-request-id"]
    assert error["level"] == "error"
    raised, cause = error["exception"]
    assert raised["type"] == "builtins.RuntimeError"
    assert cause["type"] == "builtins.KeyError"
    assert any("in crash: raise RuntimeError" in frame for frame in raised["traceback"])


def test_every_line_written_during_a_request_carries_its_id(
    raising_client: TestClient, log_output: io.StringIO
) -> None:
    raising_client.get("/boom/3", headers={"X-Request-ID": "one-request"})

    lines = _lines(log_output)
    assert {line["event"] for line in lines} == {"unhandled error", "request"}
    assert {line["request_id"] for line in lines} == {"one-request"}


def test_outside_a_request_there_is_no_request_id(log_output: io.StringIO) -> None:
    logging.getLogger("paindiary.test").warning("started %s", "up", extra={"port": 8000})

    (line,) = _lines(log_output)
    assert line["event"] == "started up"
    assert line["port"] == 8000
    assert "request_id" not in line


def test_exception_chain_has_types_and_code_lines_but_no_message() -> None:
    try:
        try:
            raise KeyError(EMAIL)
        except KeyError:
            raise ValueError(NOTE) from None
    except ValueError as exc:
        chain = exception_chain((type(exc), exc, exc.__traceback__))

    assert [link["type"] for link in chain] == ["builtins.ValueError"]
    assert NOTE not in json.dumps(chain)
    assert chain[0]["traceback"][-1].endswith("raise ValueError(NOTE) from None")


def test_text_format_has_the_same_content() -> None:
    record = logging.LogRecord("paindiary.x", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200

    text = TextFormatter().format(record)

    assert text.endswith(" INFO paindiary.x request status=200")


@pytest.mark.parametrize(
    ("log_format", "formatter"),
    [("json", "JsonFormatter"), ("text", "TextFormatter")],
)
def test_logging_config_routes_everything_to_one_stderr_handler(
    log_format: str, formatter: str
) -> None:
    config = logging_config(log_format, "debug")

    assert config["formatters"]["default"]["()"].endswith(formatter)
    assert config["loggers"]["paindiary"]["level"] == "DEBUG"
    assert config["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": False}
    assert config["root"] == {"handlers": ["stderr"], "level": "WARNING"}


@pytest.mark.parametrize("override", [{"log_format": "xml"}, {"log_level": "loud"}])
def test_log_settings_are_validated(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(secret_key=SECRET, **override)


def test_log_level_is_case_insensitive() -> None:
    assert Settings(secret_key=SECRET, log_level="WARNING").log_level == "WARNING"
