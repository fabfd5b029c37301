"""The FHIR R4 form of a patient report (contract §7, ``Accept: application/fhir+json``).

A pure function over plain records: no database, no request. The resources are built with
the ``fhir.resources`` R4B models (for Bundle, Patient, Observation and Procedure the same
as R4), so whatever they refuse never reaches a client.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure, ProcedurePerformer
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
URI_IDENTIFIER = "urn:ietf:rfc:3986"

#: LOINC code and display of each exported entry value.
PAIN = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
SLEEP_DURATION = ("93832-4", "Sleep duration")
STRESS = ("93038-8", "Stress level")

ACUPUNCTURE = ("44868003", "Acupuncture (procedure)")
#: Modality → the text of the Procedure's code. Only the acupuncture family also gets the
#: SNOMED CT acupuncture concept; dry needling has no code we could verify offline.
MODALITY_TEXT = {
    "acupuncture": "Acupuncture",
    "electroacupuncture": "Electroacupuncture",
    "medical_acupuncture": "Medical acupuncture",
    "dry_needling": "Dry needling",
    "other": "Treatment session (other modality)",
    None: "Treatment session",
}
ACUPUNCTURE_MODALITIES = frozenset({"acupuncture", "electroacupuncture", "medical_acupuncture"})

#: FHIR strings may hold no control character other than tab, line feed and carriage return.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: FHIR dateTime offsets run from -14:00 to +14:00 in whole minutes.
_LARGEST_OFFSET = dt.timedelta(hours=14)


@dataclass(frozen=True)
class PatientRecord:
    id: uuid.UUID
    display_name: str | None
    timezone: str


def fhir_bundle(
    patient: PatientRecord,
    entries: Sequence[EntryOut],
    sessions: Sequence[SessionOut],
    generated_at: dt.datetime,
) -> dict[str, Any]:
    """The report as a FHIR R4 ``Bundle`` of type ``collection``, ready for ``json.dumps``.

    It holds the ``Patient``, one ``Observation`` per value an entry has (pain, sleep_hours,
    stress) and one ``Procedure`` per session, entries and sessions in time order. Every
    resource is addressed by a ``urn:uuid:`` fullUrl and refers to the patient by it.
    Resource ids are derived from the record ids, and the bundle id from the whole input,
    so the same input always gives the same document. Timestamps keep the offset they were
    recorded with (one FHIR cannot express, beyond ±14:00, is written in UTC).

    ``entries`` and ``sessions`` must be this patient's, each id once, with aware
    timestamps; ``generated_at`` must be aware. Otherwise ``ValueError``.
    The patient's ``timezone`` has no place in a FHIR Patient and is not exported.
    """
    timestamp = _fhir_datetime(generated_at)
    _check_records(patient.id, entries, "entry")
    _check_records(patient.id, sessions, "session")

    subject = Reference(reference=_urn(patient.id))
    resources: list[Resource] = [_patient(patient)]
    for entry in sorted(entries, key=lambda e: (_instant(e.recorded_at), e.id)):
        resources.extend(_observations(entry, subject))
    for session in sorted(sessions, key=lambda s: (_instant(s.occurred_at), s.id)):
        resources.append(_procedure(session, subject))

    bundle = Bundle(
        id=str(_bundle_id(patient, entries, sessions, generated_at)),
        type="collection",
        timestamp=timestamp,
        entry=[BundleEntry(fullUrl=f"urn:uuid:{r.id}", resource=r) for r in resources],
    )
    return bundle.model_dump(mode="json", exclude_none=True)


def _check_records(
    patient_id: uuid.UUID, records: Sequence[EntryOut] | Sequence[SessionOut], kind: str
) -> None:
    seen: set[uuid.UUID] = set()
    for record in records:
        # A record of another patient here would leak it into this patient's report.
        if record.patient_id != patient_id:
            raise ValueError(f"{kind} {record.id} belongs to another patient")
        if record.id in seen:
            raise ValueError(f"{kind} {record.id} is given twice")
        seen.add(record.id)


def _urn(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


def _bundle_id(
    patient: PatientRecord,
    entries: Iterable[EntryOut],
    sessions: Iterable[SessionOut],
    generated_at: dt.datetime,
) -> uuid.UUID:
    contents = sorted(
        [f"entry/{e.id}/{e.version}" for e in entries]
        + [f"session/{s.id}/{s.version}" for s in sessions]
    )
    return uuid.uuid5(patient.id, " ".join(["bundle", generated_at.isoformat(), *contents]))


def _offset(value: dt.datetime) -> dt.timedelta:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"timestamp {value.isoformat()} has no UTC offset")
    return offset


def _instant(value: dt.datetime) -> dt.datetime:
    _offset(value)
    return value.astimezone(dt.UTC)


def _fhir_datetime(value: dt.datetime) -> dt.datetime:
    """``value`` itself, or the same instant in UTC when FHIR cannot write its offset."""
    offset = _offset(value)
    if abs(offset) > _LARGEST_OFFSET or offset % dt.timedelta(minutes=1):
        return value.astimezone(dt.UTC)
    return value


def _text(value: str | None) -> str | None:
    """Free text as FHIR allows it (no control characters), or None when nothing is left."""
    if value is None:
        return None
    cleaned = _FORBIDDEN_CONTROL.sub("", value)
    return cleaned if cleaned.strip() else None


def _patient(patient: PatientRecord) -> Patient:
    name = _text(patient.display_name)
    return Patient(
        id=str(patient.id),
        name=[HumanName(text=name)] if name else None,
    )


def _observations(entry: EntryOut, subject: Reference) -> list[Observation]:
    notes = _text(entry.notes)
    observations = [
        _observation(
            entry,
            subject,
            PAIN,
            valueInteger=entry.pain,
            # The entry's own words belong with its one value that is always there.
            note=[Annotation(text=notes)] if notes else None,
        )
    ]
    if entry.sleep_hours is not None:
        hours = Quantity(value=Decimal(str(entry.sleep_hours)), unit="h", system=UCUM, code="h")
        observations.append(_observation(entry, subject, SLEEP_DURATION, valueQuantity=hours))
    if entry.stress is not None:
        observations.append(_observation(entry, subject, STRESS, valueInteger=entry.stress))
    return observations


def _observation(
    entry: EntryOut, subject: Reference, loinc: tuple[str, str], **value: Any
) -> Observation:
    code, display = loinc
    return Observation(
        id=str(uuid.uuid5(entry.id, f"{LOINC}|{code}")),
        status="final",
        category=[
            CodeableConcept(
                coding=[Coding(system=OBSERVATION_CATEGORY, code="survey", display="Survey")]
            )
        ],
        code=CodeableConcept(coding=[Coding(system=LOINC, code=code, display=display)]),
        subject=subject,
        effectiveDateTime=_fhir_datetime(entry.recorded_at),
        **value,
    )


def _procedure(session: SessionOut, subject: Reference) -> Procedure:
    coding = (
        [Coding(system=SNOMED, code=ACUPUNCTURE[0], display=ACUPUNCTURE[1])]
        if session.modality in ACUPUNCTURE_MODALITIES
        else None
    )
    practitioner = _text(session.practitioner)
    notes = [text for text in (_session_summary(session), _text(session.notes)) if text]
    return Procedure(
        id=str(uuid.uuid5(session.id, "Procedure")),
        identifier=[Identifier(system=URI_IDENTIFIER, value=_urn(session.id))],
        status="completed",
        code=CodeableConcept(coding=coding, text=MODALITY_TEXT[session.modality]),
        subject=subject,
        performedDateTime=_fhir_datetime(session.occurred_at),
        performer=(
            [ProcedurePerformer(actor=Reference(display=practitioner))] if practitioner else None
        ),
        bodySite=[CodeableConcept(text=point) for point in session.points] or None,
        complication=[CodeableConcept(text=event) for event in session.adverse_events] or None,
        note=[Annotation(text=text) for text in notes] or None,
    )


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _session_summary(session: SessionOut) -> str | None:
    """The session's measures in one line, e.g. "Pain before: 6/10; pain after: 3/10"."""
    parts = []
    if session.pain_before is not None:
        parts.append(f"pain before: {session.pain_before}/10")
    if session.pain_after is not None:
        parts.append(f"pain after: {session.pain_after}/10")
    if session.duration_minutes is not None:
        parts.append(f"duration: {session.duration_minutes} min")
    if session.electro_frequency_hz is not None:
        parts.append(f"electroacupuncture frequency: {_number(session.electro_frequency_hz)} Hz")
    if session.adverse_events:
        parts.append(f"adverse events: {', '.join(session.adverse_events)}")
    if not parts:
        return None
    summary = "; ".join(parts)
    return summary[0].upper() + summary[1:]
