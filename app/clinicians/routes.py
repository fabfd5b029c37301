"""Sharing, links, the clinician's patient list, reports, chart and access log (§7)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.access.deps import ReadAccess
from app.clinicians import fhir_export, overview, report, service
from app.clinicians.schemas import (
    AccessLogOut,
    ClinicianLinkOut,
    FhirBundle,
    LinkOut,
    LinkRequest,
    PatientOverview,
    PatientSort,
    Report,
    ShareCodeOut,
    ShareCodeRequest,
)
from app.core.deps import (
    CurrentCaller,
    CurrentClinician,
    CurrentPatient,
    DbDep,
    HeavyWorkDep,
    KnownQueryParameters,
    client_address,
)
from app.core.errors import Invalid, NotAcceptable, NotFound, problem_responses
from app.core.fields import BoundedDate
from app.core.http import JSONBytesResponse
from app.core.negotiation import preferred
from app.core.pagination import CursorParam, LimitParam, Page, decode_cursor
from app.core.ratelimit import failures_counted
from app.records.routes import DateFrom, DateTo

router = APIRouter(prefix="/v1", tags=["clinicians"], dependencies=[KnownQueryParameters])

JSON = "application/json"
FHIR_JSON = "application/fhir+json"
AsOf = Annotated[
    BoundedDate | None,
    Query(description="Summaries as of this day; default today in the patient's zone."),
]


@router.post(
    "/patients/me/share-codes",
    operation_id="share_codes_create",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareCodeOut,
    summary="Create a single-use code that links one clinician to your data",
    responses=problem_responses(401, 403, 422),
)
async def create_share_code(
    caller: CurrentPatient, db: DbDep, request: Request, body: ShareCodeRequest | None = None
) -> ShareCodeOut:
    if body is None and (await request.body()).strip():
        # The body may be left out (72 hours); sent, it is an object (`null` is not).
        raise Invalid([(["body"], "must be an object, e.g. {}")])
    hours = (body or ShareCodeRequest()).expires_in_hours
    return await service.create_share_code(db, caller.user_id, hours)


@router.post(
    "/links",
    operation_id="links_create",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkOut,
    summary="Redeem a patient's share code (clinicians)",
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def redeem_share_code(
    body: LinkRequest, caller: CurrentClinician, db: DbDep, request: Request
) -> LinkOut:
    keys = [f"account:{caller.user_id}", f"address:{client_address(request)}"]
    async with failures_counted(request.app.state.link_attempts, keys, NotFound):
        return await service.redeem(db, caller.user_id, body.code)


@router.get(
    "/patients/me/links",
    operation_id="links_list",
    response_model=list[ClinicianLinkOut],
    summary="Clinicians who can see your data",
    responses=problem_responses(401, 403),
)
async def list_links(caller: CurrentPatient, db: DbDep) -> list[ClinicianLinkOut]:
    return await service.list_links(db, caller.user_id)


@router.delete(
    "/patients/me/links/{clinician_id}",
    operation_id="links_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a clinician's access (effective immediately)",
    responses=problem_responses(401, 403, 404),
)
async def revoke_link(clinician_id: uuid.UUID, caller: CurrentPatient, db: DbDep) -> Response:
    await service.revoke_link(db, caller.user_id, clinician_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/patients/me/access-log",
    operation_id="access_log_list",
    response_model=Page[AccessLogOut],
    summary="Who read or wrote your data, when, and which path",
    responses=problem_responses(401, 403, 422),
)
async def access_log(
    caller: CurrentPatient, db: DbDep, limit: LimitParam = 100, cursor: CursorParam = None
) -> Page[AccessLogOut]:
    items, next_cursor = await service.list_access_log(
        db, caller.user_id, limit=limit, cursor=cursor
    )
    return Page[AccessLogOut](items=items, next_cursor=next_cursor)


@router.get(
    "/patients",
    operation_id="patients_list",
    response_model=Page[PatientOverview],
    summary="Your linked patients at a glance (clinicians)",
    responses=problem_responses(401, 403, 422),
)
async def list_patients(
    caller: CurrentClinician,
    db: DbDep,
    request: Request,
    sort: Annotated[
        PatientSort,
        Query(
            description="`attention` puts worse-than-baseline patients first, then the "
            "silent (no entry for 7+ days), then those whose course is not working."
        ),
    ] = "name",
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> JSONBytesResponse:
    offset = decode_cursor(cursor, [int])[0] if cursor else 0
    rows = request.app.state.patient_rows
    body = await overview.patient_list_json(db, rows, caller.user_id, sort, offset, limit)
    return JSONBytesResponse(body)


#: The report's representations, the favourite first: a tie is JSON (§7).
REPORT_MEDIA_TYPES = (JSON, f"{FHIR_JSON}; fhirVersion=4.0")
_VARY = {"Vary": "Accept"}


async def report_media_type(request: Request, _: CurrentCaller) -> str:
    """Which of :data:`REPORT_MEDIA_TYPES` the client prefers by its ``Accept`` (RFC 9110
    §12.5.1, :mod:`app.core.negotiation`), or ``406``. Decided after authentication (an
    unauthenticated request is ``401`` whatever it accepts) and before the access check, so
    a report that cannot be sent is neither read nor written to the patient's access log."""
    fields = request.headers.getlist("accept")  # several fields are one comma-separated list
    chosen = preferred(", ".join(fields) if fields else None, REPORT_MEDIA_TYPES)
    if chosen is None:
        raise NotAcceptable(
            "The report is sent as `application/json` or as `application/fhir+json` "
            "(FHIR R4); `Accept` allows neither.",
            headers=_VARY,
        )
    return chosen


ReportMediaType = Annotated[str, Depends(report_media_type)]


@router.get(
    "/patients/{patient_id}/report",
    operation_id="report_get",
    # Documentation only (the route sends its own responses): both schemas become
    # components, and `responses` says which media type carries which.
    response_model=Report | FhirBundle,
    response_class=Response,
    summary="The clinician's report: course summaries, recent entries, sessions",
    description="`Accept` chooses the form (RFC 9110 §12.5.1 weights): a FHIR R4 `Bundle` "
    "(type `collection`) of the Patient, an Observation per entry value and a Procedure per "
    "session when `application/fhir+json` weighs more than `application/json`, else JSON; "
    "`406` when it accepts neither. `from`/`to` bound the entries and sessions it holds "
    "(default: all).",
    responses={
        200: {
            "description": "The report, as JSON or as a FHIR R4 Bundle.",
            "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/Report"}},
                FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirBundle"}},
            },
        },
        **problem_responses(401, 404, 422),
        406: {
            **problem_responses(406)[406],
            "description": "`Accept` allows neither `application/json` nor "
            "`application/fhir+json`.",
        },
    },
)
async def patient_report(
    media_type: ReportMediaType,
    scope: ReadAccess,
    db: DbDep,
    heavy: HeavyWorkDep,
    as_of: AsOf = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> Response:
    if media_type == JSON:
        body = await report.json_report(db, heavy, scope.patient_id, as_of, date_from, date_to)
        return JSONBytesResponse(body, headers=_VARY)
    chunks = await fhir_export.fhir_report(db, scope.patient_id, date_from, date_to)
    return StreamingResponse(chunks, media_type=FHIR_JSON, headers=_VARY)


@router.get(
    "/patients/{patient_id}/report/chart.svg",
    operation_id="report_chart",
    response_class=Response,
    summary="Daily pain, 7-day mean, sessions and baseline over a course, as SVG",
    responses={
        200: {
            "description": "The chart, an SVG image.",
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 404, 422),
    },
)
async def patient_chart(
    scope: ReadAccess,
    db: DbDep,
    heavy: HeavyWorkDep,
    course_id: Annotated[uuid.UUID | None, Query(description="Default: the latest course.")] = None,
    as_of: AsOf = None,
) -> Response:
    svg = await report.chart(db, heavy, scope.patient_id, course_id, as_of)
    return Response(svg, media_type="image/svg+xml; charset=utf-8")
