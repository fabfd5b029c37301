"""GET /v1/patients/{patient_id}/changes (contract §5)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.access.deps import ReadAccess
from app.core.deps import DbDep, KnownQueryParameters
from app.core.errors import problem_responses
from app.core.http import ModelResponse
from app.core.pagination import LimitParam
from app.sync.feed import changes_since
from app.sync.schemas import ChangesPage

router = APIRouter(tags=["sync"], dependencies=[KnownQueryParameters])


@router.get(
    "/v1/patients/{patient_id}/changes",
    operation_id="changes_list",
    response_model=ChangesPage,
    summary="Every change after a cursor: upserts with their newest state, and deletes",
    responses=problem_responses(401, 404, 422),
)
async def changes(
    scope: ReadAccess,
    db: DbDep,
    since: Annotated[
        str | None,
        Query(max_length=512, description="A `next_cursor` from before; none = from the start."),
    ] = None,
    limit: LimitParam = 100,
) -> ModelResponse:
    return ModelResponse(await changes_since(db, scope.patient_id, since, limit))
