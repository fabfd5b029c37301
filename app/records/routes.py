"""The HTTP shape every kind of patient record shares (contract §2–§4).

Each domain declares its own record endpoints in its ``routes.py`` (``put_course``,
``get_session``…); a handler is one line that calls the matching function here, which calls
:mod:`app.records.service` and shapes the response: the ``ETag``, ``Location`` on a create,
``304`` on a matching ``If-None-Match``. :func:`operation` gives every kind the same
summaries and documented problems.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Body, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel

from app.access.service import PatientScope
from app.core.errors import problem_responses
from app.core.fields import CalendarDate, check_date_range
from app.core.http import (
    ModelResponse,
    Preconditions,
    etag,
    put_preconditions,
    read_preconditions,
    write_preconditions,
)
from app.core.pagination import Page
from app.records import service as records
from app.records.idempotency import idempotent
from app.records.service import RecordKind, WriteResult

#: The conditional headers each method reads (and declares): PUT both, PATCH and DELETE
#: ``If-Match``, GET ``If-None-Match``.
PutPreconditions = Annotated[Preconditions, Depends(put_preconditions)]
WritePreconditions = Annotated[Preconditions, Depends(write_preconditions)]
ReadPreconditions = Annotated[Preconditions, Depends(read_preconditions)]
RecordId = Annotated[uuid.UUID, Path(description="The record's id: a UUID the client chose.")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        description="Makes a POST safe to retry: the same key and request within 24 h get "
        "the first response again; the same key with another request is 422. 1–255 "
        "printable characters (a UUID is a good key).",
        # Checked by app.records.idempotency itself (422), which also takes the quoted form.
        json_schema_extra={"pattern": r'^(?!""$)[!-~]([ -~]{0,253}[!-~])?$'},
    ),
]
DateFrom = Annotated[
    CalendarDate | None, Query(alias="from", description="First date (YYYY-MM-DD), inclusive.")
]
DateTo = Annotated[
    CalendarDate | None, Query(alias="to", description="Last date (YYYY-MM-DD), inclusive.")
]

MERGE_PATCH = "application/merge-patch+json"
MergePatch = Annotated[dict[str, Any], Body(media_type=MERGE_PATCH)]

Action = Literal["put", "create", "get", "patch", "delete", "list"]


def operation(
    kind: RecordKind[Any, Any],
    action: Action,
    out_schema: type[BaseModel],
    body_schema: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """The route decorator's arguments for ``action`` on ``kind``: the operationId
    (``entries_put``…), status, summary, the response model with the headers it comes with,
    and the problems it can answer with (``body_schema`` for ``patch``)."""
    label = kind.label
    common = {"operation_id": f"{kind.collection}_{action}"}
    if action == "put":
        return common | {
            "response_model": out_schema,
            "summary": f"Create or replace a {label} at a client-chosen id",
            "responses": {
                200: {"description": "Replaced (or unchanged)", "headers": ETAG_HEADER},
                201: {
                    "model": out_schema,
                    "description": "Created",
                    "headers": ETAG_HEADER | LOCATION_HEADER,
                },
                **problem_responses(401, 403, 404, 412, 422, 429),
            },
        }
    if action == "create":
        return common | {
            "response_model": out_schema,
            "status_code": status.HTTP_201_CREATED,
            "summary": f"Create a {label} with a server-chosen id",
            "responses": {
                201: {"description": "Created", "headers": ETAG_HEADER | LOCATION_HEADER},
                # 409: the Idempotency-Key is in use; 412: the body's id is taken.
                **problem_responses(401, 403, 404, 409, 412, 422, 429),
            },
        }
    if action == "get":
        return common | {
            "response_model": out_schema,
            "summary": f"Read one {label}",
            "responses": {
                200: {"description": "The record", "headers": ETAG_HEADER},
                304: {"description": "Not modified", "headers": ETAG_HEADER},
                **problem_responses(401, 404),
            },
        }
    if action == "patch":
        assert body_schema is not None, "a merge patch is documented from the PUT body"
        return common | {
            "response_model": out_schema,
            "summary": f"Change some fields of a {label} (JSON merge patch)",
            "responses": {
                200: {"description": "Changed (or unchanged)", "headers": ETAG_HEADER},
                **problem_responses(401, 403, 404, 412, 422, 429),
            },
            "openapi_extra": merge_patch_body(body_schema),
        }
    if action == "delete":
        return common | {
            "status_code": status.HTTP_204_NO_CONTENT,
            "summary": f"Delete a {label} (a tombstone stays for sync)",
            "responses": problem_responses(401, 403, 404, 412, 429),
        }
    return common | {
        "response_model": Page[out_schema],  # type: ignore[valid-type]
        "summary": f"List {label} records, newest first",
        "responses": problem_responses(401, 404, 422),
    }


#: The response headers a record's responses carry, as OpenAPI declares them.
ETAG_HEADER = {
    "ETag": {
        "description": 'The record\'s version as a strong entity tag, e.g. `"3"`: send it back '
        "in `If-Match` to update that version, in `If-None-Match` to revalidate.",
        "schema": {"type": "string"},
    }
}
LOCATION_HEADER = {
    "Location": {
        "description": "The path of the record created.",
        "schema": {"type": "string"},
    }
}


async def put(
    scope: PatientScope,
    kind: RecordKind[Any, Any],
    record_id: uuid.UUID,
    body: BaseModel,
    pre: Preconditions,
    request: Request,
) -> Response:
    """``PUT``: 201 with ``Location`` when created, else 200."""
    result = await records.put_record(scope.db, kind, scope.patient_id, record_id, body, pre)
    # The path as sent: both ids passed validation, so it needs no escaping.
    return _written(result, request.scope["path"])


async def create(
    scope: PatientScope,
    kind: RecordKind[Any, Any],
    body: BaseModel,
    request: Request,
    idempotency_key: str | None,
) -> Response:
    """``POST`` to the collection: always 201; safe to retry with an ``Idempotency-Key``."""

    async def produce() -> Response:
        record_id = getattr(body, "id", None) or uuid.uuid4()
        result = await records.put_record(
            scope.db, kind, scope.patient_id, record_id, body, Preconditions(None, "*")
        )
        return _written(result, f"{request.url.path.rstrip('/')}/{record_id}")

    return await idempotent(scope.db, scope.caller.user_id, idempotency_key, request, produce)


async def get(
    scope: PatientScope, kind: RecordKind[Any, Any], record_id: uuid.UUID, pre: Preconditions
) -> Response:
    """``GET`` one record; 304 when ``If-None-Match`` names its version."""
    record = await records.get_record(scope.db, kind, scope.patient_id, record_id)
    tag = etag(record.version)
    if pre.not_modified(record.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
    return ModelResponse(record, headers={"ETag": tag})


async def patch(
    scope: PatientScope,
    kind: RecordKind[Any, Any],
    record_id: uuid.UUID,
    body: dict[str, Any],
    pre: Preconditions,
) -> Response:
    """``PATCH`` with an RFC 7396 merge patch."""
    result = await records.patch_record(scope.db, kind, scope.patient_id, record_id, body, pre)
    return ModelResponse(result.record, headers={"ETag": etag(result.version)})


async def delete(
    scope: PatientScope, kind: RecordKind[Any, Any], record_id: uuid.UUID, pre: Preconditions
) -> Response:
    """``DELETE``: 204, again on a retry (the tombstone answers)."""
    await records.delete_record(scope.db, kind, scope.patient_id, record_id, pre)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def list_page(
    scope: PatientScope,
    kind: RecordKind[Any, Any],
    out_schema: type[BaseModel],
    *,
    date_from: CalendarDate | None,
    date_to: CalendarDate | None,
    limit: int,
    cursor: str | None,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> Response:
    """One page of the collection, newest first, with the next page's cursor."""
    check_date_range(date_from, date_to)
    items, next_cursor = await records.list_records(
        scope.db,
        kind,
        scope.patient_id,
        limit=limit,
        cursor=cursor,
        date_from=date_from,
        date_to=date_to,
        where=where,
    )
    page = Page[out_schema]  # type: ignore[valid-type]
    return ModelResponse(page(items=items, next_cursor=next_cursor))


def _written(result: WriteResult[Any], location: str) -> Response:
    headers = {"ETag": etag(result.version)}
    if result.status == "created":
        headers["Location"] = location
        return ModelResponse(result.record, status.HTTP_201_CREATED, headers=headers)
    return ModelResponse(result.record, headers=headers)


def merge_patch_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a merge patch of ``model`` (the handler takes a plain object, which
    FastAPI would document as any object at all): its fields, none required, and `null`
    for every field that has a default (RFC 7396: null removes it, so the default applies)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # FastAPI lists them already, for the PUT body
    required = set(schema.pop("required", ()))
    for name, field in schema["properties"].items():
        nullable = {"type": "null"} in field.get("anyOf", ())
        if name not in required and not nullable:
            schema["properties"][name] = {"anyOf": [field, {"type": "null"}]}
    # Named by what it patches (EntryIn → EntryPatch); `_finish_openapi` makes it a component.
    schema["title"] = model.__name__.removesuffix("In").removesuffix("Update") + "Patch"
    schema["description"] = "RFC 7396 merge patch of the writable fields; `null` clears one."
    return {"requestBody": {"content": {MERGE_PATCH: {"schema": schema}}}}
