"""The HTTP face shared by every kind of patient record: PUT/POST/GET/PATCH/DELETE and list.

Each domain calls :func:`add_record_routes` with its kind, schemas and access levels; the
handlers only parse, call :mod:`app.core.records` and shape the response.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel

from app.core import records
from app.core.deps import Need, PatientScope, require
from app.core.errors import problem_responses
from app.core.fields import CalendarDate, check_date_range
from app.core.http import ModelResponse, Preconditions, etag, preconditions
from app.core.pagination import CursorParam, LimitParam, Page
from app.sync.idempotency import idempotent

PreDep = Annotated[Preconditions, Depends(preconditions)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        description="Makes a POST safe to retry: the same key and request within 24 h get "
        "the first response again; the same key with another request is 422. 1–255 "
        "printable characters (a UUID is a good key).",
        # Checked by app.sync.idempotency itself (422), which also takes the quoted form.
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


async def _no_filters() -> list[sa.ColumnElement[bool]]:
    return []


def _merge_patch_body(model: type[BaseModel]) -> dict[str, Any]:
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
    schema["title"] = f"{model.__name__} merge patch"
    schema["description"] = "RFC 7396 merge patch of the writable fields; `null` clears one."
    return {"requestBody": {"content": {MERGE_PATCH: {"schema": schema}}}}


def add_record_routes(
    router: APIRouter,
    *,
    collection: str,
    kind: records.RecordKind[Any, Any],
    body_schema: type[BaseModel],
    out_schema: type[BaseModel],
    write_need: Need,
    list_filters: Callable[..., Awaitable[Sequence[sa.ColumnElement[bool]]]] = _no_filters,
) -> None:
    """Register the record routes under ``/v1/patients/{patient_id}/<collection>``."""
    base = f"/v1/patients/{{patient_id}}/{collection}"
    label = kind.label
    InBody = Annotated[body_schema, Body()]  # type: ignore[valid-type]
    PageOut = Page[out_schema]  # type: ignore[valid-type]

    read_access = require(Need.READ)
    write_access = require(write_need)

    @router.put(
        f"{base}/{{record_id}}",
        response_model=out_schema,
        status_code=status.HTTP_200_OK,
        name=f"put_{kind.name}",
        summary=f"Create or replace a {label} at a client-chosen id",
        responses={
            201: {"model": out_schema, "description": "Created"},
            **problem_responses(401, 403, 404, 412, 422, 429),
        },
    )
    async def put(
        record_id: uuid.UUID,
        body: InBody,
        scope: Annotated[PatientScope, write_access],
        pre: PreDep,
        request: Request,
    ) -> Any:
        result = await records.put_record(scope.db, kind, scope.patient_id, record_id, body, pre)
        headers = {"ETag": etag(result.version)}
        if result.status == "created":
            headers["Location"] = request.url.path
            return ModelResponse(result.record, status.HTTP_201_CREATED, headers=headers)
        return ModelResponse(result.record, headers=headers)

    @router.post(
        base,
        response_model=out_schema,
        status_code=status.HTTP_201_CREATED,
        name=f"create_{kind.name}",
        summary=f"Create a {label} with a server-chosen id",
        responses=problem_responses(401, 403, 404, 409, 412, 422, 429),
    )
    async def create(
        body: InBody,
        scope: Annotated[PatientScope, write_access],
        request: Request,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Any:
        async def produce() -> Response:
            record_id = body.id or uuid.uuid4()  # type: ignore[attr-defined]
            result = await records.put_record(
                scope.db, kind, scope.patient_id, record_id, body, Preconditions(None, "*")
            )
            headers = {
                "ETag": etag(result.version),
                "Location": f"{request.url.path.rstrip('/')}/{record_id}",
            }
            return ModelResponse(result.record, status.HTTP_201_CREATED, headers=headers)

        return await idempotent(scope.db, scope.caller.user_id, idempotency_key, request, produce)

    @router.get(
        f"{base}/{{record_id}}",
        response_model=out_schema,
        name=f"get_{kind.name}",
        summary=f"Read one {label}",
        responses={304: {"description": "Not modified"}, **problem_responses(401, 404)},
    )
    async def get(
        record_id: uuid.UUID,
        scope: Annotated[PatientScope, read_access],
        pre: PreDep,
    ) -> Any:
        record = await records.get_record(scope.db, kind, scope.patient_id, record_id)
        tag = etag(record.version)
        if pre.not_modified(record.version):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return ModelResponse(record, headers={"ETag": tag})

    @router.patch(
        f"{base}/{{record_id}}",
        response_model=out_schema,
        name=f"patch_{kind.name}",
        summary=f"Change some fields of a {label} (JSON merge patch)",
        responses=problem_responses(401, 403, 404, 412, 422, 429),
        openapi_extra=_merge_patch_body(body_schema),
    )
    async def patch(
        record_id: uuid.UUID,
        body: Annotated[dict[str, Any], Body(media_type=MERGE_PATCH)],
        scope: Annotated[PatientScope, write_access],
        pre: PreDep,
    ) -> Any:
        result = await records.patch_record(scope.db, kind, scope.patient_id, record_id, body, pre)
        return ModelResponse(result.record, headers={"ETag": etag(result.version)})

    @router.delete(
        f"{base}/{{record_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        name=f"delete_{kind.name}",
        summary=f"Delete a {label} (a tombstone stays for sync)",
        responses=problem_responses(401, 403, 404, 412, 429),
    )
    async def delete(
        record_id: uuid.UUID,
        scope: Annotated[PatientScope, write_access],
        pre: PreDep,
    ) -> Response:
        await records.delete_record(scope.db, kind, scope.patient_id, record_id, pre)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        base,
        response_model=PageOut,
        name=f"list_{kind.name}",
        summary=f"List {label} records, newest first",
        responses=problem_responses(401, 404, 422),
    )
    async def list_(
        scope: Annotated[PatientScope, read_access],
        filters: Annotated[Sequence[sa.ColumnElement[bool]], Depends(list_filters)],
        date_from: DateFrom = None,
        date_to: DateTo = None,
        limit: LimitParam = 100,
        cursor: CursorParam = None,
    ) -> Any:
        check_date_range(date_from, date_to)
        items, next_cursor = await records.list_records(
            scope.db,
            kind,
            scope.patient_id,
            limit=limit,
            cursor=cursor,
            date_from=date_from,
            date_to=date_to,
            where=filters,
        )
        return ModelResponse(PageOut(items=items, next_cursor=next_cursor))
