"""/v1/patients/{patient_id}/courses (contract §3): the patient and linked clinicians write."""

from fastapi import APIRouter, Request, Response

from app.access.deps import CareWriteAccess, ReadAccess
from app.core.deps import KnownQueryParameters
from app.core.pagination import CursorParam, LimitParam
from app.courses.schemas import CourseIn, CourseOut
from app.courses.service import courses
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

router = APIRouter(tags=["courses"], dependencies=[KnownQueryParameters])

COURSES = "/v1/patients/{patient_id}/courses"
COURSE = "/v1/patients/{patient_id}/courses/{record_id}"


@router.put(COURSE, **operation(courses, "put", CourseOut))
async def put_course(
    record_id: RecordId,
    body: CourseIn,
    scope: CareWriteAccess,
    pre: PutPreconditions,
    request: Request,
) -> Response:
    return await record.put(scope, courses, record_id, body, pre, request)


@router.post(COURSES, **operation(courses, "create", CourseOut))
async def create_course(
    body: CourseIn,
    scope: CareWriteAccess,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await record.create(scope, courses, body, request, idempotency_key)


@router.get(COURSE, **operation(courses, "get", CourseOut))
async def get_course(record_id: RecordId, scope: ReadAccess, pre: ReadPreconditions) -> Response:
    return await record.get(scope, courses, record_id, pre)


@router.patch(COURSE, **operation(courses, "patch", CourseOut, CourseIn))
async def patch_course(
    record_id: RecordId, body: MergePatch, scope: CareWriteAccess, pre: WritePreconditions
) -> Response:
    return await record.patch(scope, courses, record_id, body, pre)


@router.delete(COURSE, **operation(courses, "delete", CourseOut))
async def delete_course(
    record_id: RecordId, scope: CareWriteAccess, pre: WritePreconditions
) -> Response:
    return await record.delete(scope, courses, record_id, pre)


@router.get(COURSES, **operation(courses, "list", CourseOut))
async def list_courses(
    scope: ReadAccess,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> Response:
    return await record.list_page(
        scope, courses, CourseOut, date_from=date_from, date_to=date_to, limit=limit, cursor=cursor
    )
