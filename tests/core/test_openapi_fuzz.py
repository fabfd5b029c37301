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
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.core.database import Database, table_of
from app.main import create_app
from app.records.models import IdempotencyKey
from tests.conftest import Account, app_of, header_bytes, make_settings, portal_of

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
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
    case.validate_response(response, checks=CHECKS)


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
