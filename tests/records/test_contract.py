"""The record contract (§0, §2–§5), tested once over every kind of patient record: diary
entries, treatment courses and session events, as ``kinds.py`` describes them.

Client ids and idempotent ``PUT``, ``POST`` with a server id, versions and strong ETags,
``If-Match`` / ``If-None-Match``, JSON merge patch, tombstones, the paginated list and who
may see what. What only one kind does is tested in that kind's own test file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, assert_problem
from tests.records.kinds import (
    KINDS,
    MERGE_PATCH,
    Kind,
    Records,
    assert_invalid,
    assert_refused,
    client_view,
    new_id,
    parse_time,
    utcnow,
)


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    return chosen


@pytest.fixture
def records(client: TestClient, patient: Account, kind: Kind) -> Records:
    return Records(client, patient, kind)


def two_versions(records: Records) -> str:
    """A record at version 2 (its ``field`` at 2); its id."""
    record_id = records.create(**{records.kind.field: 1})["id"]
    assert records.put(record_id, records.kind.at(2)).headers["ETag"] == '"2"'
    return record_id


def stale_message(kind: Kind, version: int) -> str:
    return f"The {kind.label} is at version {version}; fetch it again before changing it."


# --- PUT at a client id ---------------------------------------------------------------------


def test_put_creates_a_record(records: Records, kind: Kind, patient: Account) -> None:
    record_id = new_id()
    before = utcnow()
    response = records.put(record_id, kind.full)
    after = utcnow()

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == records.url(record_id)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert client_view(body) == kind.full_out
    assert (body["id"], body["patient_id"], body["version"]) == (record_id, str(patient.id), 1)
    created_at = parse_time(body["created_at"])
    assert created_at.utcoffset() == dt.timedelta(0)
    assert before - dt.timedelta(seconds=1) <= created_at <= after + dt.timedelta(seconds=1)
    assert body["updated_at"] == body["created_at"]
    assert records.count(patient_id=patient.id, id=uuid.UUID(record_id)) == 1
    fetched = records.client.get(response.headers["Location"], headers=records.headers())
    assert (fetched.status_code, fetched.json()) == (200, body)


def test_put_of_the_required_fields_alone_leaves_the_rest_empty(
    records: Records, kind: Kind
) -> None:
    response = records.put(new_id(), kind.minimal)
    assert response.status_code == 201, response.text
    assert client_view(response.json()) == kind.minimal_out


def test_put_replaces_the_whole_record(records: Records, kind: Kind) -> None:
    """A replacement is a whole record: the fields it leaves out are cleared."""
    record_id = new_id()
    first = records.put(record_id, kind.full).json()

    response = records.put(record_id, kind.minimal)

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    assert "Location" not in response.headers
    body = response.json()
    assert client_view(body) == kind.minimal_out
    assert body["version"] == 2
    assert body["created_at"] == first["created_at"]
    assert parse_time(body["updated_at"]) >= parse_time(first["updated_at"])
    assert records.get(record_id).json() == body


def test_an_identical_replay_changes_nothing(records: Records, kind: Kind) -> None:
    record_id = new_id()
    first = records.put(record_id, kind.full)
    state = records.stored()

    replay = records.put(record_id, kind.full)

    assert replay.status_code == 200, replay.text
    assert replay.headers["ETag"] == '"1"'
    assert replay.json() == first.json()  # version 1, the same updated_at
    assert records.stored() == state  # the change position too


def test_putting_back_what_get_returned_changes_nothing(records: Records) -> None:
    record_id = records.create()["id"]
    fetched = records.get(record_id).json()
    state = records.stored()

    replay = records.put(record_id, fetched)

    assert (replay.status_code, replay.json()) == (200, fetched)
    assert records.stored() == state


def test_server_fields_sent_by_a_client_are_ignored(
    client: TestClient, records: Records, kind: Kind, patient: Account, other_patient: Account
) -> None:
    record_id = new_id()
    forged = {
        "version": 42,
        "created_at": "2001-01-01T00:00:00Z",
        "updated_at": "2001-01-01T00:00:00Z",
        "patient_id": str(other_patient.id),
    } | dict(kind.forged)
    start = utcnow() - dt.timedelta(seconds=1)

    response = records.put(record_id, kind.body(**forged))

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    assert client_view(body) == kind.full_out
    assert (body["version"], body["patient_id"]) == (1, str(patient.id))
    assert parse_time(body["created_at"]) >= start
    assert parse_time(body["updated_at"]) >= start
    assert Records(client, other_patient, kind).ids() == []
    replay = records.put(record_id, kind.body(**forged | {"version": 7}))
    assert (replay.status_code, replay.json()) == (200, body)


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', '"1", "2"', "*"])
def test_put_with_a_current_if_match_proceeds(records: Records, kind: Kind, tag: str) -> None:
    record_id = two_versions(records)

    response = records.put(record_id, kind.at(3), {"If-Match": tag})

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"3"'
    assert (response.json()["version"], response.json()[kind.field]) == (3, 3)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_is_412_and_changes_nothing(
    records: Records, kind: Kind, method: str
) -> None:
    record_id = two_versions(records)
    state = records.stored()
    stale = {"If-Match": '"1"'}

    if method == "PUT":
        response = records.put(record_id, kind.at(3), stale)
    elif method == "PATCH":
        response = records.patch(record_id, {kind.field: 3}, headers=stale)
    else:
        response = records.delete(record_id, stale)

    assert assert_problem(response, 412)["detail"] == stale_message(kind, 2)
    assert records.stored() == state
    current = records.get(record_id).json()
    assert (current["version"], current[kind.field]) == (2, 2)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_retried_write_already_stored_passes_a_stale_if_match(
    records: Records, kind: Kind, method: str
) -> None:
    """RFC 9110 §13.1.1: the response to a conditional write was lost; its retry finds the
    change made (the tag it sends is now stale) and succeeds without a new version."""
    record_id = two_versions(records)
    state = records.stored()
    stale = {"If-Match": '"1"'}

    if method == "PUT":
        retry = records.put(record_id, kind.at(2), stale)
    else:
        retry = records.patch(record_id, {kind.field: 2}, headers=stale)

    assert retry.status_code == 200, retry.text
    assert retry.headers["ETag"] == '"2"'
    assert retry.json() == records.get(record_id).json()
    assert records.stored() == state


@pytest.mark.parametrize("tag", ['"1"', "*"])
def test_if_match_on_a_missing_record_is_412_and_creates_nothing(
    records: Records, kind: Kind, tag: str
) -> None:
    record_id = new_id()
    problem = assert_problem(records.put(record_id, kind.full, {"If-Match": tag}), 412)
    assert problem["detail"] == f"No {kind.label} with id {record_id} to update."
    assert records.stored() == {"records": [], "tombstones": []}


def test_if_none_match_star_only_creates(records: Records, kind: Kind) -> None:
    record_id = new_id()
    created = records.put(record_id, kind.at(1), {"If-None-Match": "*"})
    assert created.status_code == 201, created.text
    state = records.stored()

    # Neither a change nor even an identical replay: the record exists.
    for body in (kind.at(8), kind.at(1)):
        again = records.put(record_id, body, {"If-None-Match": "*"})
        assert assert_problem(again, 412)["detail"] == stale_message(kind, 1)
    assert records.stored() == state
    assert records.get(record_id).json() == created.json()


@pytest.mark.parametrize(
    ("method", "header"),
    [
        ("PUT", "If-Match"),
        ("PUT", "If-None-Match"),
        ("PATCH", "If-Match"),
        ("DELETE", "If-Match"),
        ("GET", "If-None-Match"),
    ],
)
def test_a_malformed_entity_tag_is_400_and_changes_nothing(
    records: Records, kind: Kind, method: str, header: str
) -> None:
    record_id = records.create(**{kind.field: 1})["id"]
    state = records.stored()
    body = {"PUT": kind.at(2), "PATCH": {kind.field: 2}}.get(method)

    response = records.request(method, record_id, body, {header: "2"})  # not quoted

    assert_problem(response, 400)
    assert records.stored() == state


@pytest.mark.parametrize("tag", ['"1"', '"2"', "*"])
def test_if_match_on_a_deleted_record_is_412(records: Records, kind: Kind, tag: str) -> None:
    """A deleted record has no current version, so no If-Match can hold."""
    record_id = records.create()["id"]
    assert records.delete(record_id).status_code == 204
    state = records.stored()

    deleted_again = assert_problem(records.delete(record_id, {"If-Match": tag}), 412)
    put_again = assert_problem(records.put(record_id, kind.full, {"If-Match": tag}), 412)

    assert deleted_again["detail"] == f"The {kind.label} has been deleted."
    assert put_again["detail"] == f"No {kind.label} with id {record_id} to update."
    assert records.stored() == state


def test_the_body_may_repeat_the_path_id(records: Records, kind: Kind) -> None:
    record_id = new_id()
    response = records.put(record_id, kind.body(id=record_id))
    assert response.status_code == 201, response.text
    assert response.json()["id"] == record_id


def test_a_body_id_other_than_the_path_id_is_422_and_changes_nothing(
    records: Records, kind: Kind
) -> None:
    record_id = records.create()["id"]
    state = records.stored()

    responses = [records.put(target, kind.body(id=new_id())) for target in (record_id, new_id())]
    responses.append(records.patch(record_id, {"id": new_id()}))

    for response in responses:
        problem = assert_invalid(response, "body.id")
        assert problem["errors"] == [
            {"loc": ["body", "id"], "msg": "differs from the id in the path"}
        ]
    assert records.stored() == state


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_path_id_that_is_not_a_uuid_is_422(records: Records, kind: Kind, method: str) -> None:
    body = kind.full if method in ("PUT", "PATCH") else None
    for record_id in ("not-a-uuid", new_id()[:-1]):
        assert_invalid(records.request(method, record_id, body), "path.record_id")
    assert records.count() == 0


def test_two_patients_may_use_the_same_id(
    client: TestClient, records: Records, kind: Kind, other_patient: Account
) -> None:
    record_id = new_id()
    mine = records.create(record_id, **{kind.field: 1})
    theirs = Records(client, other_patient, kind)

    response = theirs.put(record_id, kind.at(2))

    assert response.status_code == 201, response.text
    assert response.json()["patient_id"] == str(other_patient.id)
    assert theirs.get(record_id).json() == response.json()
    assert records.get(record_id).json() == mine
    assert theirs.delete(record_id).status_code == 204
    assert records.get(record_id).json() == mine


# --- POST -----------------------------------------------------------------------------------


def test_post_creates_with_a_server_id(records: Records, kind: Kind, patient: Account) -> None:
    response = records.post(kind.full)

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    record_id = uuid.UUID(body["id"])
    assert response.headers["Location"] == records.url(record_id)
    assert client_view(body) == kind.full_out
    assert (body["patient_id"], body["version"]) == (str(patient.id), 1)
    fetched = records.client.get(response.headers["Location"], headers=records.headers())
    assert (fetched.status_code, fetched.json()) == (200, body)
    assert records.count(patient_id=patient.id) == 1


def test_each_post_makes_a_record(records: Records, kind: Kind) -> None:
    first, second = records.post(kind.full), records.post(kind.full)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert records.count() == 2


def test_post_with_a_body_id_uses_it(records: Records, kind: Kind) -> None:
    record_id = new_id()
    response = records.post(kind.body(id=record_id))

    assert response.status_code == 201, response.text
    assert response.json()["id"] == record_id
    assert response.headers["Location"] == records.url(record_id)
    assert records.get(record_id).json() == response.json()


def test_post_with_the_id_of_a_stored_record_is_412_and_changes_nothing(
    records: Records, kind: Kind
) -> None:
    record_id = records.create(**{kind.field: 1})["id"]
    state = records.stored()

    for body in (kind.at(9), kind.at(1)):
        response = records.post(body | {"id": record_id})
        assert assert_problem(response, 412)["detail"] == stale_message(kind, 1)
    assert records.stored() == state


def test_a_post_retried_with_its_idempotency_key_gets_the_first_response(
    records: Records, kind: Kind
) -> None:
    key = {"Idempotency-Key": f"{kind.name}-post-1"}
    first = records.post(kind.full, key)
    retry = records.post(kind.full, key)

    assert first.status_code == retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == '"1"'
    assert records.count() == 1
    another = records.post(kind.full, {"Idempotency-Key": f"{kind.name}-post-2"})
    assert another.status_code == 201
    assert another.json()["id"] != first.json()["id"]
    assert records.count() == 2


# --- GET one --------------------------------------------------------------------------------


def test_get_one(records: Records) -> None:
    created = records.create()

    response = records.get(created["id"])

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == created


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', '"1", "2"', "*"])
def test_if_none_match_naming_the_current_version_is_304(records: Records, tag: str) -> None:
    record_id = two_versions(records)

    response = records.get(record_id, {"If-None-Match": tag})

    assert response.status_code == 304
    assert response.headers["ETag"] == '"2"'
    assert response.content == b""


def test_if_none_match_naming_an_older_version_is_200(records: Records, kind: Kind) -> None:
    record_id = two_versions(records)

    response = records.get(record_id, {"If-None-Match": '"1"'})

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert (response.json()["version"], response.json()[kind.field]) == (2, 2)


def test_get_of_an_unknown_id_is_404(records: Records, kind: Kind) -> None:
    records.create()
    record_id = new_id()
    problem = assert_problem(records.get(record_id), 404)
    assert problem["detail"] == f"No {kind.label} with id {record_id}."


# --- PATCH (RFC 7396 JSON merge patch) ------------------------------------------------------


@pytest.mark.parametrize("content_type", [MERGE_PATCH, "application/json"])
def test_patch_changes_the_fields_it_names(records: Records, kind: Kind, content_type: str) -> None:
    created = records.create(**{kind.field: 1})

    response = records.patch(created["id"], {kind.field: 2}, content_type)

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    body = response.json()
    assert body == created | {kind.field: 2, "version": 2, "updated_at": body["updated_at"]}
    assert parse_time(body["updated_at"]) >= parse_time(created["updated_at"])
    assert records.get(created["id"]).json() == body


def test_patch_null_clears_a_field(records: Records, kind: Kind) -> None:
    created = records.create()

    response = records.patch(created["id"], dict.fromkeys(kind.cleared))

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    body = response.json()
    assert body == {**created, **kind.cleared, "version": 2, "updated_at": body["updated_at"]}
    assert records.get(created["id"]).json() == body


@pytest.mark.parametrize("case", ["empty", "same-values", "server-fields"])
def test_a_patch_that_changes_nothing_keeps_the_version(
    records: Records, kind: Kind, case: str
) -> None:
    created = records.create()
    state = records.stored()
    patches: dict[str, dict[str, Any]] = {
        "empty": {},
        "same-values": {name: created[name] for name in (kind.field, *kind.cleared)},
        "server-fields": {"version": 9, "updated_at": "2001-01-01T00:00:00Z", **kind.forged},
    }

    response = records.patch(created["id"], patches[case])

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.json() == created
    assert records.stored() == state


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"'])
def test_patch_with_a_current_if_match_proceeds(records: Records, kind: Kind, tag: str) -> None:
    record_id = two_versions(records)

    response = records.patch(record_id, {kind.field: 3}, headers={"If-Match": tag})

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"3"'
    assert response.json()[kind.field] == 3


def test_a_patch_is_validated_after_the_merge(records: Records, kind: Kind) -> None:
    """Nulling a required field removes it; the merged record is refused as a body would be."""
    created = records.create()
    state = records.stored()
    cases: list[tuple[dict[str, Any], str]] = [
        ({name: None}, f"body.{name}") for name in kind.required
    ]
    cases += [({kind.field: kind.too_big}, f"body.{kind.field}")]
    cases += [({"colour": "red"}, "body.colour")]

    for patch, loc in cases:
        assert_invalid(records.patch(created["id"], patch), loc)
    assert records.stored() == state
    assert records.get(created["id"]).json() == created


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param([{"op": "replace", "path": "/notes", "value": "x"}], id="json-patch"),
        pytest.param(3, id="number"),
        pytest.param("notes", id="string"),
        pytest.param(None, id="null"),
    ],
)
def test_a_patch_that_is_not_an_object_is_422(records: Records, patch: Any) -> None:
    record_id = records.create()["id"]
    state = records.stored()
    assert_problem(records.patch(record_id, patch), 422)
    assert records.stored() == state


def test_patch_of_a_missing_or_deleted_record_is_404(records: Records, kind: Kind) -> None:
    missing = new_id()
    for patch in ({kind.field: 3}, dict(kind.full)):
        problem = assert_problem(records.patch(missing, patch), 404)
        assert problem["detail"] == f"No {kind.label} with id {missing}."
    deleted = records.create()["id"]
    assert records.delete(deleted).status_code == 204
    assert_problem(records.patch(deleted, {kind.field: 3}), 404)
    assert records.count() == 0


# --- DELETE ---------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone(records: Records, kind: Kind, patient: Account) -> None:
    record_id = two_versions(records)

    response = records.delete(record_id)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(records.get(record_id), 404)
    assert records.count() == 0
    graves = records.stored()["tombstones"]
    assert [(g["patient_id"], g["kind"], g["id"], g["version"]) for g in graves] == [
        (patient.id, kind.name, uuid.UUID(record_id), 3)
    ]
    assert records.ids() == []


def test_deleting_again_is_204_and_changes_nothing(records: Records) -> None:
    record_id = records.create()["id"]
    assert records.delete(record_id).status_code == 204
    state = records.stored()

    again = records.delete(record_id)

    assert (again.status_code, again.content) == (204, b"")
    assert records.stored() == state


@pytest.mark.parametrize("tag", ['"2"', 'W/"2"', "*"])
def test_delete_with_a_current_if_match(records: Records, tag: str) -> None:
    record_id = two_versions(records)

    assert records.delete(record_id, {"If-Match": tag}).status_code == 204
    assert [g["version"] for g in records.stored()["tombstones"]] == [3]


def test_delete_of_a_never_existing_record_is_404(records: Records, kind: Kind) -> None:
    records.create()
    record_id = new_id()
    problem = assert_problem(records.delete(record_id), 404)
    assert problem["detail"] == f"No {kind.label} with id {record_id}."
    state = records.stored()
    assert (len(state["records"]), state["tombstones"]) == (1, [])


def test_put_after_delete_continues_the_version(records: Records, kind: Kind) -> None:
    record_id = two_versions(records)
    assert records.delete(record_id).status_code == 204  # the tombstone is at version 3

    response = records.put(record_id, kind.at(5))

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"4"'
    assert response.headers["Location"] == records.url(record_id)
    assert (response.json()["version"], response.json()[kind.field]) == (4, 5)
    assert records.stored()["tombstones"] == []
    assert records.get(record_id).json() == response.json()


# --- change positions (the changes feed's order, §5) -----------------------------------------


def test_every_write_takes_a_higher_change_position(records: Records, kind: Kind) -> None:
    def position(record_id: str) -> int:
        state = records.stored()
        rows = [r for r in state["records"] + state["tombstones"] if str(r["id"]) == record_id]
        assert len(rows) == 1, rows
        return int(rows[0]["change_position"])

    a, b = new_id(), new_id()
    positions = []
    records.put(a, kind.at(1))
    positions.append(position(a))
    records.put(b, kind.at(1))
    positions.append(position(b))
    records.put(a, kind.at(2))
    positions.append(position(a))
    records.patch(b, {kind.field: 3})
    positions.append(position(b))
    records.delete(a)
    positions.append(position(a))  # the tombstone's
    records.put(a, kind.at(4))
    positions.append(position(a))
    positions.append(position(records.post(kind.full).json()["id"]))

    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


# --- the list -------------------------------------------------------------------------------


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


#: Seven records by number and day; two pairs share a day, where the id breaks the tie.
DAYS = {
    1: "2026-10-05",
    2: "2026-10-05",
    3: "2026-10-04",
    4: "2026-10-03",
    5: "2026-10-03",
    6: "2026-10-01",
    7: "2026-09-30",
}
NEWEST_FIRST = [2, 1, 3, 5, 4, 6, 7]


@pytest.fixture
def seven(records: Records, kind: Kind) -> list[dict[str, Any]]:
    """The seven records of ``DAYS``, newest first."""
    made = {n: records.create(_id(n), **kind.on(day)) for n, day in DAYS.items()}
    return [made[n] for n in NEWEST_FIRST]


def walk(records: Records, **params: Any) -> tuple[list[str], list[int]]:
    """Every page of the list: the ids in order and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(20):
        response = records.page(**params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page["items"]))
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes
    raise AssertionError("the cursor does not advance")


def test_list_is_newest_first(records: Records, kind: Kind, seven: list[dict[str, Any]]) -> None:
    response = records.page()

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {"items": seven, "next_cursor": None}
    assert [item[kind.date_field] for item in seven] == [DAYS[n] for n in NEWEST_FIRST]


def test_an_empty_list(records: Records) -> None:
    response = records.page()
    assert (response.status_code, response.json()) == (200, {"items": [], "next_cursor": None})


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 6, 7, 8])
def test_pagination_walks_every_record_once(
    records: Records, seven: list[dict[str, Any]], limit: int
) -> None:
    ids, sizes = walk(records, limit=limit)
    assert ids == [item["id"] for item in seven]
    full, rest = divmod(len(seven), limit)
    assert sizes == [limit] * full + ([rest] if rest else [])


def test_pages_follow_one_another(records: Records, seven: list[dict[str, Any]]) -> None:
    first = records.page(limit=3).json()
    second = records.page(limit=3, cursor=first["next_cursor"]).json()
    third = records.page(limit=3, cursor=second["next_cursor"]).json()

    assert [first["items"], second["items"], third["items"]] == [seven[:3], seven[3:6], seven[6:]]
    assert isinstance(first["next_cursor"], str)
    assert isinstance(second["next_cursor"], str)
    assert third["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"from": "2026-10-03", "to": "2026-10-04"}, [3, 5, 4], id="both-ends"),
        pytest.param({"from": "2026-10-04"}, [2, 1, 3], id="from-only"),
        pytest.param({"to": "2026-10-03"}, [5, 4, 6, 7], id="to-only"),
        pytest.param({"from": "2026-10-05", "to": "2026-10-05"}, [2, 1], id="one-day"),
        pytest.param({"from": "2026-09-30", "to": "2026-09-30"}, [7], id="first-day"),
        pytest.param({"from": "2026-10-02", "to": "2026-10-02"}, [], id="empty-day"),
        pytest.param({"from": "2026-10-06"}, [], id="after-the-last"),
        pytest.param({"to": "2026-09-29"}, [], id="before-the-first"),
        pytest.param({"from": "2026-09-01", "to": "2026-12-31"}, NEWEST_FIRST, id="around-all"),
    ],
)
def test_list_from_to_is_inclusive(
    records: Records, seven: list[dict[str, Any]], params: dict[str, str], expected: list[int]
) -> None:
    assert records.ids(**params) == [_id(n) for n in expected]


def test_pagination_within_a_date_range(records: Records, seven: list[dict[str, Any]]) -> None:
    ids, sizes = walk(records, limit=3, **{"from": "2026-10-01", "to": "2026-10-04"})
    assert ids == [_id(n) for n in (3, 5, 4, 6)]
    assert sizes == [3, 1]


def test_the_default_limit_is_100(records: Records, kind: Kind) -> None:
    for _ in range(101):
        assert records.post(kind.minimal).status_code == 201

    first = records.page().json()
    assert len(first["items"]) == 100
    assert first["next_cursor"] is not None
    rest = records.page(cursor=first["next_cursor"]).json()
    assert (len(rest["items"]), rest["next_cursor"]) == (1, None)
    assert len(records.page(limit=500).json()["items"]) == 101


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        pytest.param({"from": "2026-10-05", "to": "2026-10-04"}, "from", id="from-after-to"),
        pytest.param({"from": "2026-13-01"}, "from", id="from-month-13"),
        pytest.param({"from": "2026-02-30"}, "from", id="from-february-30"),
        pytest.param({"to": "yesterday"}, "to", id="to-a-word"),
        pytest.param({"to": "20261120"}, "to", id="to-without-hyphens"),
        pytest.param({"limit": 0}, "limit", id="limit-0"),
        pytest.param({"limit": 501}, "limit", id="limit-501"),
        pytest.param({"limit": -1}, "limit", id="limit-negative"),
        pytest.param({"limit": "ten"}, "limit", id="limit-a-word"),
        pytest.param({"cursor": "garbage!!"}, "cursor", id="cursor-garbage"),
        pytest.param({"cursor": "x" * 600}, "cursor", id="cursor-too-long"),
    ],
)
def test_a_bad_list_query_is_422(records: Records, params: dict[str, Any], loc: str) -> None:
    records.create()
    assert_invalid(records.page(**params), f"query.{loc}")


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(_b64(b"[1]"), id="one-number"),
        pytest.param(_b64(b"[]"), id="empty-list"),
        pytest.param(_b64(b'{"id": 1}'), id="object"),
        pytest.param(_b64(b'"2026-10-05"'), id="string"),
        pytest.param(_b64(b"\xff\xfe\x00"), id="not-utf8"),
        pytest.param("%%%", id="not-base64"),
    ],
)
def test_a_cursor_the_service_did_not_issue_is_422(
    records: Records, seven: list[dict[str, Any]], cursor: str
) -> None:
    problem = assert_invalid(records.page(cursor=cursor), "query.cursor")
    assert problem["errors"] == [
        {"loc": ["query", "cursor"], "msg": "not a cursor issued by this service"}
    ]


def test_the_list_shows_only_the_callers_records(
    client: TestClient, records: Records, kind: Kind, other_patient: Account
) -> None:
    theirs = Records(client, other_patient, kind)
    mine, their_id = records.create()["id"], theirs.create()["id"]

    assert records.ids() == [mine]
    assert theirs.ids() == [their_id]
    # An id is found only under its own patient.
    assert_problem(records.get(their_id), 404)
    assert_problem(theirs.get(mine), 404)


# --- what a body must be --------------------------------------------------------------------


def test_a_missing_required_field_is_422_and_stores_nothing(records: Records, kind: Kind) -> None:
    for name in kind.required:
        body = {k: v for k, v in kind.full.items() if k != name}
        for response in (records.put(new_id(), body), records.post(body)):
            problem = assert_problem(response, 422)
            assert problem["errors"] == [{"loc": ["body", name], "msg": "Field required"}]
    assert records.stored() == {"records": [], "tombstones": []}


def test_an_unknown_field_is_422_naming_it(records: Records, kind: Kind) -> None:
    body = kind.body(colour="red")
    for response in (records.put(new_id(), body), records.post(body)):
        problem = assert_problem(response, 422)
        assert problem["errors"] == [{"loc": ["body", "colour"], "msg": "unknown field"}]
    assert records.count() == 0


def test_a_patch_naming_an_unknown_field_is_422_even_to_clear_it(
    records: Records, kind: Kind
) -> None:
    """RFC 7396 would remove nothing: a misspelt field meant to clear a value is refused."""
    record_id = new_id()
    assert records.put(record_id, kind.full).status_code == 201
    before = records.get(record_id).json()
    for patch in ({"colour": None}, {"colour": "red"}):
        problem = assert_problem(records.patch(record_id, patch), 422)
        assert problem["errors"] == [{"loc": ["body", "colour"], "msg": "unknown field"}]
    assert records.get(record_id).json() == before


def test_an_invalid_value_is_refused_by_every_write(records: Records, kind: Kind) -> None:
    assert_refused(records, {kind.field: kind.too_big}, f"body.{kind.field}")


@pytest.mark.parametrize(
    "case", ["empty", "array-of-records", "array", "string", "null", "cut-short"]
)
def test_a_body_that_is_not_an_object_is_422(records: Records, kind: Kind, case: str) -> None:
    content = {
        "empty": b"",
        "array-of-records": json.dumps([kind.full]).encode(),
        "array": b"[1, 2]",
        "string": b'"text"',
        "null": b"null",
        "cut-short": json.dumps(kind.full).encode()[:-1],
    }[case]
    response = records.client.put(
        records.url(new_id()),
        content=content,
        headers=records.headers({"Content-Type": "application/json"}),
    )
    assert_problem(response, 422)
    assert records.count() == 0


# --- who may see what -----------------------------------------------------------------------


def attempts(kind: Kind, record_id: str) -> list[tuple[str, str | None, Any]]:
    """Every operation on a patient's records: method, record id (None: the collection), body."""
    return [
        ("GET", record_id, None),
        ("PUT", record_id, kind.at(9)),
        ("PUT", new_id(), kind.at(9)),
        ("PATCH", record_id, {kind.field: 9}),
        ("DELETE", record_id, None),
        ("GET", None, None),
        ("POST", None, kind.at(9)),
    ]


@pytest.mark.parametrize("intruder", ["other_patient", "clinician"])
def test_strangers_get_404_and_change_nothing(
    request: pytest.FixtureRequest,
    client: TestClient,
    records: Records,
    kind: Kind,
    patient: Account,
    intruder: str,
) -> None:
    stranger: Account = request.getfixturevalue(intruder)
    record_id = records.create()["id"]
    state = records.stored()
    theirs = Records(client, stranger, kind, str(patient.id))
    nobodys = Records(client, stranger, kind, new_id())

    for method, target, body in attempts(kind, record_id):
        problem = assert_problem(theirs.request(method, target, body), 404)
        assert problem["detail"] == "No such patient."
        # The same answer as for a patient who does not exist at all.
        assert nobodys.request(method, target, body).json() == problem, (method, target)
    assert records.stored() == state


def test_a_clinician_has_no_records_of_their_own(
    client: TestClient, kind: Kind, clinician: Account
) -> None:
    own = Records(client, clinician, kind)
    for method, target, body in attempts(kind, new_id()):
        assert_problem(own.request(method, target, body), 404)
    assert own.count() == 0


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(str, id="uuid"),
        pytest.param(lambda u: str(u).upper(), id="upper-case"),
        pytest.param(lambda u: u.hex, id="without-hyphens"),
    ],
)
def test_the_patients_own_id_works_like_me(
    client: TestClient, patient: Account, kind: Kind, spelling: Callable[[uuid.UUID], str]
) -> None:
    by_id = Records(client, patient, kind, spelling(patient.id))
    by_me = Records(client, patient, kind)
    record_id = new_id()

    created = by_id.put(record_id, kind.at(1))
    assert created.status_code == 201, created.text
    assert created.json()["patient_id"] == str(patient.id)
    assert created.headers["Location"] == by_id.url(record_id)
    assert by_me.get(record_id).json() == created.json()
    assert by_id.get(record_id).json() == created.json()
    assert by_id.ids() == by_me.ids() == [record_id]
    assert by_id.patch(record_id, {kind.field: 2}).json()["version"] == 2
    posted = by_id.post(kind.full)
    assert posted.status_code == 201
    assert by_id.get(posted.json()["id"]).status_code == 200
    assert by_id.delete(record_id).status_code == 204
    assert_problem(by_me.get(record_id), 404)


@pytest.mark.parametrize("patient_id", ["you", "ME", "12345", "me%20", "00000000-0000"])
def test_a_patient_id_neither_a_uuid_nor_me_is_422(
    client: TestClient, patient: Account, kind: Kind, patient_id: str
) -> None:
    records = Records(client, patient, kind, patient_id)
    for response in (records.page(), records.put(new_id(), kind.full)):
        assert_invalid(response, "path.patient_id")
    assert records.count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": ""}, id="empty"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="not-a-token"),
        pytest.param({"Authorization": "Basic dXNlcjpwdw=="}, id="basic"),
    ],
)
def test_no_valid_token_is_401_and_changes_nothing(
    client: TestClient, records: Records, kind: Kind, headers: dict[str, str]
) -> None:
    record_id = records.create()["id"]
    state = records.stored()
    anonymous = Records(client, None, kind)

    for method, target, body in attempts(kind, record_id):
        response: httpx2.Response = anonymous.request(method, target, body, headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert records.stored() == state


# --- the OpenAPI document -------------------------------------------------------------------


def test_openapi_documents_the_fields_a_merge_patch_may_carry(
    client: TestClient, kind: Kind
) -> None:
    path = f"/v1/patients/{{patient_id}}/{kind.collection}/{{record_id}}"
    document = client.get("/openapi.json").json()
    operation = document["paths"][path]["patch"]
    ref = operation["requestBody"]["content"][MERGE_PATCH]["schema"]["$ref"]
    patches = {"entries": "EntryPatch", "courses": "CoursePatch", "sessions": "SessionPatch"}
    assert ref == f"#/components/schemas/{patches[kind.collection]}"  # a named model
    schema = document["components"]["schemas"][patches[kind.collection]]

    assert schema["additionalProperties"] is False
    assert "required" not in schema  # it was any object; an unknown field is 422
    assert set(schema["properties"]) == kind.writable
    # null removes a field: allowed where a default takes its place, not for a required one.
    for name in kind.required:
        assert "anyOf" not in schema["properties"][name], name
        assert schema["properties"][name]["type"] != "null", name
    for name in kind.cleared:
        assert {"type": "null"} in schema["properties"][name]["anyOf"], name
