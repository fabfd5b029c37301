"""/v1/patients/{patient_id}/entries (contract §2)."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app.core.deps import DbDep, DiaryWriteAccess, Need, ReadAccess
from app.core.errors import problem_responses
from app.core.fields import check_date_range
from app.core.http import ModelResponse
from app.core.record_routes import DateFrom, DateTo, IdempotencyKeyHeader, add_record_routes
from app.diary.batch import BatchRequest, BatchResponse, write_batch
from app.diary.export import entries_csv
from app.diary.schemas import EntryIn, EntryOut
from app.diary.service import entries
from app.sync.idempotency import idempotent

router = APIRouter(tags=["diary"])


@router.post(
    "/v1/patients/{patient_id}/entries/batch",
    response_model=BatchResponse,
    summary="Write up to 500 entries at once; each item stands or falls alone",
    responses=problem_responses(401, 403, 404, 409, 413, 422, 429),
)
async def write_entries(
    body: BatchRequest,
    scope: DiaryWriteAccess,
    db: DbDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    async def produce() -> Response:
        results = await write_batch(db, scope.patient_id, body.items)
        return ModelResponse(BatchResponse(results=results))

    return await idempotent(db, scope.caller.user_id, idempotency_key, request, produce)


@router.get(
    "/v1/patients/{patient_id}/entries.csv",
    summary="Every diary entry as CSV (one row per entry, lists joined with `;`)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 404, 422)},
)
async def entries_as_csv(
    scope: ReadAccess, db: DbDep, date_from: DateFrom = None, date_to: DateTo = None
) -> StreamingResponse:
    check_date_range(date_from, date_to)
    return StreamingResponse(
        entries_csv(db, scope.patient_id, date_from, date_to),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="paindiary-entries.csv"'},
    )


add_record_routes(
    router,
    collection="entries",
    kind=entries,
    body_schema=EntryIn,
    out_schema=EntryOut,
    write_need=Need.WRITE_DIARY,
)
