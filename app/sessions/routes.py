"""/v1/patients/{patient_id}/sessions (contract §4) and /v1/reference/acupoints."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.access.deps import CareWriteAccess, ReadAccess
from app.core.deps import KnownQueryParameters
from app.core.pagination import CursorParam, LimitParam
from app.records import routes as record
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
from app.sessions.acupoints import ALIASES, POINTS
from app.sessions.schemas import AcupointList, AcupointOut, SessionIn, SessionOut
from app.sessions.service import sessions

router = APIRouter(tags=["sessions"], dependencies=[KnownQueryParameters])

SESSIONS = "/v1/patients/{patient_id}/sessions"
SESSION = "/v1/patients/{patient_id}/sessions/{record_id}"


@router.put(SESSION, **operation(sessions, "put", SessionOut))
async def put_session(
    record_id: RecordId,
    body: SessionIn,
    scope: CareWriteAccess,
    pre: PutPreconditions,
    request: Request,
) -> Response:
    return await record.put(scope, sessions, record_id, body, pre, request)


@router.post(SESSIONS, **operation(sessions, "create", SessionOut))
async def create_session(
    body: SessionIn,
    scope: CareWriteAccess,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await record.create(scope, sessions, body, request, idempotency_key)


@router.get(SESSION, **operation(sessions, "get", SessionOut))
async def get_session(record_id: RecordId, scope: ReadAccess, pre: ReadPreconditions) -> Response:
    return await record.get(scope, sessions, record_id, pre)


@router.patch(SESSION, **operation(sessions, "patch", SessionOut, SessionIn))
async def patch_session(
    record_id: RecordId, body: MergePatch, scope: CareWriteAccess, pre: WritePreconditions
) -> Response:
    return await record.patch(scope, sessions, record_id, body, pre)


@router.delete(SESSION, **operation(sessions, "delete", SessionOut))
async def delete_session(
    record_id: RecordId, scope: CareWriteAccess, pre: WritePreconditions
) -> Response:
    return await record.delete(scope, sessions, record_id, pre)


@router.get(SESSIONS, **operation(sessions, "list", SessionOut))
async def list_sessions(
    scope: ReadAccess,
    course_id: Annotated[
        uuid.UUID | None, Query(description="Only this course's sessions.")
    ] = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> Response:
    where = [] if course_id is None else [sessions.table.c.course_id == course_id]
    return await record.list_page(
        scope,
        sessions,
        SessionOut,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
        where=where,
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
    operation_id="acupoints_list",
    response_model=AcupointList,
    tags=["reference"],
    summary="Every accepted acupuncture point code (WHO 2008) with its meridian",
)
async def acupoints(response: Response) -> AcupointList:
    response.headers["Cache-Control"] = "public, max-age=86400"
    return _ACUPOINTS
