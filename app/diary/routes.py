"""/v1/patients/{patient_id}/entries (contract §2): the patient alone writes."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.convertors import StringConvertor, register_url_convertor

from app.access.deps import DiaryWriteAccess, ReadAccess
from app.core.deps import KnownQueryParameters
from app.core.errors import problem_responses
from app.core.fields import check_date_range
from app.core.http import ModelResponse
from app.core.pagination import CursorParam, LimitParam
from app.diary.batch import BatchRequest, BatchResponse, write_batch
from app.diary.export import entries_csv
from app.diary.schemas import EntryIn, EntryOut
from app.diary.service import entries
from app.records import routes as record
from app.records.idempotency import idempotent
from app.records.routes import (
    DateFrom,
    DateTo,
    IdempotencyKeyHeader,
    MergePatch,
    PutPreconditions,
    ReadPreconditions,
    RecordId,
    WritePreconditions,
    operation,
)

router = APIRouter(tags=["diary"], dependencies=[KnownQueryParameters])


class EntryIdConvertor(StringConvertor):
    """An entry's id in a path: any segment but ``batch``, which is its own resource (so a
    PUT to ``/entries/batch`` is 405, not the entry with id "batch"). The id is then
    validated as a UUID like any path parameter (422 otherwise)."""

    regex = "(?!batch$)[^/]+"


register_url_convertor("entry_id", EntryIdConvertor())

ENTRIES = "/v1/patients/{patient_id}/entries"
ENTRY = "/v1/patients/{patient_id}/entries/{record_id:entry_id}"


@router.post(
    f"{ENTRIES}/batch",
    operation_id="entries_batch",
    response_model=BatchResponse,
    summary="Write up to 500 entries at once; each item stands or falls alone",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 429),
)
async def write_entries(
    body: BatchRequest,
    scope: DiaryWriteAccess,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    async def produce() -> Response:
        results = await write_batch(scope.db, scope.patient_id, body.items)
        return ModelResponse(BatchResponse(results=results))

    return await idempotent(scope.db, scope.caller.user_id, idempotency_key, request, produce)


@router.get(
    "/v1/patients/{patient_id}/entries.csv",
    operation_id="entries_csv",
    summary="Every diary entry as CSV (one row per entry, lists joined with `;`)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The entries, oldest first, with a header row.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 404, 422),
    },
)
async def entries_as_csv(
    scope: ReadAccess, date_from: DateFrom = None, date_to: DateTo = None
) -> StreamingResponse:
    check_date_range(date_from, date_to)
    return StreamingResponse(
        entries_csv(scope.db, scope.patient_id, date_from, date_to),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="paindiary-entries.csv"'},
    )


@router.put(ENTRY, **operation(entries, "put", EntryOut))
async def put_entry(
    record_id: RecordId,
    body: EntryIn,
    scope: DiaryWriteAccess,
    pre: PutPreconditions,
    request: Request,
) -> Response:
    return await record.put(scope, entries, record_id, body, pre, request)


@router.post(ENTRIES, **operation(entries, "create", EntryOut))
async def create_entry(
    body: EntryIn,
    scope: DiaryWriteAccess,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await record.create(scope, entries, body, request, idempotency_key)


@router.get(ENTRY, **operation(entries, "get", EntryOut))
async def get_entry(record_id: RecordId, scope: ReadAccess, pre: ReadPreconditions) -> Response:
    return await record.get(scope, entries, record_id, pre)


@router.patch(ENTRY, **operation(entries, "patch", EntryOut, EntryIn))
async def patch_entry(
    record_id: RecordId, body: MergePatch, scope: DiaryWriteAccess, pre: WritePreconditions
) -> Response:
    return await record.patch(scope, entries, record_id, body, pre)


@router.delete(ENTRY, **operation(entries, "delete", EntryOut))
async def delete_entry(
    record_id: RecordId, scope: DiaryWriteAccess, pre: WritePreconditions
) -> Response:
    return await record.delete(scope, entries, record_id, pre)


@router.get(ENTRIES, **operation(entries, "list", EntryOut))
async def list_entries(
    scope: ReadAccess,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> Response:
    return await record.list_page(
        scope, entries, EntryOut, date_from=date_from, date_to=date_to, limit=limit, cursor=cursor
    )
