"""The FHIR R4 form of a patient report (contract §7, ``Accept: application/fhir+json``).

Pure functions over plain records: no database, no request, no models. Each resource is
built as the plain dict ``json.dumps`` writes, with the keys in the order of the FHIR
element definitions (the order the ``fhir.resources`` models dumped them in, when the
service still built the report with them). The tests validate what these functions build
with the ``fhir.resources`` R4B models (for Bundle, Patient, Observation and Procedure the
same as R4) and hold the earlier, model-built version as the oracle of the output.

A record is given as a mapping of its public fields (``EntryOut``/``SessionOut`` as
``model_dump()`` gives them: timestamps aware, in the offset they were recorded with).
:mod:`app.clinicians.fhir_export` streams the Bundle page by page with these functions;
:func:`fhir_bundle` builds the same document in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
_MINUTE = dt.timedelta(minutes=1)
_NO_OFFSET = dt.timedelta(0)

#: What ends the Bundle's JSON text (:func:`bundle_opening`, :func:`more_entries`).
BUNDLE_CLOSING = "]}"
#: The JSON text of the document: compact, UTF-8 as it is (what ``JSONResponse`` wrote).
_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True)
class PatientRecord:
    id: uuid.UUID
    display_name: str | None
    timezone: str


# --- the Bundle ---------------------------------------------------------------------------


def fhir_bundle(
    patient: PatientRecord,
    entries: Sequence[EntryOut],
    sessions: Sequence[SessionOut],
    generated_at: dt.datetime,
    bundle_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The report as a FHIR R4 ``Bundle`` of type ``collection``, ready for ``json.dumps``.

    It holds the ``Patient``, one ``Observation`` per value an entry has (pain, sleep_hours,
    stress) and one ``Procedure`` per session, entries and sessions in time order. Every
    resource is addressed by a ``urn:uuid:`` fullUrl and refers to the patient by it.
    Resource ids are derived from the record ids; the bundle id is ``bundle_id`` or, when
    none is given, derived from the whole input (:func:`content_bundle_id`), so the same
    input always gives the same document. Timestamps keep the offset they were recorded
    with (one FHIR cannot express, beyond ±14:00, is written in UTC).

    ``entries`` and ``sessions`` must be this patient's, each id once, with aware
    timestamps; ``generated_at`` must be aware. Otherwise ``ValueError``.
    The patient's ``timezone`` has no place in a FHIR Patient and is not exported.
    """
    timestamp = fhir_datetime(generated_at)
    _check_records(patient.id, entries, "entry")
    _check_records(patient.id, sessions, "session")
    if bundle_id is None:
        bundle_id = content_bundle_id(patient.id, entries, sessions, generated_at)

    subject = patient_urn(patient.id)
    resources = [patient_resource(patient)]
    for entry in sorted(entries, key=lambda e: (_instant(e.recorded_at), e.id)):
        resources.extend(entry_observations(entry.model_dump(), subject))
    for session in sorted(sessions, key=lambda s: (_instant(s.occurred_at), s.id)):
        resources.append(session_procedure(session.model_dump(), subject))
    return {**bundle_head(bundle_id, timestamp), "entry": bundle_entries(resources)}


def bundle_head(bundle_id: uuid.UUID, timestamp: str) -> dict[str, Any]:
    """The Bundle's own fields, those before ``entry``."""
    return {
        "resourceType": "Bundle",
        "id": str(bundle_id),
        "type": "collection",
        "timestamp": timestamp,
    }


def bundle_entries(resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each resource as a Bundle entry, addressed by the ``urn:uuid:`` of its id."""
    return [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]


def bundle_opening(bundle_id: uuid.UUID, timestamp: str, patient: PatientRecord) -> str:
    """The Bundle's JSON text up to its first entry, the Patient's, inclusive. Then come
    :func:`more_entries` and :data:`BUNDLE_CLOSING`."""
    head = dumps(bundle_head(bundle_id, timestamp))
    first = dumps(bundle_entries([patient_resource(patient)])[0])
    return f'{head[:-1]},"entry":[{first}'


def more_entries(resources: Sequence[dict[str, Any]]) -> str:
    """The JSON text of further Bundle entries, each after a comma."""
    if not resources:
        return ""
    return "," + dumps(bundle_entries(resources))[1:-1]


def dumps(value: Any) -> str:
    """The document's JSON text of ``value``."""
    return _encoder.encode(value)


def export_bundle_id(
    patient_id: uuid.UUID,
    position: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    generated_at: dt.datetime,
) -> uuid.UUID:
    """The id of a Bundle streamed from the database, known before its first record is read.

    A name-based UUID (v5, in the patient's id as namespace) of ``generated_at``, the
    patient's change position and the ``from``/``to`` bounds. The change position moves with
    every write to the patient's entries, courses and sessions (deletions too), so a Bundle
    of other content always has another id; the same inputs give the same id.
    """
    bounds = f"from={date_from or ''} to={date_to or ''}"
    name = f"bundle {generated_at.isoformat()} position={position} {bounds}"
    return uuid.uuid5(patient_id, name)


def content_bundle_id(
    patient_id: uuid.UUID,
    entries: Iterable[EntryOut],
    sessions: Iterable[SessionOut],
    generated_at: dt.datetime,
) -> uuid.UUID:
    """The id of a Bundle of these records: ``generated_at`` and each record's id and
    version, whatever their order."""
    contents = sorted(
        [f"entry/{e.id}/{e.version}" for e in entries]
        + [f"session/{s.id}/{s.version}" for s in sessions]
    )
    return uuid.uuid5(patient_id, " ".join(["bundle", generated_at.isoformat(), *contents]))


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


# --- values -------------------------------------------------------------------------------


def _offset(value: dt.datetime) -> dt.timedelta:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"timestamp {value.isoformat()} has no UTC offset")
    return offset


def _instant(value: dt.datetime) -> dt.datetime:
    _offset(value)
    return value.astimezone(dt.UTC)


def fhir_datetime(value: dt.datetime) -> str:
    """A FHIR ``dateTime``/``instant``: ``value`` in its own offset (``Z`` for UTC,
    microseconds when there are any), or the same instant in UTC when FHIR cannot write
    its offset (beyond ±14:00, or not whole minutes). A naive ``value`` is a ValueError."""
    offset = _offset(value)
    if offset == _NO_OFFSET:
        return f"{value.replace(tzinfo=None).isoformat()}Z"
    if abs(offset) > _LARGEST_OFFSET or offset % _MINUTE:
        return f"{value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()}Z"
    minutes = offset // _MINUTE
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{value.replace(tzinfo=None).isoformat()}{sign}{hours:02d}:{minutes:02d}"


def fhir_text(value: str | None) -> str | None:
    """Free text as FHIR allows it (no control characters), or None when nothing is left."""
    if value is None:
        return None
    cleaned = _FORBIDDEN_CONTROL.sub("", value)
    return cleaned if cleaned.strip() else None


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else str(value)


# --- resources ----------------------------------------------------------------------------


def _urn(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


def patient_urn(patient_id: uuid.UUID) -> str:
    """The patient's fullUrl, which every other resource refers to as its subject."""
    return _urn(patient_id)


def patient_resource(patient: PatientRecord) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": str(patient.id)}
    name = fhir_text(patient.display_name)
    if name:
        resource["name"] = [{"text": name}]
    return resource


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def name_uuid(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, in a third of its time (the ids of a 10-year
    diary's 11,000 resources took a quarter of its Bundle's time)."""
    digest = bytearray(
        hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    )
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _observation_id(entry_id: uuid.UUID, code: str) -> str:
    return name_uuid(entry_id, f"{LOINC}|{code}")


def entry_observations(entry: Mapping[str, Any], subject: str) -> list[dict[str, Any]]:
    """An entry's Observations: pain (with the entry's notes), then sleep duration and
    stress when the entry has them. ``entry`` needs ``id``, ``recorded_at``, ``pain``,
    ``sleep_hours``, ``stress`` and ``notes``; ``subject`` is the :func:`patient_urn`."""
    entry_id = entry["id"]
    effective = fhir_datetime(entry["recorded_at"])
    pain = _observation(entry_id, PAIN, subject, effective)
    pain["valueInteger"] = int(entry["pain"])
    notes = fhir_text(entry["notes"])
    if notes:
        # The entry's own words belong with its one value that is always there.
        pain["note"] = [{"text": notes}]
    observations = [pain]
    sleep_hours = entry["sleep_hours"]
    if sleep_hours is not None:
        sleep = _observation(entry_id, SLEEP_DURATION, subject, effective)
        sleep["valueQuantity"] = {
            "value": float(sleep_hours),
            "unit": "h",
            "system": UCUM,
            "code": "h",
        }
        observations.append(sleep)
    stress_level = entry["stress"]
    if stress_level is not None:
        stress = _observation(entry_id, STRESS, subject, effective)
        stress["valueInteger"] = int(stress_level)
        observations.append(stress)
    return observations


def _observation(
    entry_id: uuid.UUID, loinc: tuple[str, str], subject: str, effective: str
) -> dict[str, Any]:
    code, display = loinc
    return {
        "resourceType": "Observation",
        "id": _observation_id(entry_id, code),
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": {"coding": [_coding(LOINC, code, display)]},
        "subject": {"reference": subject},
        "effectiveDateTime": effective,
    }


def session_procedure(session: Mapping[str, Any], subject: str) -> dict[str, Any]:
    """A session's Procedure. ``session`` needs ``id``, ``occurred_at``, ``modality``,
    ``points``, ``electro_frequency_hz``, ``duration_minutes``, ``pain_before``,
    ``pain_after``, ``adverse_events``, ``practitioner`` and ``notes``."""
    session_id = session["id"]
    modality = session["modality"]
    code: dict[str, Any] = {"text": MODALITY_TEXT[modality]}
    if modality in ACUPUNCTURE_MODALITIES:
        code = {"coding": [_coding(SNOMED, *ACUPUNCTURE)], **code}
    procedure: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": name_uuid(session_id, "Procedure"),
        "identifier": [{"system": URI_IDENTIFIER, "value": _urn(session_id)}],
        "status": "completed",
        "code": code,
        "subject": {"reference": subject},
        "performedDateTime": fhir_datetime(session["occurred_at"]),
    }
    practitioner = fhir_text(session["practitioner"])
    if practitioner:
        procedure["performer"] = [{"actor": {"display": practitioner}}]
    if session["points"]:
        procedure["bodySite"] = [{"text": point} for point in session["points"]]
    if session["adverse_events"]:
        procedure["complication"] = [{"text": event} for event in session["adverse_events"]]
    notes = [text for text in (_session_summary(session), fhir_text(session["notes"])) if text]
    if notes:
        procedure["note"] = [{"text": text} for text in notes]
    return procedure


def _session_summary(session: Mapping[str, Any]) -> str | None:
    """The session's measures in one line, e.g. "Pain before: 6/10; pain after: 3/10"."""
    parts = []
    if session["pain_before"] is not None:
        parts.append(f"pain before: {session['pain_before']}/10")
    if session["pain_after"] is not None:
        parts.append(f"pain after: {session['pain_after']}/10")
    if session["duration_minutes"] is not None:
        parts.append(f"duration: {session['duration_minutes']} min")
    if session["electro_frequency_hz"] is not None:
        hertz = _number(session["electro_frequency_hz"])
        parts.append(f"electroacupuncture frequency: {hertz} Hz")
    if session["adverse_events"]:
        parts.append(f"adverse events: {', '.join(session['adverse_events'])}")
    if not parts:
        return None
    summary = "; ".join(parts)
    return summary[0].upper() + summary[1:]
