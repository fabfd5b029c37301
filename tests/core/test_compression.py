"""gzip for responses over ``gzip_minimum_bytes`` (1 KiB) to clients that accept it.

httpx decodes gzip by itself, so these tests read the raw bytes off the stream and compare
them, decompressed, with the same request sent with ``Accept-Encoding: identity``.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.core.middleware import with_baseline_headers
from tests.conftest import Account

ACUPOINTS = "/v1/reference/acupoints"
ENTRIES = "/v1/patients/me/entries"


@dataclass
class Raw:
    status: int
    headers: httpx2.Headers
    body: bytes  # as sent, before any decoding


def fetch(client: TestClient, path: str, encoding: str | None, **headers: str) -> Raw:
    if encoding is not None:
        headers["Accept-Encoding"] = encoding
    with client.stream("GET", path, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return Raw(response.status_code, response.headers, body)


def assert_gzipped(raw: Raw, *, smaller: bool = True) -> bytes:
    """The response is gzip-compressed; returns the decompressed body. ``smaller=False``
    for a body so short that gzip's own header makes it longer."""
    assert raw.status == 200
    assert raw.headers["content-encoding"] == "gzip"
    assert int(raw.headers["content-length"]) == len(raw.body)
    assert "accept-encoding" in raw.headers["vary"].lower()
    assert raw.body[:2] == b"\x1f\x8b"
    decoded = gzip.decompress(raw.body)
    if smaller:
        assert len(raw.body) < len(decoded)
    return decoded


def assert_plain(raw: Raw) -> None:
    assert raw.status == 200
    assert "content-encoding" not in raw.headers
    assert raw.body[:2] != b"\x1f\x8b"


@pytest.fixture
def twenty_entries(client: TestClient, patient: Account) -> Account:
    for day in range(1, 21):
        response = client.put(
            f"{ENTRIES}/{uuid.uuid4()}",
            json={
                "recorded_at": f"2026-11-{day:02d}T08:30:00+01:00",
                "pain": day % 11,
                "tags": ["weather", "long drive"],
                "notes": "stiff in the morning, better after a walk",
            },
            headers=patient.headers,
        )
        assert response.status_code == 201
    return patient


def test_a_large_reference_response_is_gzipped(client: TestClient) -> None:
    plain = fetch(client, ACUPOINTS, "identity")
    zipped = fetch(client, ACUPOINTS, "gzip")

    assert_plain(plain)
    assert len(plain.body) > 1024
    assert json.loads(assert_gzipped(zipped)) == json.loads(plain.body)
    assert zipped.headers["content-type"] == plain.headers["content-type"] == "application/json"
    assert zipped.headers["cache-control"] == "public, max-age=86400"


def test_a_list_of_entries_is_gzipped_and_stays_private(
    client: TestClient, twenty_entries: Account
) -> None:
    auth = twenty_entries.headers
    plain = fetch(client, f"{ENTRIES}?limit=20", "identity", **auth)
    zipped = fetch(client, f"{ENTRIES}?limit=20", "gzip, deflate", **auth)

    assert_plain(plain)
    assert len(plain.body) > 1024
    page = json.loads(assert_gzipped(zipped))
    assert page == json.loads(plain.body)
    assert len(page["items"]) == 20 and page["next_cursor"] is None
    assert zipped.headers["cache-control"] == "no-store"


def test_a_streamed_csv_export_is_gzipped(client: TestClient, twenty_entries: Account) -> None:
    auth = twenty_entries.headers
    plain = fetch(client, f"{ENTRIES}.csv", "identity", **auth)
    zipped = fetch(client, f"{ENTRIES}.csv", "gzip", **auth)

    assert_plain(plain)
    assert zipped.status == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    decoded = gzip.decompress(zipped.body)
    assert decoded == plain.body
    assert len(decoded.decode().splitlines()) == 21  # a header row and one per entry


def test_a_small_response_is_not_compressed(client: TestClient) -> None:
    raw = fetch(client, "/healthz", "gzip")

    assert_plain(raw)
    assert raw.body == b'{"status":"ok"}'
    assert int(raw.headers["content-length"]) == len(raw.body)


@pytest.mark.parametrize("encoding", ["identity", "deflate", "br", None])
def test_without_gzip_in_accept_encoding_nothing_is_compressed(
    client: TestClient, encoding: str | None
) -> None:
    headers = {} if encoding is None else {"Accept-Encoding": encoding}
    request = client.build_request("GET", ACUPOINTS, headers=headers)
    if encoding is None:
        del request.headers["accept-encoding"]  # httpx adds "gzip, deflate" by default
    response = client.send(request, stream=True)
    try:
        body = b"".join(response.iter_raw())
    finally:
        response.close()

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    # A shared cache may keep this (public) answer: it must not hand it to a gzip client.
    assert response.headers["vary"] == "Accept-Encoding"
    assert len(body) > 1024
    assert json.loads(body)["items"][0]["code"]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ([], [b"Accept-Encoding"]),
        ([(b"vary", b"Origin")], [b"Origin, Accept-Encoding"]),
        ([(b"Vary", b"origin, accept-encoding")], [b"origin, accept-encoding"]),
        ([(b"vary", b"*")], [b"*"]),
        ([(b"vary", b"Origin"), (b"vary", b"Cookie")], [b"Origin, Accept-Encoding", b"Cookie"]),
    ],
)
def test_vary_names_accept_encoding_once(
    given: list[tuple[bytes, bytes]], sent: list[bytes]
) -> None:
    headers = with_baseline_headers([(b"content-type", b"application/json"), *given])

    assert [value for name, value in headers if name.lower() == b"vary"] == sent


def test_a_routes_own_cache_control_stays_and_the_rest_is_added_once() -> None:
    headers = with_baseline_headers(
        [(b"cache-control", b"public, max-age=60"), (b"x-frame-options", b"DENY")]
    )

    assert sorted(headers) == sorted(
        [
            (b"cache-control", b"public, max-age=60"),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"vary", b"Accept-Encoding"),
        ]
    )


def test_the_threshold_is_a_setting(app_with: Callable[..., TestClient]) -> None:
    everything = app_with(gzip_minimum_bytes=0)
    nothing = app_with(gzip_minimum_bytes=10_000_000)

    small = fetch(everything, "/healthz", "gzip")
    assert json.loads(assert_gzipped(small, smaller=False)) == {"status": "ok"}
    assert_plain(fetch(nothing, ACUPOINTS, "gzip"))
