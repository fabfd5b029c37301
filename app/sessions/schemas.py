"""Session event bodies (contract §4)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator
from typing_extensions import TypeAliasType

from app.core.fields import (
    WHOLE,
    OffsetDatetime,
    OptionalNumber,
    Score,
    Text200,
    Text2000,
    drop_server_fields,
    unique,
)
from app.courses.schemas import Modality
from app.sessions.acupoints import normalise_point

# A named alias: OpenAPI lists it once, as a component clients turn into a type.
AdverseEvent = TypeAliasType("AdverseEvent", Literal[
    "bruising", "bleeding", "soreness", "dizziness", "fainting", "fatigue", "other",
])  # fmt: skip


def _points(raw: list[str]) -> list[str]:
    codes, unknown = [], []
    for item in raw:
        code = normalise_point(item)
        if code is None:
            unknown.append(item)
        else:
            codes.append(code)
    if unknown:
        shown = ", ".join(repr(u[:20]) for u in unknown[:10])
        raise ValueError(f"unknown acupuncture point code(s): {shown}")
    return unique(codes)


class SessionIn(BaseModel):
    """A session event as a client writes it. Server fields sent back are ignored."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="May repeat the path's id.")
    course_id: uuid.UUID | None = Field(default=None, description="One of this patient's courses.")
    occurred_at: OffsetDatetime = Field(examples=["2026-11-20T10:00:00+01:00"])
    modality: Modality | None = Field(default=None, description="Defaults to the course's.")
    points: Annotated[list[Annotated[str, Field(max_length=20)]], AfterValidator(_points)] = Field(
        default_factory=list,
        max_length=60,
        description="WHO 2008 codes; 'li 4', 'LI-4', 'SJ5' are accepted and normalised.",
        examples=[["LI4", "GB20", "EX-HN3"]],
    )
    electro_frequency_hz: OptionalNumber = Field(
        default=None,
        ge=0.5,
        le=200,
        description="Only with modality electroacupuncture.",
    )
    duration_minutes: Annotated[int, Strict(), Field(ge=1, le=240), WHOLE] | None = None
    pain_before: Score | None = None
    pain_after: Score | None = None
    adverse_events: Annotated[list[AdverseEvent], AfterValidator(unique)] = Field(
        default_factory=list, max_length=50, description="A set: duplicates are dropped."
    )
    practitioner: Text200 | None = None
    notes: Text2000 | None = None

    @model_validator(mode="before")
    @classmethod
    def _ignore_server_fields(cls, data: Any) -> Any:
        return drop_server_fields(data, derived=frozenset({"local_date"}))


class SessionOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    course_id: uuid.UUID | None
    occurred_at: dt.datetime
    local_date: dt.date = Field(description="The date of `occurred_at` in its own offset.")
    modality: Modality | None
    points: list[str]
    electro_frequency_hz: float | None
    duration_minutes: int | None
    pain_before: int | None
    pain_after: int | None
    adverse_events: list[AdverseEvent]
    practitioner: str | None
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class AcupointOut(BaseModel):
    code: str
    meridian: str
    meridian_name: str
    number: int


class AcupointList(BaseModel):
    items: list[AcupointOut]
    aliases: dict[str, str] = Field(description="Accepted alias → standard meridian code.")
