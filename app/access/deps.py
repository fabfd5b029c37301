"""The patient-scoped routes' dependency: who is calling, and may they use this patient?

Every route under ``/v1/patients/{patient_id}`` takes one of :data:`ReadAccess`,
:data:`DiaryWriteAccess` or :data:`CareWriteAccess`; each reads the caller's token once,
counts a write against the caller's limit, and makes the decision of
:func:`app.access.service.resolve_patient`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from app.access.service import Need, PatientScope, resolve_patient
from app.core.deps import CurrentCaller
from app.core.security import Caller

PATIENT_ID_PATTERN = (
    r"^(me|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$"
)
PatientIdPath = Annotated[
    str,
    Path(
        description="The patient's id (UUID), or `me` for the caller's own record.",
        pattern=PATIENT_ID_PATTERN,
        examples=["me"],
    ),
]


async def patient_scope(
    request: Request, caller: Caller, patient_id: str, need: Need
) -> PatientScope:
    """Count a write against the caller's limit, then decide access."""
    state = request.app.state
    if need is not Need.READ:
        await state.write_limits.hit(str(caller.user_id))
    # Only a clinician's use is logged with its path; a patient's request need not build it.
    path = request.url.path if caller.role != "patient" else ""
    return await resolve_patient(state.db, caller, patient_id, need, request.method, path)


async def read_access(
    request: Request, caller: CurrentCaller, patient_id: PatientIdPath
) -> PatientScope:
    """The patient, or a clinician they linked (logged)."""
    return await patient_scope(request, caller, patient_id, Need.READ)


async def diary_write_access(
    request: Request, caller: CurrentCaller, patient_id: PatientIdPath
) -> PatientScope:
    """The patient alone (a linked clinician gets 403)."""
    return await patient_scope(request, caller, patient_id, Need.WRITE_DIARY)


async def care_write_access(
    request: Request, caller: CurrentCaller, patient_id: PatientIdPath
) -> PatientScope:
    """The patient, or a clinician they linked (logged)."""
    return await patient_scope(request, caller, patient_id, Need.WRITE_CARE)


ReadAccess = Annotated[PatientScope, Depends(read_access)]
DiaryWriteAccess = Annotated[PatientScope, Depends(diary_write_access)]
CareWriteAccess = Annotated[PatientScope, Depends(care_write_access)]
