"""The API conforms to its own OpenAPI document, checked by schemathesis on every backend.

Every operation of ``/openapi.json`` gets valid and invalid requests (schemathesis's
examples, coverage and fuzzing phases), signed in as a patient. No response may be a 5xx,
and each must match the document: a declared status code, a declared content type and a
body that validates against the declared schema.

``schemathesis.pytest.from_fixture`` does not run under pytest 9 (it sets the private
``Item._nodeid``), so the schema is loaded at import from the document the app builds; the
requests go through the session ``client`` (the app's own event loop and database), and a
test checks that the served document is the one fuzzed.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
import requests
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from app.core.database import Database, table_of
from app.main import create_app
from app.records.models import IdempotencyKey
from tests.conftest import Account, app_of, header_bytes, make_settings, portal_of

#: Every check schemathesis has, but the response-time limit (speed is measured by
#: `make bench`, never by a test).
NOT_HERE = {"max_response_time"}
CHECKS = [c for c in REGISTERED_CHECKS.get_all() if c.__name__ not in NOT_HERE]
#: Examples per operation in the fuzzing phase (the coverage phase adds its own cases:
#: every boundary and every invalid variant the document allows, about 3,200 in all).
MAX_EXAMPLES = int(os.environ.get("PAINDIARY_FUZZ_EXAMPLES", "20"))
SEED = 20261125
BASE_URL = "http://testserver"

#: The records the signed-in patient holds, so that paths naming a record or a course
#: reach real data and not only 404s.
ENTRY_ID = uuid.UUID("0b6f7a52-2a38-4a4c-9d55-4a3c0d1e2f30")
COURSE_ID = uuid.UUID("5d0e3c1a-8f7b-4e2d-9c6a-1b2c3d4e5f60")
SESSION_ID = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
RECORD_IDS = {"entries": ENTRY_ID, "courses": COURSE_ID, "sessions": SESSION_ID}
#: Stands for the signed-in patient's own UUID in a generated path; replaced when sent.
SELF = "00000000-0000-4000-8000-00000000c0de"


def _document() -> dict[str, Any]:
    # Building the app opens no database connection.
    return create_app(make_settings("sqlite:///never-opened.db")).openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(
    copy.deepcopy(DOCUMENT),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # U+0000 is refused in every text, as the 422 of every operation says
                # (PostgreSQL text cannot hold it): not part of a valid request.
                "allow-x00": False,
            },
            "checks": {
                # Schemathesis's own list, plus 412: a schema-valid conditional request
                # (If-Match, If-None-Match, a POST naming an id that is taken) fails on
                # the state of the record, as RFC 9110 says, not on its shape.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
                },
            },
        }
    ),
)
schema.config.update(base_url=BASE_URL)


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> Any:
    """Mostly the signed-in patient (``me`` or their UUID) and the records they hold: a
    generated UUID only ever finds nothing."""
    if not path_parameters:
        return st.just(path_parameters)
    choices: dict[str, Any] = {}
    for name, generated in path_parameters.items():
        if name == "patient_id":
            choices[name] = st.sampled_from(["me", "me", SELF, generated])
        elif name in ("record_id", "course_id"):
            assert context.operation is not None
            kind = "courses" if name == "course_id" else context.operation.path.split("/")[4]
            choices[name] = st.sampled_from([str(RECORD_IDS[kind])] * 2 + [generated])
    if not choices:
        return st.just(path_parameters)
    return st.fixed_dictionaries(choices).map(lambda chosen: {**path_parameters, **chosen})


@schema.hook
def flatmap_headers(context: schemathesis.HookContext, headers: dict[str, Any] | None) -> Any:
    """Mostly well-formed entity tags, so that conditional requests reach the record (and
    304 and 412 happen), not only 400."""
    if not headers:
        return st.just(headers)
    choices = {
        name: st.sampled_from(['"1"', '"2"', 'W/"1"', "*", generated])
        for name, generated in headers.items()
        if name.lower() in ("if-match", "if-none-match")
    }
    if not choices:
        return st.just(headers)
    return st.fixed_dictionaries(choices).map(lambda chosen: {**headers, **chosen})


# Rules that join two values, or the data's state, or the calendar, which JSON Schema cannot
# state (the document says each in its descriptions). Valid requests are made to keep them
# (in the test itself: schemathesis's coverage phase does not run hooks), so that "a
# schema-valid request is accepted" checks everything the schema can say; requests that
# break them are refused with 422, tested where each rule is.
TIME_ZONES = ("Europe/Berlin", "UTC", "America/New_York")
WINDOW_DAYS = 1098  # a summary's ?from=&to= (trends.service.MAX_WINDOW_DAYS)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def keep_query_rules(operation_path: str, query: dict[str, Any] | None) -> Any:
    """``from`` ≤ ``to``; a summary's window at most 1,098 days; ``as_of`` no later than
    tomorrow (in the patient's zone: today, to be safe)."""
    if not query:
        return query
    first, last = _date(query.get("from")), _date(query.get("to"))
    if first and last and first > last:
        query["from"], query["to"] = query["to"], query["from"]
        first, last = last, first
    if operation_path.endswith("/summary") and first:
        # `to` defaults to today in the patient's zone, which may be UTC's tomorrow (Europe/
        # Berlin from 23:00 UTC): the window is kept from the latest it can be.
        last = last or dt.date.today() + dt.timedelta(days=1)
        if (last - first).days >= WINDOW_DAYS:
            query["from"] = (last - dt.timedelta(days=WINDOW_DAYS - 1)).isoformat()
    as_of = _date(query.get("as_of"))
    if as_of and as_of > dt.date.today():
        query["as_of"] = dt.date.today().isoformat()
    return query


def keep_body_rules(path: str, method: str, body: Any) -> Any:
    """A course ends on or after its start; a session names the patient's course and a
    frequency only for electroacupuncture; a time zone is an IANA name; an entry or a
    session is at most a day in the future."""
    if not isinstance(body, dict):
        return body
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)
    for name in ("recorded_at", "occurred_at"):
        try:
            when = dt.datetime.fromisoformat(body[name])
        except (KeyError, TypeError, ValueError):
            continue
        if when.tzinfo is not None and when > soon:
            body[name] = when.replace(year=soon.year - 1).isoformat()
    start, end = _date(body.get("start_date")), _date(body.get("end_date"))
    if start and end and end < start:
        body["start_date"], body["end_date"] = body["end_date"], body["start_date"]
    local_date = _date(body.get("local_date"))
    if local_date and local_date > dt.date.today():  # a back-filled entry is in the past
        body["local_date"] = dt.date.today().isoformat()
    if isinstance(body.get("points"), list):  # codes of GET /v1/reference/acupoints
        body["points"] = ["LI4", "GB20"][: len(body["points"])]
    if "/sessions" in path and isinstance(body.get("course_id"), str):
        body["course_id"] = str(COURSE_ID)
    if "/sessions" in path and body.get("modality") != "electroacupuncture":
        body.pop("electro_frequency_hz", None)
    if "/courses/" in path and method == "patch":
        # The stored course started 14 days ago and has no end.
        if end and end < dt.date.today() - dt.timedelta(days=14):
            body["end_date"] = dt.date.today().isoformat()
        if start and not end and start > dt.date.today():
            body["start_date"] = dt.date.today().isoformat()
    if isinstance(body.get("timezone"), str):
        body["timezone"] = TIME_ZONES[len(body["timezone"]) % len(TIME_ZONES)]
    return body


def _records() -> list[tuple[str, dict[str, Any]]]:
    today = dt.date.today()
    return [
        (
            f"courses/{COURSE_ID}",
            {
                "name": "Acupuncture for neck pain",
                "condition": "neck_pain",
                "modality": "acupuncture",
                "start_date": (today - dt.timedelta(days=14)).isoformat(),
                "planned_sessions": 8,
            },
        ),
        (
            f"entries/{ENTRY_ID}",
            {
                "recorded_at": f"{today.isoformat()}T08:30:00+01:00",
                "pain": 6,
                "sleep_hours": 6.5,
                "stress": 4,
                "sites": [{"region": "neck", "side": "left", "intensity": 6}],
                "medications": [
                    {"name": "ibuprofen", "dose": 400, "unit": "mg", "kind": "as_needed"}
                ],
                "tags": ["weather"],
            },
        ),
        (
            f"sessions/{SESSION_ID}",
            {
                "course_id": str(COURSE_ID),
                "occurred_at": f"{today.isoformat()}T10:00:00+01:00",
                "points": ["LI4", "GB20"],
                "pain_before": 6,
                "pain_after": 3,
            },
        ),
    ]


async def _forget_idempotency_keys(db: Database, user_id: uuid.UUID) -> None:
    keys = table_of(IdempotencyKey)
    async with db.transaction() as conn:
        await conn.execute(sa.delete(keys).where(keys.c.user_id == user_id))


class SignedInPatient:
    """The patient the fuzzer acts as, holding one record of each kind.

    Every case starts from that state: a case that deleted something (the account itself
    with ``DELETE /v1/me``, or one of the records) gets the next case a new patient, and
    the ``Idempotency-Key`` a case used is forgotten (schemathesis reuses its values with
    other bodies, which would be 422 for the second)."""

    def __init__(self, client: TestClient, make_account: Callable[..., Account]) -> None:
        self.client = client
        self.make_account = make_account
        self.account: Account | None = None

    def current(self) -> Account:
        if self.account is None:
            account = self.make_account("patient", timezone="Europe/Berlin")
            for path, body in _records():
                response = self.client.put(
                    f"/v1/patients/me/{path}", json=body, headers=account.headers
                )
                assert response.status_code == 201, response.text
            self.account = account
        return self.account

    def after(self, request: requests.PreparedRequest, status: int) -> None:
        if request.method == "DELETE" and 200 <= status < 300:
            self.account = None
        elif "Idempotency-Key" in request.headers and self.account is not None:
            db = app_of(self.client).state.db
            portal_of(self.client).call(_forget_idempotency_keys, db, self.account.id)


@pytest.fixture
def signed_in(client: TestClient, make_account: Callable[..., Account]) -> SignedInPatient:
    return SignedInPatient(client, make_account)


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_every_operation_conforms_to_the_openapi_document(
    case: schemathesis.Case, client: TestClient, signed_in: SignedInPatient
) -> None:
    account = signed_in.current()
    if case.meta is not None and case.meta.generation.mode.is_positive:
        path, method = case.operation.path, case.operation.method.lower()
        case.query = keep_query_rules(path, case.query)
        case.body = keep_body_rules(path, method, case.body)
        record_id = (case.path_parameters or {}).get("record_id")
        if isinstance(case.body, dict) and record_id and "id" in case.body:
            case.body["id"] = record_id  # a body may repeat the path's id, not name another
        # Cursors are opaque: the service issues them (a position it can verify), so no
        # string the schema could describe is one it issued. Valid requests leave them out;
        # invalid ones keep whatever was generated (a 422 is then the right answer).
        for opaque in ("cursor", "since"):
            (case.query or {}).pop(opaque, None)
    if case.path_parameters and case.path_parameters.get("patient_id") == SELF:
        case.path_parameters["patient_id"] = str(account.id)
    request = requests.Request(
        **case.as_transport_kwargs(base_url=BASE_URL, headers=account.headers)
    ).prepare()
    assert request.method is not None and request.url is not None
    body = request.body
    assert body is None or isinstance(body, (bytes, str))

    response = client.request(
        request.method, request.url, headers=header_bytes(request.headers), content=body
    )

    signed_in.after(request, response.status_code)
    case.validate_response(response, checks=_checks_for(case))


def _checks_for(case: schemathesis.Case) -> list[Any]:
    """Every check, but for two kinds of case where a check would judge the wrong thing."""
    meta = case.meta
    if meta and meta.generation.mode.is_positive and not _headers_match_their_patterns(case):
        # Schemathesis 4.32's coverage phase labels its "default positive" case positive
        # while a header in it is one it could not draw from the header's pattern (sent as
        # `0`): not a valid request, so not one that must be accepted.
        return [c for c in CHECKS if c is not positive_data_acceptance]
    if meta and meta.generation.mode.is_negative and _only_path_headers_or_query_negative(meta):
        if _headers_match_their_patterns(case) and _path_is_valid(case) and _query_is_valid(case):
            # The hooks above (which run for every case) drew the patient's own ids and
            # well-formed entity tags in place of the malformed ones, and a query parameter
            # that is not declared went out as nothing (an empty list: no parameter at
            # all): the request is valid after all (and may be answered 200 or 304).
            return [c for c in CHECKS if c is not negative_data_rejection]
    if meta and meta.generation.mode.is_negative and _an_optional_body_left_out(case):
        # Schemathesis marks a case whose optional body it left out as negative; leaving it
        # out is valid (share codes: 72 hours).
        return [c for c in CHECKS if c is not negative_data_rejection]
    if case.operation.path.endswith("/entries/batch") and _items_alone_are_invalid(case):
        # Contract §2: "each item stands or falls alone". A batch whose items list is well
        # formed is answered 200, a malformed item with status `invalid` in `results`; the
        # document types the items as BatchItem all the same, for generated clients.
        return [c for c in CHECKS if c is not negative_data_rejection]
    return CHECKS


def _only_path_headers_or_query_negative(meta: Any) -> bool:
    negative = {str(w.value) for w, part in meta.components.items() if part.mode.is_negative}
    return bool(negative) and negative <= {"path", "header", "query"}


def _query_is_valid(case: schemathesis.Case) -> bool:
    """Whether the query parameters the request carries (one with no value — None or an
    empty list — is not sent at all) are the operation's, each valid."""
    parameters = [
        p
        for p in DOCUMENT["paths"][case.operation.path][case.operation.method.lower()].get(
            "parameters", []
        )
        if p["in"] == "query"
    ]
    schema = {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in parameters},
        "required": [p["name"] for p in parameters if p.get("required")],
        "additionalProperties": False,
        "components": DOCUMENT.get("components", {}),
    }
    sent = {k: v for k, v in (case.query or {}).items() if v is not None and v != []}
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    return validator.is_valid(sent)


def _an_optional_body_left_out(case: schemathesis.Case) -> bool:
    assert case.meta is not None
    negative = {str(w.value) for w, part in case.meta.components.items() if part.mode.is_negative}
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    optional = operation.get("requestBody", {}).get("required") is False
    return negative == {"body"} and optional and not isinstance(case.body, dict | list | str)


def _path_is_valid(case: schemathesis.Case) -> bool:
    for name, value in (case.path_parameters or {}).items():
        if name == "patient_id" and value in ("me", SELF):
            continue
        try:
            uuid.UUID(str(value))
        except ValueError:
            return False
    return True


def _headers_match_their_patterns(case: schemathesis.Case) -> bool:
    parameters = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()].get(
        "parameters", []
    )
    patterns = {
        p["name"].lower(): p["schema"]["pattern"]
        for p in parameters
        if p["in"] == "header" and "pattern" in p["schema"]
    }
    return all(
        isinstance(value, str) and re.search(patterns[name.lower()], value)
        for name, value in (case.headers or {}).items()
        if name.lower() in patterns
    )


def _items_alone_are_invalid(case: schemathesis.Case) -> bool:
    body = case.body
    return (
        isinstance(body, dict)
        and set(body) == {"items"}
        and isinstance(body["items"], list)
        and len(body["items"]) <= 500
    )


def test_the_fuzzed_document_is_the_one_the_app_serves(client: TestClient) -> None:
    assert client.get("/openapi.json").json() == DOCUMENT


def test_every_error_response_is_a_problem_document() -> None:
    """Except ``/readyz``'s 503, which is the readiness report a probe reads."""
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if (path, status) == ("/readyz", "503"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Readiness"}
                elif status[0] in "45":
                    assert response["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (method, path, status)


def test_the_document_has_no_numeric_bounds_json_schema_cannot_read() -> None:
    """Pydantic writes a bound it cannot place as its own keyword (``gt``, ``le``…), which
    JSON Schema ignores: the document would then not state the range."""
    found = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("gt", "ge", "lt", "le") and isinstance(value, int | float):
                    found.append(f"{where}/{key}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(DOCUMENT, "")
    assert found == []
