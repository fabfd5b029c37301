"""The summaries as their response models: ``summaries.py`` builds plain JSON data, and the
models that document it in OpenAPI validate it here, so a test reads it by attribute and a
missing key fails. ``test_the_plain_data_is_what_the_models_render`` holds the data equal
to what the models would render."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from app.trends import summaries
from app.trends.schemas import CourseSummary, PatientSummary
from app.trends.stats import Day


def course_summary_model(
    course: summaries.CourseFacts,
    daily: Iterable[Day],
    sessions: Iterable[summaries.SessionFacts],
    as_of: dt.date,
) -> CourseSummary:
    return CourseSummary.model_validate(summaries.course_summary(course, daily, sessions, as_of))


def patient_summary_model(
    daily: Iterable[Day], date_from: dt.date, date_to: dt.date
) -> PatientSummary:
    return PatientSummary.model_validate(summaries.patient_summary(daily, date_from, date_to))
