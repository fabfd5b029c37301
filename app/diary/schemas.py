"""Diary entry bodies (contract §2)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from typing_extensions import TypeAliasType

from app.core.fields import (
    DateSince1900,
    OffsetDatetime,
    OptionalNumber,
    Score,
    Tag,
    Text2000,
    drop_server_fields,
    unique,
)

# Each enum a named alias: OpenAPI lists it once, as a component clients turn into a type.
BodyRegion = TypeAliasType("BodyRegion", Literal[
    "head", "face", "jaw", "neck", "shoulder", "upper_back", "lower_back", "chest", "abdomen",
    "pelvis", "hip", "arm", "elbow", "forearm", "wrist", "hand", "thigh", "knee", "lower_leg",
    "ankle", "foot", "whole_body",
])  # fmt: skip
Side = TypeAliasType("Side", Literal["left", "right", "both", "midline"])
PainQuality = TypeAliasType("PainQuality", Literal[
    "aching", "sharp", "stabbing", "burning", "throbbing", "shooting", "dull", "tingling",
    "cramping", "stiff", "migrating",
])  # fmt: skip
MedicationKind = TypeAliasType("MedicationKind", Literal["preventive", "as_needed"])


class PainSite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: BodyRegion
    side: Side | None = None
    intensity: Score | None = None
    qualities: Annotated[list[PainQuality], AfterValidator(unique)] = Field(
        default_factory=list, max_length=50, description="A set: duplicates are dropped."
    )


class Medication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    dose: OptionalNumber = Field(default=None, gt=0, le=1e9)
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    kind: MedicationKind


class EntryIn(BaseModel):
    """A diary entry as a client writes it. Server fields sent back are ignored."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="May repeat the path's id.")
    recorded_at: OffsetDatetime = Field(
        description="When the entry was made, RFC 3339 with offset; ≤ 24 h in the future.",
        examples=["2026-11-20T08:30:00+01:00"],
    )
    local_date: DateSince1900 | None = Field(
        default=None,
        description="The day the entry is about; defaults to the date of `recorded_at` "
        "in its own offset. 1900-01-01 … today+1.",
    )
    pain: Score = Field(description="0 = no pain … 10 = worst imaginable.")
    pain_worst: Score | None = None
    sites: list[PainSite] = Field(default_factory=list, max_length=20)
    sleep_hours: OptionalNumber = Field(default=None, ge=0, le=24, description="The night before.")
    sleep_quality: Score | None = None
    stress: Score | None = None
    mood: Score | None = None
    activity_interference: Score | None = None
    enjoyment_interference: Score | None = None
    medications: list[Medication] = Field(default_factory=list, max_length=20)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    notes: Text2000 | None = None

    @model_validator(mode="before")
    @classmethod
    def _ignore_server_fields(cls, data: Any) -> Any:
        return drop_server_fields(data)


class EntryOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    recorded_at: dt.datetime
    local_date: dt.date
    pain: int
    pain_worst: int | None
    sites: list[PainSite]
    sleep_hours: float | None
    sleep_quality: int | None
    stress: int | None
    mood: int | None
    activity_interference: int | None
    enjoyment_interference: int | None
    medications: list[Medication]
    tags: list[str]
    notes: str | None
    backfilled: bool = Field(description="Received more than 24 h after the end of `local_date`.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
