"""The FHIR R4 report bundle, built from hand-made records: no database, no HTTP.

Every bundle the tests build is validated with the ``fhir.resources`` R4B models (the
service no longer builds or checks it with them). The model-built builder the service used
until the report was streamed is kept at the end as the oracle: the plain one must write
the same JSON for the same records, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import pytest
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clinicians import fhir
from app.clinicians.fhir import PatientRecord, fhir_bundle
from app.diary.schemas import EntryOut
from app.sessions.schemas import SessionOut

CET = dt.timezone(dt.timedelta(hours=1))
PATIENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
PATIENT = PatientRecord(id=PATIENT_ID, display_name="Ann Example", timezone="Europe/Berlin")
PATIENT_URN = f"urn:uuid:{PATIENT_ID}"
GENERATED_AT = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
SERVER_TIME = dt.datetime(2026, 11, 20, 7, 31, tzinfo=dt.UTC)

LOINC = "http://loinc.org"
PAIN_CODE = {
    "system": LOINC,
    "code": "72514-3",
    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
}
SLEEP_CODE = {"system": LOINC, "code": "93832-4", "display": "Sleep duration"}
STRESS_CODE = {"system": LOINC, "code": "93038-8", "display": "Stress level"}
SURVEY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "survey",
                "display": "Survey",
            }
        ]
    }
]
ACUPUNCTURE_CODING = [
    {"system": "http://snomed.info/sct", "code": "44868003", "display": "Acupuncture (procedure)"}
]
RESOURCE_TYPES: dict[str, Any] = {
    "Patient": Patient,
    "Observation": Observation,
    "Procedure": Procedure,
}


def entry(n: int = 1, **overrides: Any) -> EntryOut:
    recorded_at = overrides.pop("recorded_at", dt.datetime(2026, 11, 20, 8, 30, tzinfo=CET))
    values: dict[str, Any] = {
        "id": uuid.UUID(int=1000 + n),
        "patient_id": PATIENT_ID,
        "recorded_at": recorded_at,
        "local_date": recorded_at.date(),
        "pain": 6,
        "pain_worst": None,
        "sites": [],
        "sleep_hours": None,
        "sleep_quality": None,
        "stress": None,
        "mood": None,
        "activity_interference": None,
        "enjoyment_interference": None,
        "medications": [],
        "tags": [],
        "notes": None,
        "backfilled": False,
        "version": 1,
        "created_at": SERVER_TIME,
        "updated_at": SERVER_TIME,
    } | overrides
    return EntryOut(**values)


def session(n: int = 1, **overrides: Any) -> SessionOut:
    occurred_at = overrides.pop("occurred_at", dt.datetime(2026, 11, 20, 10, 0, tzinfo=CET))
    values: dict[str, Any] = {
        "id": uuid.UUID(int=2000 + n),
        "patient_id": PATIENT_ID,
        "course_id": None,
        "occurred_at": occurred_at,
        "local_date": occurred_at.date(),
        "modality": "acupuncture",
        "points": [],
        "electro_frequency_hz": None,
        "duration_minutes": None,
        "pain_before": None,
        "pain_after": None,
        "adverse_events": [],
        "practitioner": None,
        "notes": None,
        "version": 1,
        "created_at": SERVER_TIME,
        "updated_at": SERVER_TIME,
    } | overrides
    return SessionOut(**values)


def validated(bundle: dict[str, Any]) -> dict[str, Any]:
    """``bundle``, after checking that it parses as an R4B Bundle, each resource as its own
    type, and that the models write it back unchanged (nothing they would add or drop)."""
    parsed = Bundle.model_validate(bundle)
    assert parsed.model_dump(mode="json", exclude_none=True) == bundle
    for item in bundle["entry"]:
        resource = item["resource"]
        model = RESOURCE_TYPES[resource["resourceType"]]
        assert model.model_validate(resource).model_dump(mode="json", exclude_none=True) == resource
    return bundle


def build(
    entries: list[EntryOut] | None = None,
    sessions: list[SessionOut] | None = None,
    patient: PatientRecord = PATIENT,
) -> dict[str, Any]:
    return validated(fhir_bundle(patient, entries or [], sessions or [], GENERATED_AT))


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        item["resource"]
        for item in bundle.get("entry", [])
        if item["resource"]["resourceType"] == resource_type
    ]


def observation_id(entry_id: uuid.UUID, code: str) -> str:
    return str(uuid.uuid5(entry_id, f"{LOINC}|{code}"))


def compact(value: Any) -> str:
    """The JSON text the service sends (what ``JSONResponse`` wrote for the model-built one)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --- the bundle and the patient -----------------------------------------------------------


def test_a_patient_without_records_gives_a_bundle_of_the_patient_alone() -> None:
    bundle = build()

    assert bundle == {
        "resourceType": "Bundle",
        "id": bundle["id"],
        "type": "collection",
        "timestamp": "2026-11-21T09:00:00Z",
        "entry": [
            {
                "fullUrl": PATIENT_URN,
                "resource": {
                    "resourceType": "Patient",
                    "id": str(PATIENT_ID),
                    "name": [{"text": "Ann Example"}],
                },
            }
        ],
    }
    assert uuid.UUID(bundle["id"])
    Bundle.model_validate(bundle)


def test_a_patient_without_a_display_name_has_no_name() -> None:
    patient = PatientRecord(id=PATIENT_ID, display_name=None, timezone="UTC")

    (only,) = build(patient=patient)["entry"]

    assert only["resource"] == {"resourceType": "Patient", "id": str(PATIENT_ID)}


def test_the_timestamp_keeps_the_offset_of_generated_at() -> None:
    generated_at = dt.datetime(2026, 11, 21, 10, 0, 5, tzinfo=CET)

    bundle = fhir_bundle(PATIENT, [], [], generated_at)

    assert bundle["timestamp"] == "2026-11-21T10:00:05+01:00"


# --- observations -------------------------------------------------------------------------


def test_an_entry_with_pain_sleep_and_stress_gives_three_observations() -> None:
    full = entry(pain=6, sleep_hours=7.5, stress=4)

    bundle = build([full])

    observations = resources(bundle, "Observation")
    assert [o["code"]["coding"] for o in observations] == [[PAIN_CODE], [SLEEP_CODE], [STRESS_CODE]]
    pain, sleep, stress = observations
    assert pain == {
        "resourceType": "Observation",
        "id": observation_id(full.id, "72514-3"),
        "status": "final",
        "category": SURVEY,
        "code": {"coding": [PAIN_CODE]},
        "subject": {"reference": PATIENT_URN},
        "effectiveDateTime": "2026-11-20T08:30:00+01:00",
        "valueInteger": 6,
    }
    assert sleep["id"] == observation_id(full.id, "93832-4")
    assert sleep["valueQuantity"] == {
        "value": 7.5,
        "unit": "h",
        "system": "http://unitsofmeasure.org",
        "code": "h",
    }
    assert "valueInteger" not in sleep
    assert stress["id"] == observation_id(full.id, "93038-8")
    assert stress["valueInteger"] == 4
    for observation in observations:
        assert observation["status"] == "final"
        assert observation["category"] == SURVEY
        assert observation["subject"] == {"reference": PATIENT_URN}
        assert observation["effectiveDateTime"] == "2026-11-20T08:30:00+01:00"
    assert len(bundle["entry"]) == 1 + 3


def test_an_entry_with_pain_only_gives_one_observation() -> None:
    bundle = build([entry(pain=3)])

    (pain,) = resources(bundle, "Observation")
    assert pain["code"]["coding"] == [PAIN_CODE]
    assert pain["valueInteger"] == 3
    assert len(bundle["entry"]) == 2


def test_zero_values_are_values() -> None:
    bundle = build([entry(pain=0, sleep_hours=0.0, stress=0)])

    pain, sleep, stress = resources(bundle, "Observation")
    assert pain["valueInteger"] == 0
    assert sleep["valueQuantity"]["value"] == 0.0
    assert stress["valueInteger"] == 0


def test_whole_and_fractional_sleep_hours() -> None:
    bundle = build([entry(1, sleep_hours=8.0), entry(2, sleep_hours=6.25)])

    sleeps = [o for o in resources(bundle, "Observation") if o["code"]["coding"] == [SLEEP_CODE]]
    assert [s["valueQuantity"]["value"] for s in sleeps] == [8.0, 6.25]


@pytest.mark.parametrize(
    ("recorded_at", "expected"),
    [
        (dt.datetime(2026, 11, 20, 8, 30, tzinfo=CET), "2026-11-20T08:30:00+01:00"),
        (
            dt.datetime(2026, 11, 19, 22, 5, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
            "2026-11-19T22:05:00-05:00",
        ),
        (
            dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))),
            "2026-11-20T06:00:00+05:45",
        ),
        (dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC), "2026-11-20T07:00:00Z"),
        (
            dt.datetime(2026, 11, 20, 8, 30, 15, 250000, tzinfo=CET),
            "2026-11-20T08:30:15.250000+01:00",
        ),
        (
            dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=14))),
            "2026-11-20T23:00:00+14:00",
        ),
    ],
)
def test_effective_date_time_keeps_the_entry_offset(
    recorded_at: dt.datetime, expected: str
) -> None:
    made = entry(recorded_at=recorded_at, sleep_hours=7.0, stress=2)

    observations = resources(build([made]), "Observation")

    assert [o["effectiveDateTime"] for o in observations] == [expected] * 3
    # The same text the JSON report sends for the entry.
    assert made.model_dump(mode="json")["recorded_at"] == expected


def test_an_offset_fhir_cannot_write_becomes_utc() -> None:
    # The API takes any whole-minute offset; FHIR's dateTime stops at ±14:00.
    beyond = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=15)))

    (pain,) = resources(build([entry(recorded_at=beyond)]), "Observation")

    assert pain["effectiveDateTime"] == "2026-11-19T17:30:00Z"


def test_entry_notes_go_with_the_pain_observation() -> None:
    bundle = build([entry(notes="Long drive, flare-up", stress=5)])

    pain, stress = resources(bundle, "Observation")
    assert pain["note"] == [{"text": "Long drive, flare-up"}]
    assert "note" not in stress


def test_entries_are_in_time_order_whatever_the_input_order() -> None:
    early = entry(1, recorded_at=dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC))
    # Earlier as an instant, although later on the wall clock.
    earliest = entry(
        2, recorded_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    )
    late = entry(3, recorded_at=dt.datetime(2026, 11, 21, 8, 0, tzinfo=CET))

    forward = build([earliest, early, late])
    backward = build([late, early, earliest])

    assert forward == backward
    assert [o["id"] for o in resources(forward, "Observation")] == [
        observation_id(e.id, "72514-3") for e in (earliest, early, late)
    ]


# --- procedures ---------------------------------------------------------------------------


def test_a_session_gives_a_procedure() -> None:
    made = session(
        modality="electroacupuncture",
        points=["LI4", "GB20", "EX-HN3"],
        electro_frequency_hz=2.0,
        duration_minutes=30,
        pain_before=6,
        pain_after=3,
        adverse_events=["bruising", "soreness"],
        practitioner="Dr. Lee",
        notes="Needles retained 30 min.",
    )

    bundle = build(sessions=[made])

    (procedure,) = resources(bundle, "Procedure")
    assert procedure == {
        "resourceType": "Procedure",
        "id": str(uuid.uuid5(made.id, "Procedure")),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{made.id}"}],
        "status": "completed",
        "code": {"coding": ACUPUNCTURE_CODING, "text": "Electroacupuncture"},
        "subject": {"reference": PATIENT_URN},
        "performedDateTime": "2026-11-20T10:00:00+01:00",
        "performer": [{"actor": {"display": "Dr. Lee"}}],
        "bodySite": [{"text": "LI4"}, {"text": "GB20"}, {"text": "EX-HN3"}],
        "complication": [{"text": "bruising"}, {"text": "soreness"}],
        "note": [
            {
                "text": "Pain before: 6/10; pain after: 3/10; duration: 30 min; "
                "electroacupuncture frequency: 2 Hz; adverse events: bruising, soreness"
            },
            {"text": "Needles retained 30 min."},
        ],
    }
    assert len(bundle["entry"]) == 2


def test_a_bare_session_gives_a_bare_procedure() -> None:
    made = session(modality=None)

    (procedure,) = resources(build(sessions=[made]), "Procedure")

    assert procedure == {
        "resourceType": "Procedure",
        "id": str(uuid.uuid5(made.id, "Procedure")),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{made.id}"}],
        "status": "completed",
        "code": {"text": "Treatment session"},
        "subject": {"reference": PATIENT_URN},
        "performedDateTime": "2026-11-20T10:00:00+01:00",
    }


def test_a_note_with_only_pain_after() -> None:
    (procedure,) = resources(build(sessions=[session(pain_after=2)]), "Procedure")

    assert procedure["note"] == [{"text": "Pain after: 2/10"}]


@pytest.mark.parametrize(
    ("modality", "code"),
    [
        ("acupuncture", {"coding": ACUPUNCTURE_CODING, "text": "Acupuncture"}),
        ("electroacupuncture", {"coding": ACUPUNCTURE_CODING, "text": "Electroacupuncture"}),
        ("medical_acupuncture", {"coding": ACUPUNCTURE_CODING, "text": "Medical acupuncture"}),
        ("dry_needling", {"text": "Dry needling"}),
        ("other", {"text": "Treatment session (other modality)"}),
        (None, {"text": "Treatment session"}),
    ],
)
def test_procedure_code_by_modality(modality: str | None, code: dict[str, Any]) -> None:
    (procedure,) = resources(build(sessions=[session(modality=modality)]), "Procedure")

    assert procedure["code"] == code


def test_sessions_are_in_time_order() -> None:
    later = session(1, occurred_at=dt.datetime(2026, 11, 27, 10, 0, tzinfo=CET))
    sooner = session(2, occurred_at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=CET))

    procedures = resources(build(sessions=[later, sooner]), "Procedure")

    assert [p["identifier"][0]["value"] for p in procedures] == [
        f"urn:uuid:{sooner.id}",
        f"urn:uuid:{later.id}",
    ]


# --- the bundle as a whole ----------------------------------------------------------------


def mixed_records() -> tuple[list[EntryOut], list[SessionOut]]:
    entries = [
        entry(1, pain=7, sleep_hours=5.5, stress=8),
        entry(2, recorded_at=dt.datetime(2026, 11, 21, 21, 0, tzinfo=CET), pain=4),
        entry(3, recorded_at=dt.datetime(2026, 11, 22, 7, 0, tzinfo=CET), pain=5, stress=3),
    ]
    sessions = [
        session(1, points=["LI4"], pain_before=7, pain_after=4, duration_minutes=25),
        session(
            2, modality="dry_needling", occurred_at=dt.datetime(2026, 11, 24, 9, 0, tzinfo=CET)
        ),
    ]
    return entries, sessions


def test_counts_of_a_mixed_bundle() -> None:
    entries, sessions = mixed_records()

    bundle = build(entries, sessions)

    types = [item["resource"]["resourceType"] for item in bundle["entry"]]
    assert types == ["Patient"] + ["Observation"] * 6 + ["Procedure"] * 2


def test_every_reference_resolves_inside_the_bundle() -> None:
    entries, sessions = mixed_records()

    bundle = build(entries, sessions)

    full_urls = [item["fullUrl"] for item in bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    for item in bundle["entry"]:
        assert item["fullUrl"] == f"urn:uuid:{item['resource']['id']}"
        if item["resource"]["resourceType"] != "Patient":
            assert item["resource"]["subject"]["reference"] in full_urls
            assert item["resource"]["subject"]["reference"] == PATIENT_URN


def test_the_result_revalidates_as_a_bundle_and_each_resource_as_its_type() -> None:
    entries, sessions = mixed_records()

    bundle = build(entries, sessions)

    parsed = Bundle.model_validate(bundle)
    assert parsed.model_dump(mode="json", exclude_none=True) == bundle
    for item in bundle["entry"]:
        resource = item["resource"]
        model = RESOURCE_TYPES[resource["resourceType"]]
        reparsed = model.model_validate(resource)
        assert reparsed.model_dump(mode="json", exclude_none=True) == resource
    # JSON-ready as it is.
    assert json.loads(json.dumps(bundle)) == bundle


def test_the_same_input_gives_the_same_document() -> None:
    entries, sessions = mixed_records()

    first = build(entries, sessions)
    again = build(list(reversed(entries)), list(reversed(sessions)))

    assert json.dumps(first) == json.dumps(again)


def test_the_bundle_id_follows_the_content() -> None:
    entries, sessions = mixed_records()
    edited = [entries[0].model_copy(update={"version": 2}), *entries[1:]]

    base = build(entries, sessions)["id"]

    assert build(edited, sessions)["id"] != base
    assert build(entries, sessions[:1])["id"] != base
    later = fhir_bundle(PATIENT, entries, sessions, GENERATED_AT + dt.timedelta(seconds=1))
    assert later["id"] != base


# --- odd text -----------------------------------------------------------------------------


def test_odd_text_is_kept_verbatim() -> None:
    script = "<script>alert('x')</script> & \"quotes\""
    unicode = "Schmerz ↑ nach Fahrt 🚗, 头痛, Ωμέγα\nzweite Zeile"
    patient = PatientRecord(id=PATIENT_ID, display_name="Zoë <b>O'Brien</b>", timezone="UTC")

    bundle = build(
        [entry(notes=script)],
        [session(notes=unicode, practitioner="Dr. Müller <i>")],
        patient=patient,
    )

    (found_patient,) = resources(bundle, "Patient")
    (pain,) = resources(bundle, "Observation")
    (procedure,) = resources(bundle, "Procedure")
    assert found_patient["name"] == [{"text": "Zoë <b>O'Brien</b>"}]
    assert pain["note"] == [{"text": script}]
    assert procedure["note"] == [{"text": unicode}]
    assert procedure["performer"] == [{"actor": {"display": "Dr. Müller <i>"}}]
    # Not escaped for HTML: whoever renders the text escapes it.
    assert "<script>alert('x')</script> &" in json.dumps(bundle, ensure_ascii=False)
    assert json.loads(json.dumps(bundle)) == bundle
    Bundle.model_validate(bundle)


def test_control_characters_fhir_forbids_are_dropped_and_blank_notes_left_out() -> None:
    bundle = build(
        [entry(1, notes="bad\x00 night\x1b\tagain\r\n"), entry(2, notes="   ")],
        [session(notes="")],
    )

    first, second = resources(bundle, "Observation")
    (procedure,) = resources(bundle, "Procedure")
    assert first["note"] == [{"text": "bad night\tagain\r\n"}]
    assert "note" not in second
    assert "note" not in procedure


# --- refused input ------------------------------------------------------------------------


def test_records_of_another_patient_are_refused() -> None:
    stranger = uuid.UUID("00000000-0000-4000-8000-000000000999")

    with pytest.raises(ValueError, match="another patient"):
        build([entry(patient_id=stranger)])
    with pytest.raises(ValueError, match="another patient"):
        build(sessions=[session(patient_id=stranger)])


def test_a_record_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        build([entry(1), entry(1)])


def test_naive_timestamps_are_refused() -> None:
    naive = dt.datetime(2026, 11, 21, 9, 0)

    with pytest.raises(ValueError, match="no UTC offset"):
        fhir_bundle(PATIENT, [], [], naive)
    with pytest.raises(ValueError, match="no UTC offset"):
        build([entry(recorded_at=naive)])


def test_a_fractional_frequency_is_written_as_it_is() -> None:
    made = session(modality="electroacupuncture", electro_frequency_hz=2.5)

    (procedure,) = resources(build(sessions=[made]), "Procedure")

    assert procedure["note"] == [{"text": "Electroacupuncture frequency: 2.5 Hz"}]


# --- the resources one by one -------------------------------------------------------------


def test_each_builder_gives_a_valid_resource_of_its_type() -> None:
    made_entry = entry(notes="ok", sleep_hours=6.5, stress=2).model_dump()
    made_session = session(
        modality="electroacupuncture",
        points=["LI4"],
        electro_frequency_hz=2.5,
        adverse_events=["bruising"],
        practitioner="Dr. Lee",
        notes="fine",
    ).model_dump()

    patient = fhir.patient_resource(PATIENT)
    observations = fhir.entry_observations(made_entry, PATIENT_URN)
    procedure = fhir.session_procedure(made_session, PATIENT_URN)

    assert Patient.model_validate(patient).model_dump(mode="json", exclude_none=True) == patient
    assert len(observations) == 3
    for observation in observations:
        parsed = Observation.model_validate(observation)
        assert parsed.model_dump(mode="json", exclude_none=True) == observation
    parsed_procedure = Procedure.model_validate(procedure)
    assert parsed_procedure.model_dump(mode="json", exclude_none=True) == procedure


def test_resources_share_no_objects() -> None:
    # The builders' dicts are the caller's to change: nothing is shared between them.
    one, two = fhir.entry_observations(entry(sleep_hours=7.0).model_dump(), PATIENT_URN)

    one["subject"]["reference"] = "changed"
    one["category"][0]["coding"][0]["code"] = "changed"

    assert two["subject"] == {"reference": PATIENT_URN}
    assert two["category"] == SURVEY


@settings(max_examples=200, deadline=None)
@given(namespace=st.uuids(), name=st.text())
def test_name_uuid_is_uuid5(namespace: uuid.UUID, name: str) -> None:
    assert fhir.name_uuid(namespace, name) == str(uuid.uuid5(namespace, name))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 11, 20, 8, 30, tzinfo=CET), "2026-11-20T08:30:00+01:00"),
        (dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC), "2026-11-20T08:30:00Z"),
        # An offset of zero that is not `datetime.UTC` (as a stored +00:00 is read back).
        (
            dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.timezone(dt.timedelta(0), "X")),
            "2026-11-20T08:30:00Z",
        ),
        (dt.datetime(2026, 11, 20, 8, 30, 0, 7, tzinfo=CET), "2026-11-20T08:30:00.000007+01:00"),
        (
            dt.datetime(
                2026, 11, 20, 8, 30, tzinfo=dt.timezone(-dt.timedelta(hours=9, minutes=30))
            ),
            "2026-11-20T08:30:00-09:30",
        ),
        (
            dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.timezone(-dt.timedelta(hours=14))),
            "2026-11-20T08:30:00-14:00",
        ),
        (
            dt.datetime(
                2026, 11, 20, 8, 30, tzinfo=dt.timezone(-dt.timedelta(hours=14, minutes=1))
            ),
            "2026-11-20T22:31:00Z",
        ),
        (
            dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=1, seconds=30))),
            "2026-11-20T07:29:30Z",
        ),
        (dt.datetime(1900, 1, 1, 0, 30, tzinfo=CET), "1900-01-01T00:30:00+01:00"),
    ],
)
def test_fhir_datetime(value: dt.datetime, expected: str) -> None:
    assert fhir.fhir_datetime(value) == expected


def test_the_stream_framing_writes_the_bundle_built_in_memory() -> None:
    entries, sessions = mixed_records()
    bundle_id = uuid.UUID("00000000-0000-4000-8000-00000000b0b0")
    bundle = validated(fhir_bundle(PATIENT, entries, sessions, GENERATED_AT, bundle_id))
    observations = [
        o for e in entries for o in fhir.entry_observations(e.model_dump(), PATIENT_URN)
    ]
    procedures = [fhir.session_procedure(s.model_dump(), PATIENT_URN) for s in sessions]

    text = "".join(
        [
            fhir.bundle_opening(bundle_id, fhir.fhir_datetime(GENERATED_AT), PATIENT),
            fhir.more_entries(observations[:2]),
            fhir.more_entries([]),
            fhir.more_entries(observations[2:]),
            fhir.more_entries(procedures),
            fhir.BUNDLE_CLOSING,
        ]
    )

    assert bundle["id"] == str(bundle_id)
    assert text == compact(bundle)


def test_the_export_bundle_id_follows_each_of_its_inputs() -> None:
    Inputs = tuple[uuid.UUID, int, dt.date | None, dt.date | None, dt.datetime]
    jan, jun = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
    base: Inputs = (PATIENT_ID, 41, jan, jun, GENERATED_AT)
    first = fhir.export_bundle_id(*base)

    assert fhir.export_bundle_id(*base) == first
    variants: list[Inputs] = [
        (uuid.UUID(int=7), 41, jan, jun, GENERATED_AT),
        (PATIENT_ID, 42, jan, jun, GENERATED_AT),
        (PATIENT_ID, 41, None, jun, GENERATED_AT),
        (PATIENT_ID, 41, jan, None, GENERATED_AT),
        (PATIENT_ID, 41, None, None, GENERATED_AT),
        (PATIENT_ID, 41, jan, jun, GENERATED_AT + dt.timedelta(microseconds=1)),
        # The same instant in another offset is another generated_at (and timestamp).
        (PATIENT_ID, 41, jan, jun, GENERATED_AT.astimezone(CET)),
        # A bound moved from one end to the other is another document.
        (PATIENT_ID, 41, None, jan, GENERATED_AT),
        (PATIENT_ID, 41, jun, None, GENERATED_AT),
    ]
    ids = {fhir.export_bundle_id(*variant) for variant in variants}
    assert first not in ids
    assert len(ids) == len(variants)


# --- the oracle: the builder the service used until the report was streamed ---------------


def test_the_plain_builder_writes_what_the_model_built_one_wrote() -> None:
    patient, entries, sessions = varied_records()

    plain = build(entries, sessions, patient=patient)

    assert compact(plain) == compact(oracle_bundle(patient, entries, sessions, GENERATED_AT))
    assert len(plain["entry"]) > 40


def test_the_plain_builder_writes_what_the_model_built_one_wrote_for_odd_patients() -> None:
    for name in (None, "", "  ", "\x01\x02", "Zoë\x00 <b>", "\t名前\n"):
        patient = PatientRecord(id=PATIENT_ID, display_name=name, timezone="UTC")
        # generated_at beyond +14:00 too: the timestamp is then written in UTC.
        for generated_at in (
            GENERATED_AT,
            GENERATED_AT.astimezone(dt.timezone(dt.timedelta(hours=15))),
        ):
            plain = validated(fhir_bundle(patient, [], [], generated_at))
            assert compact(plain) == compact(oracle_bundle(patient, [], [], generated_at))


_offsets = st.integers(-24 * 60 + 1, 24 * 60 - 1).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
_instants = st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2199, 12, 30))
_timestamps = st.builds(
    lambda instant, zone: instant.replace(tzinfo=dt.UTC).astimezone(zone), _instants, _offsets
)
_texts = st.none() | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@st.composite
def _entries(draw: st.DrawFn, n: int) -> EntryOut:
    return entry(
        n,
        recorded_at=draw(_timestamps),
        pain=draw(st.integers(0, 10)),
        sleep_hours=draw(st.none() | st.floats(0, 24, allow_nan=False)),
        stress=draw(st.none() | st.integers(0, 10)),
        notes=draw(_texts),
        version=draw(st.integers(1, 3)),
    )


@st.composite
def _sessions(draw: st.DrawFn, n: int) -> SessionOut:
    return session(
        n,
        occurred_at=draw(_timestamps),
        modality=draw(st.sampled_from(list(fhir.MODALITY_TEXT))),
        points=draw(st.lists(st.sampled_from(["LI4", "GB20", "EX-HN3"]), max_size=3, unique=True)),
        electro_frequency_hz=draw(st.none() | st.floats(0.1, 1e6, allow_nan=False)),
        duration_minutes=draw(st.none() | st.integers(1, 600)),
        pain_before=draw(st.none() | st.integers(0, 10)),
        pain_after=draw(st.none() | st.integers(0, 10)),
        adverse_events=draw(
            st.lists(st.sampled_from(["bruising", "soreness", "other"]), max_size=3, unique=True)
        ),
        practitioner=draw(_texts),
        notes=draw(_texts),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), entry_count=st.integers(0, 6), session_count=st.integers(0, 4))
def test_the_plain_builder_matches_the_oracle_on_generated_records(
    data: st.DataObject, entry_count: int, session_count: int
) -> None:
    entries = [data.draw(_entries(n)) for n in range(entry_count)]
    sessions = [data.draw(_sessions(n)) for n in range(session_count)]
    generated_at = data.draw(_timestamps)

    plain = validated(fhir_bundle(PATIENT, entries, sessions, generated_at))

    assert compact(plain) == compact(oracle_bundle(PATIENT, entries, sessions, generated_at))


def varied_records() -> tuple[PatientRecord, list[EntryOut], list[SessionOut]]:
    """Records with every branch of the builders: each kind of value absent, zero, whole and
    fractional; offsets from −14:00 to beyond +14:00, UTC and seconds; equal instants (the
    id decides); notes clean, blank, of control characters, of markup and of other scripts."""
    zones = [
        CET,
        dt.UTC,
        dt.timezone(dt.timedelta(0)),
        dt.timezone(dt.timedelta(hours=5, minutes=45)),
        dt.timezone(-dt.timedelta(hours=14)),
        dt.timezone(dt.timedelta(hours=14)),
        dt.timezone(dt.timedelta(hours=15)),
        dt.timezone(-dt.timedelta(hours=23, minutes=59)),
        dt.timezone(dt.timedelta(minutes=1, seconds=1)),
    ]
    notes = [
        None,
        "",
        "   ",
        "Long drive",
        "bad\x00 night\x1b\tagain\r\n",
        "\x01\x02",
        '<b>&</b> "q"',
        "头痛 🚗\nΩ",
    ]
    sleeps = [None, 0.0, 8.0, 6.25, 1e-05, 23.999999999999996, 0.1 + 0.2, 24.0]
    base = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    entries = []
    for n in range(24):
        instant = base + dt.timedelta(hours=n // 2)  # pairs share an instant
        recorded_at = instant.astimezone(zones[n % len(zones)])
        if n % 5 == 0:
            recorded_at += dt.timedelta(microseconds=n * 1001)
        entries.append(
            entry(
                # Ids out of time order, so that the id breaks the ties by itself.
                (n * 37) % 101,
                recorded_at=recorded_at,
                pain=n % 11,
                sleep_hours=sleeps[n % len(sleeps)],
                stress=None if n % 3 == 0 else n % 11,
                notes=notes[n % len(notes)],
                version=1 + n % 4,
            )
        )
    modalities = list(fhir.MODALITY_TEXT)
    frequencies = [None, 2.0, 2.5, 100.0, 1e-05, 1e16]
    sessions = []
    for k in range(12):
        modality = modalities[k % len(modalities)]
        sessions.append(
            session(
                (k * 7) % 13,
                occurred_at=(base + dt.timedelta(days=k // 2)).astimezone(zones[k % len(zones)]),
                modality=modality,
                points=["LI4", "GB20", "EX-HN3"][: k % 4],
                electro_frequency_hz=frequencies[k % len(frequencies)],
                duration_minutes=None if k % 2 else 15 + k,
                pain_before=None if k % 3 == 1 else k % 11,
                pain_after=None if k % 4 == 2 else (k + 4) % 11,
                adverse_events=["bruising", "soreness", "other"][: k % 3],
                practitioner=[None, "Dr. Lee", "", "\x07", "Dr. Müller <i>"][k % 5],
                notes=notes[k % len(notes)],
            )
        )
    patient = PatientRecord(id=PATIENT_ID, display_name="Zoë\x1f O'Brien", timezone="UTC")
    return patient, list(reversed(entries)), sessions


# The builder of fhir.resources models, as app/clinicians/fhir.py had it.

_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_LARGEST_OFFSET = dt.timedelta(hours=14)


def oracle_bundle(
    patient: PatientRecord,
    entries: Sequence[EntryOut],
    sessions: Sequence[SessionOut],
    generated_at: dt.datetime,
) -> dict[str, Any]:
    timestamp = _oracle_datetime(generated_at)
    subject = Reference(reference=f"urn:uuid:{patient.id}")
    found: list[Resource] = [_oracle_patient(patient)]
    for e in sorted(entries, key=lambda e: (e.recorded_at.astimezone(dt.UTC), e.id)):
        found.extend(_oracle_observations(e, subject))
    for s in sorted(sessions, key=lambda s: (s.occurred_at.astimezone(dt.UTC), s.id)):
        found.append(_oracle_procedure(s, subject))
    bundle = Bundle(
        id=str(_oracle_bundle_id(patient, entries, sessions, generated_at)),
        type="collection",
        timestamp=timestamp,
        entry=[BundleEntry(fullUrl=f"urn:uuid:{r.id}", resource=r) for r in found],
    )
    dumped: dict[str, Any] = bundle.model_dump(mode="json", exclude_none=True)
    return dumped


def _oracle_bundle_id(
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


def _oracle_datetime(value: dt.datetime) -> dt.datetime:
    offset = value.utcoffset()
    assert offset is not None
    if abs(offset) > _LARGEST_OFFSET or offset % dt.timedelta(minutes=1):
        return value.astimezone(dt.UTC)
    return value


def _oracle_text(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = _FORBIDDEN_CONTROL.sub("", value)
    return cleaned if cleaned.strip() else None


def _oracle_patient(patient: PatientRecord) -> Patient:
    name = _oracle_text(patient.display_name)
    return Patient(id=str(patient.id), name=[HumanName(text=name)] if name else None)


def _oracle_observations(e: EntryOut, subject: Reference) -> list[Observation]:
    notes = _oracle_text(e.notes)
    observations = [
        _oracle_observation(
            e,
            subject,
            fhir.PAIN,
            valueInteger=e.pain,
            note=[Annotation(text=notes)] if notes else None,
        )
    ]
    if e.sleep_hours is not None:
        hours = Quantity(value=Decimal(str(e.sleep_hours)), unit="h", system=fhir.UCUM, code="h")
        observations.append(
            _oracle_observation(e, subject, fhir.SLEEP_DURATION, valueQuantity=hours)
        )
    if e.stress is not None:
        observations.append(_oracle_observation(e, subject, fhir.STRESS, valueInteger=e.stress))
    return observations


def _oracle_observation(
    e: EntryOut, subject: Reference, loinc: tuple[str, str], **value: Any
) -> Observation:
    code, display = loinc
    return Observation(
        id=str(uuid.uuid5(e.id, f"{LOINC}|{code}")),
        status="final",
        category=[
            CodeableConcept(
                coding=[Coding(system=fhir.OBSERVATION_CATEGORY, code="survey", display="Survey")]
            )
        ],
        code=CodeableConcept(coding=[Coding(system=LOINC, code=code, display=display)]),
        subject=subject,
        effectiveDateTime=_oracle_datetime(e.recorded_at),
        **value,
    )


def _oracle_procedure(s: SessionOut, subject: Reference) -> Procedure:
    coding = (
        [Coding(system=fhir.SNOMED, code=fhir.ACUPUNCTURE[0], display=fhir.ACUPUNCTURE[1])]
        if s.modality in fhir.ACUPUNCTURE_MODALITIES
        else None
    )
    practitioner = _oracle_text(s.practitioner)
    notes = [text for text in (_oracle_summary(s), _oracle_text(s.notes)) if text]
    return Procedure(
        id=str(uuid.uuid5(s.id, "Procedure")),
        identifier=[Identifier(system=fhir.URI_IDENTIFIER, value=f"urn:uuid:{s.id}")],
        status="completed",
        code=CodeableConcept(coding=coding, text=fhir.MODALITY_TEXT[s.modality]),
        subject=subject,
        performedDateTime=_oracle_datetime(s.occurred_at),
        performer=(
            [ProcedurePerformer(actor=Reference(display=practitioner))] if practitioner else None
        ),
        bodySite=[CodeableConcept(text=point) for point in s.points] or None,
        complication=[CodeableConcept(text=event) for event in s.adverse_events] or None,
        note=[Annotation(text=text) for text in notes] or None,
    )


def _oracle_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _oracle_summary(s: SessionOut) -> str | None:
    parts = []
    if s.pain_before is not None:
        parts.append(f"pain before: {s.pain_before}/10")
    if s.pain_after is not None:
        parts.append(f"pain after: {s.pain_after}/10")
    if s.duration_minutes is not None:
        parts.append(f"duration: {s.duration_minutes} min")
    if s.electro_frequency_hz is not None:
        parts.append(f"electroacupuncture frequency: {_oracle_number(s.electro_frequency_hz)} Hz")
    if s.adverse_events:
        parts.append(f"adverse events: {', '.join(s.adverse_events)}")
    if not parts:
        return None
    summary = "; ".join(parts)
    return summary[0].upper() + summary[1:]
