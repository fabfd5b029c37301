"""/v1/patients/{patient_id}/sessions (contract §4) and /v1/reference/acupoints."""

import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Response

from app.core.deps import Need
from app.core.record_routes import add_record_routes
from app.sessions.acupoints import ALIASES, POINTS
from app.sessions.schemas import AcupointList, AcupointOut, SessionIn, SessionOut
from app.sessions.service import sessions

router = APIRouter(tags=["sessions"])


async def course_filter(
    course_id: Annotated[
        uuid.UUID | None, Query(description="Only this course's sessions.")
    ] = None,
) -> list[sa.ColumnElement[bool]]:
    return [] if course_id is None else [sessions.table.c.course_id == course_id]


add_record_routes(
    router,
    collection="sessions",
    kind=sessions,
    body_schema=SessionIn,
    out_schema=SessionOut,
    write_need=Need.WRITE_CARE,
    list_filters=course_filter,
)

_ACUPOINTS = AcupointList(
    items=[
        AcupointOut(
            code=p.code, meridian=p.meridian, meridian_name=p.meridian_name, number=p.number
        )
        for p in POINTS.values()
    ],
    aliases=ALIASES,
)


@router.get(
    "/v1/reference/acupoints",
    response_model=AcupointList,
    tags=["reference"],
    summary="Every accepted acupuncture point code (WHO 2008) with its meridian",
)
async def acupoints(response: Response) -> AcupointList:
    response.headers["Cache-Control"] = "public, max-age=86400"
    return _ACUPOINTS
