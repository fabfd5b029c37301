"""``GET …/report``'s representations chosen by ``Accept`` (contract §7, RFC 9110 §12.5.1)
over HTTP on both databases, and how the OpenAPI document describes them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from app.access.models import AccessLogEntry
from app.clinicians import fhir_export
from app.clinicians.schemas import FhirBundle, Report
from app.core.database import Database, table_of
from tests.clinicians.test_sharing import link
from tests.conftest import Account, assert_problem, count_rows

JSON = "application/json"
FHIR = "application/fhir+json"
NOT_ACCEPTABLE = 406

#: Accept → what the report is sent as.
CASES = [
    ("application/fhir+json;q=0, application/json", JSON),
    ("application/json, application/fhir+json, application/problem+json", JSON),
    ("application/fhir+json", FHIR),
    ("application/fhir+json, application/json;q=0.9", FHIR),
    ("*/*", JSON),
    ("application/*;q=0.5, application/fhir+json", FHIR),
    ("application/fhir+json; fhirVersion=4.0", FHIR),
    ("text/html", NOT_ACCEPTABLE),
    ("application/problem+json", NOT_ACCEPTABLE),
    ("application/json;q=0, application/fhir+json;q=0", NOT_ACCEPTABLE),
    ("application/fhir+json; fhirVersion=3.0", NOT_ACCEPTABLE),
]

access_log = table_of(AccessLogEntry)


@pytest.fixture
def shared(client: TestClient, patient: Account, clinician: Account) -> Account:
    """The patient, with an entry and a session, linked to the clinician."""
    entry = {
        "recorded_at": "2026-11-20T08:30:00+05:45",
        "pain": 6,
        "sleep_hours": 6.5,
        "stress": 3,
        "notes": "stiff neck",
    }
    put = client.put(f"/v1/patients/me/entries/{uuid.uuid4()}", json=entry, headers=patient.headers)
    assert put.status_code == 201, put.text
    session = {
        "occurred_at": "2026-11-19T17:00:00-05:00",
        "modality": "electroacupuncture",
        "electro_frequency_hz": 2,
        "points": ["li 4", "GB20"],
        "adverse_events": ["bruising"],
        "practitioner": "Dr. Chen",
        "pain_before": 7,
        "pain_after": 4,
    }
    posted = client.post("/v1/patients/me/sessions", json=session, headers=patient.headers)
    assert posted.status_code == 201, posted.text
    link(client, clinician, patient)
    return patient


def report(client: TestClient, who: Account, patient: Account, *accept: str) -> Any:
    """The report, sent with one ``Accept`` field per value (none when no value is given)."""
    request = client.build_request(
        "GET",
        f"/v1/patients/{patient.id}/report",
        headers=[*who.headers.items(), *(("Accept", value) for value in accept)],
    )
    if not accept:
        del request.headers["Accept"]  # the client's default `*/*`
    return client.send(request)


def assert_json_report(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    assert "Accept" in response.headers["vary"].split(", ")
    Report.model_validate(response.json())


def assert_bundle(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR
    assert "Accept" in response.headers["vary"].split(", ")
    bundle: dict[str, Any] = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    Bundle.model_validate(bundle)
    FhirBundle.model_validate(bundle)
    return bundle


@pytest.mark.parametrize(("accept", "sent_as"), CASES, ids=[accept for accept, _ in CASES])
def test_accept_chooses_the_report_form(
    client: TestClient, shared: Account, clinician: Account, accept: str, sent_as: str | int
) -> None:
    response = report(client, clinician, shared, accept)
    if sent_as == JSON:
        assert_json_report(response)
    elif sent_as == FHIR:
        resources = [e["resource"]["resourceType"] for e in assert_bundle(response)["entry"]]
        assert resources == ["Patient", "Observation", "Observation", "Observation", "Procedure"]
    else:
        problem = assert_problem(response, NOT_ACCEPTABLE)
        assert problem["type"].endswith("/not-acceptable")
        assert "application/fhir+json" in problem["detail"]


def test_without_accept_or_with_several_fields(
    client: TestClient, shared: Account, clinician: Account
) -> None:
    assert_json_report(report(client, clinician, shared))
    # Several fields are one list: FHIR weighs more here than JSON.
    assert_bundle(report(client, clinician, shared, "application/json;q=0.5", FHIR))
    assert_json_report(report(client, clinician, shared, FHIR + ";q=0.5", JSON))


def test_the_patient_negotiates_too(client: TestClient, shared: Account) -> None:
    assert_bundle(report(client, shared, shared, "application/fhir+json, application/json;q=0.9"))
    assert_problem(report(client, shared, shared, "text/csv"), NOT_ACCEPTABLE)


def test_a_refused_report_is_not_read_nor_logged(
    client: TestClient,
    db: Database,
    portal: Callable[..., Any],
    shared: Account,
    clinician: Account,
    make_account: Callable[..., Account],
) -> None:
    def logged() -> int:
        return int(portal(count_rows, db, access_log, patient_id=shared.id))

    before = logged()
    assert_problem(report(client, clinician, shared, "text/html"), NOT_ACCEPTABLE)
    assert logged() == before
    assert_json_report(report(client, clinician, shared, JSON))
    assert logged() == before + 1

    # Authentication comes first; the refusal says nothing of the patient (an unlinked
    # clinician is refused alike, before the access check would answer 404).
    anonymous = Account(uuid.uuid4(), "", "clinician", "not-a-token")
    assert_problem(report(client, anonymous, shared, "text/html"), 401)
    stranger = make_account("clinician")
    assert_problem(report(client, stranger, shared, "text/html"), NOT_ACCEPTABLE)
    assert_problem(report(client, stranger, shared, JSON), 404)
    assert logged() == before + 1


def test_the_bundle_is_the_same_document_whatever_accept_chose_it(
    client: TestClient, shared: Account, clinician: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(fhir_export, "utcnow", lambda: now)
    plain = report(client, clinician, shared, FHIR)
    assert_bundle(plain)
    for accept in (
        "application/fhir+json, application/json;q=0.9",
        "application/*;q=0.5, application/fhir+json; fhirVersion=4.0",
    ):
        assert report(client, clinician, shared, accept).content == plain.content


# --- the OpenAPI document ------------------------------------------------------------------

REPORT_PATH = "/v1/patients/{patient_id}/report"


def schema_of(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def undocumented(
    document: dict[str, Any], value: Any, schema: dict[str, Any], at: str
) -> list[str]:
    """Where ``value`` holds a property its schema does not name, or lacks a required one."""
    schema = schema_of(document, schema)
    if isinstance(value, list):
        return [
            problem
            for i, item in enumerate(value)
            for problem in undocumented(document, item, schema["items"], f"{at}[{i}]")
        ]
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    problems = [f"{at}.{name} not documented" for name in value if name not in properties]
    problems += [f"{at}.{name} missing" for name in schema.get("required", ()) if name not in value]
    for name, item in value.items():
        if name in properties:
            problems += undocumented(document, item, properties[name], f"{at}.{name}")
    return problems


def test_openapi_describes_both_forms(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"][REPORT_PATH]["get"]
    assert operation["operationId"] == "report_get"
    # Accept is read from the request: OpenAPI tools ignore a parameter named Accept.
    assert [p["name"] for p in operation["parameters"]] == ["patient_id", "as_of", "from", "to"]
    assert operation["responses"]["200"]["content"] == {
        JSON: {"schema": {"$ref": "#/components/schemas/Report"}},
        FHIR: {"schema": {"$ref": "#/components/schemas/FhirBundle"}},
    }
    # JSON first: generators type the method by the first media type.
    assert list(operation["responses"]["200"]["content"]) == [JSON, FHIR]
    assert operation["responses"]["406"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }

    schemas = document["components"]["schemas"]
    bundle = schemas["FhirBundle"]
    assert bundle["required"] == ["resourceType", "id", "type", "timestamp", "entry"]
    assert bundle["properties"]["resourceType"]["const"] == "Bundle"
    assert bundle["properties"]["type"] == {"$ref": "#/components/schemas/BundleType"}
    assert document["components"]["schemas"]["BundleType"]["const"] == "collection"
    assert bundle["properties"]["entry"]["items"] == {
        "$ref": "#/components/schemas/FhirBundleEntry"
    }
    entry = schemas["FhirBundleEntry"]
    assert entry["required"] == ["fullUrl", "resource"]
    assert entry["properties"]["resource"] == {"$ref": "#/components/schemas/FhirResource"}
    resource = schemas["FhirResource"]
    assert resource["additionalProperties"] is True
    assert resource["required"] == ["resourceType", "id"]
    assert resource["properties"]["resourceType"] == {
        "$ref": "#/components/schemas/FhirResourceType"
    }
    assert schemas["FhirResourceType"]["enum"] == ["Patient", "Observation", "Procedure"]


def test_the_bundle_holds_only_what_openapi_documents(
    client: TestClient, shared: Account, clinician: Account
) -> None:
    document = client.get("/openapi.json").json()
    bundle = assert_bundle(report(client, clinician, shared, FHIR))
    schema = {"$ref": "#/components/schemas/FhirBundle"}
    assert undocumented(document, bundle, schema, "$") == []
    # The walk is no vacuous pass.
    bundle["entry"][0]["resource"]["gender"] = "unknown"
    assert undocumented(document, bundle, schema, "$") == [
        "$.entry[0].resource.gender not documented"
    ]


def test_openapi_names_every_clinician_operation(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        (method, path): operation["operationId"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        if operation["tags"] == ["clinicians"]
    } == {
        ("post", "/v1/patients/me/share-codes"): "share_codes_create",
        ("post", "/v1/links"): "links_create",
        ("get", "/v1/patients/me/links"): "links_list",
        ("delete", "/v1/patients/me/links/{clinician_id}"): "links_delete",
        ("get", "/v1/patients/me/access-log"): "access_log_list",
        ("get", "/v1/patients"): "patients_list",
        ("get", REPORT_PATH): "report_get",
        ("get", REPORT_PATH + "/chart.svg"): "report_chart",
    }
    chart = paths[REPORT_PATH + "/chart.svg"]["get"]["responses"]["200"]
    assert chart["content"] == {"image/svg+xml": {"schema": {"type": "string"}}}
