"""The FHIR R4 report bundle, built from hand-made records: no database, no HTTP."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure

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


def build(
    entries: list[EntryOut] | None = None,
    sessions: list[SessionOut] | None = None,
    patient: PatientRecord = PATIENT,
) -> dict[str, Any]:
    return fhir_bundle(patient, entries or [], sessions or [], GENERATED_AT)


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        item["resource"]
        for item in bundle.get("entry", [])
        if item["resource"]["resourceType"] == resource_type
    ]


def observation_id(entry_id: uuid.UUID, code: str) -> str:
    return str(uuid.uuid5(entry_id, f"{LOINC}|{code}"))


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
