"""Treatment course bodies (contract §3)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from app.core.fields import WHOLE, BoundedDate, Text200, Text2000, drop_server_fields

# Each enum a named alias: OpenAPI lists it once, as a component clients turn into a type.
Condition = TypeAliasType("Condition", Literal[
    "neck_pain", "low_back_pain", "osteoarthritis", "tension_headache", "migraine",
    "fibromyalgia", "postoperative_pain", "neuropathy", "other",
])  # fmt: skip
Modality = TypeAliasType("Modality", Literal[
    "acupuncture", "electroacupuncture", "dry_needling", "medical_acupuncture", "other",
])  # fmt: skip
#: A course's start and end: 1900-01-01 through 2199-12-31.
CourseDate = BoundedDate


class CourseIn(BaseModel):
    """A treatment course as a client writes it. Server fields sent back are ignored."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="May repeat the path's id.")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    condition: Condition | None = None
    modality: Modality | None = None
    start_date: CourseDate
    end_date: CourseDate | None = Field(default=None, description="Null while ongoing.")
    planned_sessions: Annotated[int, Strict(), Field(ge=1, le=100), WHOLE] | None = None
    practitioner: Text200 | None = None
    pattern: Text200 | None = Field(
        default=None, description="The practitioner's assessment, e.g. 'qi stagnation'."
    )
    notes: Text2000 | None = None

    @model_validator(mode="before")
    @classmethod
    def _ignore_server_fields(cls, data: Any) -> Any:
        return drop_server_fields(data)

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start_date")
        if end is not None and start is not None and end < start:
            raise ValueError("must not be before start_date")
        return end


class CourseOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    name: str
    condition: Condition | None
    modality: Modality | None
    start_date: dt.date
    end_date: dt.date | None
    planned_sessions: int | None
    practitioner: str | None
    pattern: str | None
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
