"""The export document of ``GET /v1/me/export`` (contract §1), typed for generated clients."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from app.accounts.schemas import UserOut
from app.clinicians.schemas import ClinicianLinkOut
from app.courses.schemas import CourseOut
from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut


class ExportedShareCode(BaseModel):
    """A share code the patient made (the code itself is never kept)."""

    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None
    used_by: uuid.UUID | None = Field(description="The clinician who redeemed it.")


class ExportedAccess(BaseModel):
    """One read or write of the patient's data by someone else."""

    id: uuid.UUID
    actor_id: uuid.UUID
    actor_role: str
    at: dt.datetime
    method: str
    path: str


class PatientExport(BaseModel):
    """Everything stored about the patient, oldest first within each list."""

    exported_at: dt.datetime
    account: UserOut
    entries: list[EntryOut]
    courses: list[CourseOut]
    sessions: list[SessionOut]
    clinician_links: list[ClinicianLinkOut]
    share_codes: list[ExportedShareCode]
    access_log: list[ExportedAccess]
