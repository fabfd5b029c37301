"""The HTTP face shared by every kind of patient record: PUT/POST/GET/PATCH/DELETE and list.

Each domain calls :func:`add_record_routes` with its kind, schemas and access levels; the
handlers only parse, call :mod:`app.core.records` and shape the response.
"""

import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Annotated, Any, ClassVar

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.core import records
from app.core.deps import PATIENT_ID_PATTERN, Need, PatientScope, patient_access, require
from app.core.errors import AppError, problem_responses
from app.core.fields import CalendarDate, check_date_range
from app.core.http import ModelResponse, Preconditions, etag, preconditions
from app.core.pagination import CursorParam, LimitParam, Page
from app.core.security import AccessTokens
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


async def _put(
    request: Request,
    kind: records.RecordKind[Any, Any],
    scope: PatientScope,
    record_id: uuid.UUID,
    body: BaseModel,
    pre: Preconditions,
) -> Response:
    result = await records.put_record(scope.db, kind, scope.patient_id, record_id, body, pre)
    headers = {"ETag": etag(result.version)}
    if result.status == "created":
        # The path as sent: both ids passed validation, so it needs no escaping (what
        # ``request.url.path`` would add, building the whole URL to do so).
        headers["Location"] = request.scope["path"]
        return ModelResponse(result.record, status.HTTP_201_CREATED, headers=headers)
    return ModelResponse(result.record, headers=headers)


_PATIENT_ID = re.compile(PATIENT_ID_PATTERN)
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class FastPutRoute(APIRoute):
    """``PUT`` of a record, whose common case skips FastAPI's dependency solver.

    A phone's sync is mostly PUTs of new records, and solving this route's dependency tree
    (token, caller, patient, preconditions, path and body parameters) cost a quarter of
    a PUT's CPU (bench/README.md). The fast path takes a request only when FastAPI's path
    would accept it the same way: a ``Bearer`` token that verifies, a canonical UUID, a
    patient id of the documented shape, and an ``application/json`` body that validates.
    It checks all of that before anything with an effect (the write limit, the access
    log), then runs the same steps in the same order as the dependencies do. Any other
    request goes to FastAPI's handler untouched, so every error keeps its usual answer.
    """

    kind: ClassVar[records.RecordKind[Any, Any]]
    body_schema: ClassVar[type[BaseModel]]
    need: ClassVar[Need]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        general = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response = await self._fast(request)
            return response if response is not None else await general(request)

        return handler

    async def _fast(self, request: Request) -> Response | None:
        first: dict[bytes, bytes] = {}
        for name, value in request.scope["headers"]:  # the first of each, as Starlette reads
            if name in _FAST_HEADERS and name not in first:
                first[name] = value
        authorization = first.get(b"authorization", b"")
        if first.get(b"content-type") != b"application/json":
            return None
        if not authorization.startswith(b"Bearer "):
            return None
        token = authorization[7:].decode("latin-1")
        if not token or token != token.strip():  # FastAPI strips it: let FastAPI do so
            return None
        patient_id, record_id = request.path_params["patient_id"], request.path_params["record_id"]
        if not (_PATIENT_ID.fullmatch(patient_id) and _CANONICAL_UUID.fullmatch(record_id)):
            return None
        tokens: AccessTokens = request.app.state.tokens
        try:
            caller = tokens.verify(token)
        except AppError:
            return None
        raw = await request.body()  # the body limit's 413 and the NUL check's 422 pass on
        try:
            # Parsed and validated in one step: what FastAPI accepts (json.loads, then the
            # model) in 15 µs instead of 25 (tests/core/test_fast_put.py holds them equal).
            body = self.body_schema.model_validate_json(raw)
        except Exception:  # whatever FastAPI's path refuses, it answers
            return None
        scope = await patient_access(request, caller, patient_id, self.need)
        pre = Preconditions(_text(first.get(b"if-match")), _text(first.get(b"if-none-match")))
        return await _put(request, self.kind, scope, uuid.UUID(record_id), body, pre)


_FAST_HEADERS = frozenset({b"authorization", b"content-type", b"if-match", b"if-none-match"})


def _text(header: bytes | None) -> str | None:
    return None if header is None else header.decode("latin-1")


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

    async def put(
        record_id: uuid.UUID,
        body: InBody,
        scope: Annotated[PatientScope, write_access],
        pre: PreDep,
        request: Request,
    ) -> Any:
        return await _put(request, kind, scope, record_id, body, pre)

    router.add_api_route(
        f"{base}/{{record_id}}",
        put,
        methods=["PUT"],
        response_model=out_schema,
        status_code=status.HTTP_200_OK,
        name=f"put_{kind.name}",
        summary=f"Create or replace a {label} at a client-chosen id",
        responses={
            201: {"model": out_schema, "description": "Created"},
            **problem_responses(401, 403, 404, 412, 422, 429),
        },
        route_class_override=type(
            f"FastPut{kind.name.title()}Route",
            (FastPutRoute,),
            {"kind": kind, "body_schema": body_schema, "need": write_need},
        ),
    )

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
