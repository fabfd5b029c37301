"""/v1/me/export: everything stored about the calling patient (contract §1)."""

from fastapi import APIRouter

from app.core.deps import CurrentPatient, DbDep, KnownQueryParameters
from app.core.errors import problem_responses
from app.core.http import ModelResponse
from app.export.schemas import PatientExport
from app.export.service import export_patient

router = APIRouter(prefix="/v1", tags=["accounts"], dependencies=[KnownQueryParameters])


@router.get(
    "/me/export",
    operation_id="me_export",
    response_model=PatientExport,
    summary="Everything stored about you, as one JSON document",
    responses=problem_responses(401, 403),
)
async def export_me(caller: CurrentPatient, db: DbDep) -> ModelResponse:
    return ModelResponse(await export_patient(db, caller.user_id))
