"""/v1/me/export: everything stored about the calling patient (contract §1)."""

from typing import Any

from fastapi import APIRouter

from app.core.deps import CurrentPatient, DbDep
from app.core.errors import problem_responses
from app.export.service import export_patient

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.get("/me/export", responses=problem_responses(401, 403))
async def export_me(caller: CurrentPatient, db: DbDep) -> dict[str, Any]:
    """Everything stored about the caller, as one JSON document."""
    return await export_patient(db, caller.user_id)
