"""Sharing, links, the clinician's patient list, reports and the access log (contract §7)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypeAliasType

from app.core.fields import WHOLE
from app.courses.schemas import CourseOut
from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut
from app.trends.schemas import CourseSummary
from app.trends.stats import Category

# Named aliases: OpenAPI lists each once, as a component clients turn into a type.
Attention = TypeAliasType("Attention", Literal["worse", "silent", "not_responding"])
PatientSort = TypeAliasType("PatientSort", Literal["name", "attention"])
#: Named, as every enum: swift5 would name an inline one after its property, `Type`, a
#: reserved word.
BundleType = TypeAliasType("BundleType", Literal["collection"])


class ShareCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_hours: Annotated[int, Strict(), Field(ge=1, le=168), WHOLE] = 72


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
    attention: list[Attention] = Field(
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


# --- The FHIR report, as OpenAPI documents it -----------------------------------------------
# The Bundle is written by app/clinicians/fhir.py (streamed by fhir_export.py), not by these
# models: they describe it for generated clients, and the tests hold them to what it writes.
# FHIR leaves out an element that has no value (never null): such fields are optional and
# not nullable in the schema.

#: An element FHIR leaves out when it has no value.
Omitted = SkipJsonSchema[None]
# Named: OpenAPI lists it once, as a component clients turn into a type.
FhirResourceType = TypeAliasType("FhirResourceType", Literal["Patient", "Observation", "Procedure"])


def _no_null_defaults(schema: dict[str, Any]) -> None:
    # An omitted element's Python default (None) is no value of its schema's type.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class FhirElement(BaseModel):
    """FHIR's names are camelCase (``resourceType``, ``fullUrl``)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, json_schema_extra=_no_null_defaults
    )


class FhirCoding(FhirElement):
    system: str
    code: str
    display: str | Omitted = None


class FhirCodeableConcept(FhirElement):
    coding: list[FhirCoding] | Omitted = None
    text: str | Omitted = None


class FhirReference(FhirElement):
    reference: str | Omitted = Field(
        default=None, description="The `fullUrl` of another entry (`urn:uuid:…`)."
    )
    display: str | Omitted = None


class FhirText(FhirElement):
    """A ``HumanName``, an ``Annotation`` (note) or a ``CodeableConcept`` given as text."""

    text: str


class FhirIdentifier(FhirElement):
    system: str
    value: str


class FhirQuantity(FhirElement):
    value: float
    unit: str
    system: str
    code: str


class FhirPerformer(FhirElement):
    actor: FhirReference


class FhirResource(FhirElement):
    """A ``Patient``, an ``Observation`` (one per entry value: pain, sleep duration,
    stress) or a ``Procedure`` (one per session), with the elements the report writes; a
    resource may hold other FHIR elements too."""

    model_config = ConfigDict(extra="allow")

    resource_type: FhirResourceType
    id: str
    name: list[FhirText] | Omitted = Field(default=None, description="Patient.")
    identifier: list[FhirIdentifier] | Omitted = Field(
        default=None, description="Procedure: the session's id."
    )
    status: str | Omitted = Field(
        default=None, description="Observation (`final`), Procedure (`completed`)."
    )
    category: list[FhirCodeableConcept] | Omitted = Field(default=None, description="Observation.")
    code: FhirCodeableConcept | Omitted = Field(
        default=None,
        description="Observation: the LOINC code of the value; Procedure: the modality.",
    )
    subject: FhirReference | Omitted = Field(
        default=None, description="Observation, Procedure: the Patient's entry."
    )
    effective_date_time: dt.datetime | Omitted = Field(
        default=None, description="Observation: when the entry was recorded."
    )
    value_integer: int | Omitted = Field(
        default=None, description="Observation: pain or stress, 0–10."
    )
    value_quantity: FhirQuantity | Omitted = Field(
        default=None, description="Observation: sleep duration in hours."
    )
    performed_date_time: dt.datetime | Omitted = Field(
        default=None, description="Procedure: when the session took place."
    )
    performer: list[FhirPerformer] | Omitted = Field(default=None, description="Procedure.")
    body_site: list[FhirText] | Omitted = Field(
        default=None, description="Procedure: the acupuncture points."
    )
    complication: list[FhirText] | Omitted = Field(
        default=None, description="Procedure: the adverse events."
    )
    note: list[FhirText] | Omitted = Field(
        default=None, description="Observation (pain): the entry's notes; Procedure."
    )


class FhirBundleEntry(FhirElement):
    full_url: str = Field(description="`urn:uuid:` and the resource's id.")
    resource: FhirResource


class FhirBundle(FhirElement):
    """The report as a FHIR R4 ``Bundle`` of type ``collection``: the Patient first, then
    the Observations of the entries and the Procedures of the sessions, in time order."""

    resource_type: Literal["Bundle"]
    id: str
    type: BundleType
    timestamp: dt.datetime
    entry: list[FhirBundleEntry]
