from fastapi.testclient import TestClient

from tests.conftest import Account


def test_entry_round_trip(client: TestClient, patient: Account, backend: str) -> None:
    body = {"recorded_at": "2026-11-20T08:30:00+01:00", "pain": 5}
    url = "/v1/patients/me/entries/8e4f1a52-2a38-4a4c-9d55-4a3c11111111"
    created = client.put(url, json=body, headers=patient.headers)
    assert created.status_code == 201
    fetched = client.get(url, headers=patient.headers)
    assert fetched.json()["recorded_at"] == "2026-11-20T08:30:00+01:00"
    assert fetched.json()["local_date"] == "2026-11-20"
