"""Trend summary responses (contract §6). Every key is always present; floats have 3 decimals."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from app.trends.stats import BaselineMethod, Category, Direction, WarningCode


def round3(value: float) -> float:
    """Rounded to 3 decimals, and never ``-0.0``."""
    rounded = round(value, 3)
    return 0.0 if rounded == 0 else rounded


#: ``round3`` remembered: a summary rounds thousands of floats, mostly the same few day
#: means (k/1, k/2, k/3 of 0–10), and equal floats round alike (0.0 and -0.0 to 0.0).
round3_memo = functools.lru_cache(maxsize=4096)(round3)

#: A float rounded to 3 decimals (when the model is built from the statistics).
R3 = Annotated[float, AfterValidator(round3_memo), Field(description="Rounded to 3 decimals.")]

#: What pain is correlated with (a named alias: one OpenAPI component, like stats' enums).
Factor = TypeAliasType("Factor", Literal["stress", "sleep_hours"])


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DayOut(_Out):
    local_date: dt.date
    pain: R3
    pain_worst: R3
    sleep_hours: R3 | None
    sleep_quality: R3 | None
    stress: R3 | None
    as_needed: bool


class WindowOut(_Out):
    start: dt.date
    end: dt.date
    days_with_data: int
    pain_mean: R3 | None
    pain_worst_mean: R3 | None
    high_pain_days: int
    sleep_hours_mean: R3 | None
    sleep_quality_mean: R3 | None
    stress_mean: R3 | None
    as_needed_days: int


class TrendOut(_Out):
    slope_per_week: R3
    slope_low: R3
    slope_high: R3
    mann_kendall_p: R3
    direction: Direction
    days_with_data: int


class WeekOut(_Out):
    week: int
    start: dt.date
    end: dt.date
    days_with_data: int
    pain_mean: R3 | None
    pain_min: R3 | None
    pain_max: R3 | None
    sleep_hours_mean: R3 | None
    stress_mean: R3 | None


class SessionRelief(_Out):
    number: int
    id: uuid.UUID
    occurred_at: dt.datetime
    local_date: dt.date
    pain_before: int | None
    pain_after: int | None
    relief: int | None


class FactorOut(_Out):
    factor: Factor
    rho: R3 | None
    p_value: R3 | None
    n: int


class TagEffectOut(_Out):
    tag: str
    days_with: int
    days_without: int
    pain_with: R3
    pain_without: R3
    difference: R3


class CourseSummary(BaseModel):
    course_id: uuid.UUID
    as_of: dt.date
    daily: list[DayOut]
    baseline_method: BaselineMethod | None
    baseline: WindowOut | None
    current: WindowOut | None
    end_of_course: WindowOut | None
    follow_up: WindowOut | None
    reduction_points: R3 | None
    reduction_pct: R3 | None
    category: Category | None
    responder: bool | None
    follow_up_reduction_pct: R3 | None
    sustained: bool | None
    trend: TrendOut | None
    weekly: list[WeekOut]
    sessions: list[SessionRelief]
    sessions_completed: int
    planned_sessions: int | None
    mean_relief: R3 | None
    time_to_response_days: int | None
    adherence_pct: R3 | None
    factors: list[FactorOut]
    tag_effects: list[TagEffectOut]
    warnings: list[WarningCode]


class PatientSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: dt.date = Field(alias="from")
    to: dt.date
    daily: list[DayOut]
    weekly: list[WeekOut]
    trend: TrendOut | None
    factors: list[FactorOut]
    tag_effects: list[TagEffectOut]
    warnings: list[WarningCode]
