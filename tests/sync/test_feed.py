"""The changes feed: every write after a cursor exactly once in its newest state, deletes
as tombstones — and no skipped write while writers commit concurrently."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.core.database import Database
from app.diary.schemas import EntryIn
from app.diary.service import entries
from app.records.service import delete_record, put_record
from app.sync.feed import changes_since
from tests.clinicians.test_sharing import link
from tests.conftest import Account, assert_problem

FEED = "/v1/patients/me/changes"
ENTRY = {"recorded_at": "2026-11-20T08:00:00+01:00", "pain": 5}


def drain(
    client: TestClient, who: Account, since: str | None, limit: int = 100
) -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"since": since} if since else {})
        page = client.get(FEED, params=params, headers=who.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        changes += body["changes"]
        since = body["next_cursor"]
        if not body["has_more"]:
            return changes, since


def test_the_feed_from_the_start_and_then_only_what_changed(
    client: TestClient, patient: Account
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for n, entry_id in enumerate(ids):
        client.put(
            f"/v1/patients/me/entries/{entry_id}",
            json={**ENTRY, "pain": n},
            headers=patient.headers,
        )
    course_id = str(uuid.uuid4())
    client.put(
        f"/v1/patients/me/courses/{course_id}",
        json={"name": "Acu", "start_date": "2026-11-01"},
        headers=patient.headers,
    )
    session = client.post(
        "/v1/patients/me/sessions",
        json={"course_id": course_id, "occurred_at": "2026-11-02T10:00:00+01:00"},
        headers=patient.headers,
    ).json()

    first, cursor = drain(client, patient, None, limit=2)
    assert [(c["type"], c["op"]) for c in first] == [("entry", "upsert")] * 5 + [
        ("course", "upsert"),
        ("session", "upsert"),
    ]
    assert [c["data"]["pain"] for c in first[:5]] == [0, 1, 2, 3, 4]
    assert first[6]["data"]["id"] == session["id"] and first[6]["version"] == 1
    again, same = drain(client, patient, cursor)
    assert again == [] and same == cursor  # a stored cursor re-downloads nothing

    client.patch(f"/v1/patients/me/entries/{ids[1]}", json={"pain": 9}, headers=patient.headers)
    client.patch(f"/v1/patients/me/entries/{ids[1]}", json={"pain": 8}, headers=patient.headers)
    client.delete(f"/v1/patients/me/entries/{ids[2]}", headers=patient.headers)
    client.delete(f"/v1/patients/me/courses/{course_id}", headers=patient.headers)
    later, cursor = drain(client, patient, cursor)
    # Each changed record once, in its newest state; the deleted course detached its session.
    assert [(c["type"], c["id"], c["op"], c["version"]) for c in later] == [
        ("entry", ids[1], "upsert", 3),
        ("entry", ids[2], "delete", 2),
        ("course", course_id, "delete", 2),
        ("session", session["id"], "upsert", 2),
    ]
    assert later[0]["data"]["pain"] == 8 and later[1]["data"] is None
    assert later[3]["data"]["course_id"] is None
    assert drain(client, patient, cursor)[0] == []


def test_a_replayed_write_is_not_a_change(client: TestClient, patient: Account) -> None:
    url = f"/v1/patients/me/entries/{uuid.uuid4()}"
    client.put(url, json=ENTRY, headers=patient.headers)
    _, cursor = drain(client, patient, None)
    assert client.put(url, json=ENTRY, headers=patient.headers).status_code == 200
    assert drain(client, patient, cursor)[0] == []


def test_feed_access_and_bad_cursors(
    client: TestClient, patient: Account, other_patient: Account, clinician: Account
) -> None:
    client.put(f"/v1/patients/me/entries/{uuid.uuid4()}", json=ENTRY, headers=patient.headers)
    assert drain(client, other_patient, None)[0] == []  # their own, empty feed
    assert_problem(
        client.get(f"/v1/patients/{patient.id}/changes", headers=other_patient.headers), 404
    )
    assert_problem(client.get(FEED), 401)
    link(client, clinician, patient)
    linked = client.get(f"/v1/patients/{patient.id}/changes", headers=clinician.headers)
    assert linked.status_code == 200 and len(linked.json()["changes"]) == 1
    for cursor in ("garbage", "WyIxIl0", "W10"):
        assert_problem(
            client.get(FEED, params={"since": cursor}, headers=patient.headers), 422, field="since"
        )
    assert_problem(
        client.get(FEED, params={"limit": 0}, headers=patient.headers), 422, field="limit"
    )
    assert_problem(
        client.get(FEED, params={"limit": 501}, headers=patient.headers), 422, field="limit"
    )


async def _writers_and_a_reader(
    db: Database, patient_id: uuid.UUID
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, tuple[str, int]], list[int]]:
    """Eight writers create, edit and delete entries of one patient while a reader pages the
    feed with its stored cursor; then the reader drains once more."""
    final: dict[uuid.UUID, int] = {}  # id -> final version (negative: deleted at that version)
    seen: dict[uuid.UUID, tuple[str, int]] = {}
    positions: list[int] = []
    done = asyncio.Event()

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[uuid.UUID] = []
        for step in range(25):
            if mine and rng.random() < 0.3:
                target = rng.choice(mine)
                if rng.random() < 0.3:
                    await delete_record(db, entries, patient_id, target)
                    mine.remove(target)
                    final[target] = -(final[target] + 1)
                    continue
                body = EntryIn(
                    recorded_at="2026-11-20T08:00:00+01:00",
                    pain=rng.randint(0, 10),
                    notes=f"{seed}-{step}",
                )
                result = await put_record(db, entries, patient_id, target, body)
                final[target] = result.version
            else:
                target = uuid.uuid4()
                body = EntryIn(
                    recorded_at="2026-11-20T08:00:00+01:00",
                    pain=rng.randint(0, 10),
                    notes=f"{seed}-{step}",
                )
                result = await put_record(db, entries, patient_id, target, body)
                mine.append(target)
                final[target] = result.version
            await asyncio.sleep(0)

    async def reader() -> None:
        cursor = None
        while True:
            quiet = done.is_set()
            page = await changes_since(db, patient_id, cursor, limit=7)
            for change in page.changes:
                seen[change.id] = (change.op, change.version)
            positions.extend(_position(page.next_cursor) for _ in [0])
            cursor = page.next_cursor
            if quiet and not page.has_more:
                return
            await asyncio.sleep(0.001)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(seed) for seed in range(8)))
    done.set()
    await reading
    return final, seen, positions


def _position(cursor: str) -> int:
    from app.core.pagination import decode_cursor

    return int(decode_cursor(cursor, [int, str, uuid.UUID])[0])


def test_concurrent_writers_never_make_the_reader_skip_a_write(
    client: TestClient, patient: Account, portal: Callable[..., Any], db: Database
) -> None:
    final, seen, positions = portal(_writers_and_a_reader, db, patient.id)
    assert len(final) > 100
    # The reader ends with exactly the newest state of every record: nothing lost or stale.
    expected = {k: ("delete", -v) if v < 0 else ("upsert", v) for k, v in final.items()}
    assert seen == expected
    assert positions == sorted(positions)  # the cursor only moves forward
    # And a fresh phone downloading everything gets each record once.
    everything, _ = drain(client, patient, None, limit=500)
    assert len(everything) == len({c["id"] for c in everything}) == len(final)
