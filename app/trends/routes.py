"""Trend summaries (contract §6)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.access.deps import ReadAccess
from app.core.deps import DbDep, HeavyWorkDep, KnownQueryParameters, SummaryCacheDep
from app.core.errors import problem_responses
from app.core.fields import BoundedDate
from app.core.http import JSONBytesResponse
from app.trends import service
from app.trends.schemas import CourseSummary, PatientSummary

router = APIRouter(
    prefix="/v1/patients/{patient_id}", tags=["trends"], dependencies=[KnownQueryParameters]
)

DateParam = Annotated[BoundedDate, Query()]


@router.get(
    "/courses/{course_id}/summary",
    operation_id="course_summary_get",
    response_model=CourseSummary,
    summary="Is the course working? Baseline vs now, IMMPACT category, trend, sessions",
    responses=problem_responses(401, 404, 422, 503),
)
async def course_summary(
    course_id: uuid.UUID,
    scope: ReadAccess,
    db: DbDep,
    cache: SummaryCacheDep,
    heavy: HeavyWorkDep,
    as_of: Annotated[
        DateParam | None,
        Query(description="The day the summary is as of; default today in the patient's zone."),
    ] = None,
) -> JSONBytesResponse:
    body = await service.course_summary_json(db, cache, heavy, scope.patient_id, course_id, as_of)
    return JSONBytesResponse(body)


@router.get(
    "/summary",
    operation_id="patient_summary_get",
    response_model=PatientSummary,
    summary="Daily series, weekly means, trend and factors for any window",
    responses=problem_responses(401, 404, 422, 503),
)
async def patient_summary(
    scope: ReadAccess,
    db: DbDep,
    cache: SummaryCacheDep,
    heavy: HeavyWorkDep,
    date_from: Annotated[
        DateParam | None, Query(alias="from", description="Default: `to` − 27 days.")
    ] = None,
    date_to: Annotated[
        DateParam | None, Query(alias="to", description="Default: today in the patient's zone.")
    ] = None,
) -> JSONBytesResponse:
    body = await service.patient_summary_json(
        db, cache, heavy, scope.patient_id, date_from, date_to
    )
    return JSONBytesResponse(body)
