"""Sharing, links, the clinician's patient list, reports and the access log (contract §7)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from app.courses.schemas import CourseOut
from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut
from app.trends.schemas import CourseSummary
from app.trends.stats import Category


class ShareCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_hours: Annotated[int, Strict(), Field(ge=1, le=168)] = 72


class ShareCodeOut(BaseModel):
    code: str = Field(description="Give this to your clinician; it works once.")
    expires_at: dt.datetime


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=64)]


class LinkOut(BaseModel):
    """The patient a clinician has just been linked to."""

    patient_id: uuid.UUID
    display_name: str | None
    linked_at: dt.datetime


class ClinicianLinkOut(BaseModel):
    """A clinician who can see the patient's data."""

    clinician_id: uuid.UUID
    display_name: str | None
    email: str
    linked_at: dt.datetime


class ActiveCourse(BaseModel):
    id: uuid.UUID
    name: str
    reduction_pct: float | None
    category: Category | None


class PatientOverview(BaseModel):
    patient_id: uuid.UUID
    display_name: str | None
    last_entry_date: dt.date | None
    pain_7d_mean: float | None = Field(
        description="Mean daily pain over the last 7 days (patient's time zone)."
    )
    active_course: ActiveCourse | None
    attention: list[Literal["worse", "silent", "not_responding"]] = Field(
        description="Why the patient may need attention (see `sort=attention`)."
    )


class PatientInfo(BaseModel):
    id: uuid.UUID
    display_name: str | None
    timezone: str


class CourseReport(BaseModel):
    course: CourseOut
    summary: CourseSummary


class Report(BaseModel):
    patient: PatientInfo
    generated_at: dt.datetime
    as_of: dt.date
    courses: list[CourseReport]
    recent_entries: list[EntryOut] = Field(description="Entries of the 28 days up to as_of.")
    sessions: list[SessionOut]


class AccessLogOut(BaseModel):
    id: uuid.UUID
    actor_id: uuid.UUID
    actor_role: str
    actor_display_name: str | None
    at: dt.datetime
    method: str
    path: str
