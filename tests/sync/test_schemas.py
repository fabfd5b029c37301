"""A change is one schema per record type, told apart by ``type`` (contract §5): the OpenAPI
document says so in a way client generators read, and a real feed page decodes with it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.courses.schemas import CourseOut
from app.diary.schemas import EntryOut
from app.main import create_app
from app.sessions.schemas import SessionOut
from app.sync.schemas import ChangesPage, CourseChange, EntryChange, SessionChange
from tests.conftest import Account, make_settings

FEED = "/v1/patients/me/changes"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_the_document_makes_a_change_a_oneof_with_a_discriminator_on_type() -> None:
    document = create_app(make_settings("sqlite:///never-opened.db")).openapi()
    schemas = document["components"]["schemas"]
    operation = document["paths"]["/v1/patients/{patient_id}/changes"]["get"]
    assert operation["operationId"] == "changes_list"
    assert schemas["ChangesPage"]["properties"]["changes"]["items"] == ref("Change")
    assert schemas["Change"] == {
        "oneOf": [ref("EntryChange"), ref("SessionChange"), ref("CourseChange")],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "course": "#/components/schemas/CourseChange",
                "entry": "#/components/schemas/EntryChange",
                "session": "#/components/schemas/SessionChange",
            },
        },
        "x-swift-identifiable": False,
    }
    assert schemas["ChangeOp"] == {"type": "string", "enum": ["upsert", "delete"]}
    records = {"entry": "EntryOut", "session": "SessionOut", "course": "CourseOut"}
    for kind, record in records.items():
        variant = schemas[f"{kind.capitalize()}Change"]
        assert variant["required"] == ["type", "id", "op", "version"]
        properties = variant["properties"]
        assert list(properties) == ["type", "id", "op", "version", "data"]
        assert properties["type"] == ref(f"{kind.capitalize()}ChangeType")
        tag = schemas[f"{kind.capitalize()}ChangeType"]
        assert tag == {"type": "string", "enum": [kind], "const": kind}
        assert properties["op"] == ref("ChangeOp")
        assert properties["data"]["anyOf"] == [ref(record), {"type": "null"}]


def test_a_feed_page_decodes_each_change_as_its_own_type(
    client: TestClient, patient: Account
) -> None:
    def put(collection: str, body: dict[str, Any]) -> str:
        record_id = str(uuid.uuid4())
        url = f"/v1/patients/me/{collection}/{record_id}"
        assert client.put(url, json=body, headers=patient.headers).status_code == 201
        return record_id

    entry: dict[str, Any] = {"recorded_at": "2026-11-20T08:00:00+01:00", "pain": 5, "tags": ["x"]}
    course: dict[str, Any] = {"name": "Acu", "start_date": "2026-11-01"}
    session: dict[str, Any] = {"occurred_at": "2026-11-02T10:00:00+01:00", "points": ["LI4"]}
    kept = {"entries": put("entries", entry), "courses": put("courses", course)}
    kept["sessions"] = put("sessions", session | {"course_id": kept["courses"]})
    gone = {name: put(name, body) for name, body in [("entries", entry), ("courses", course)]}
    gone["sessions"] = put("sessions", session)
    for name, record_id in gone.items():
        url = f"/v1/patients/me/{name}/{record_id}"
        assert client.delete(url, headers=patient.headers).status_code == 204

    response = client.get(FEED, headers=patient.headers)
    assert response.status_code == 200, response.text
    page = ChangesPage.model_validate_json(response.content)

    assert [(type(c), str(c.id), c.op, c.version, type(c.data)) for c in page.changes] == [
        (EntryChange, kept["entries"], "upsert", 1, EntryOut),
        (CourseChange, kept["courses"], "upsert", 1, CourseOut),
        (SessionChange, kept["sessions"], "upsert", 1, SessionOut),
        (EntryChange, gone["entries"], "delete", 2, type(None)),
        (CourseChange, gone["courses"], "delete", 2, type(None)),
        (SessionChange, gone["sessions"], "delete", 2, type(None)),
    ]
    for change, name in zip(page.changes[:3], kept, strict=True):
        record = client.get(f"/v1/patients/me/{name}/{kept[name]}", headers=patient.headers)
        assert change.data is not None and change.data.model_dump(mode="json") == record.json()
    # Decoded and encoded again, each change is the JSON it came as.
    assert [c.model_dump(mode="json") for c in page.changes] == response.json()["changes"]
