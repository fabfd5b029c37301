"""``Accept`` negotiation (RFC 9110 §12.5.1) with the report's two representations and the
headers real clients send."""

from __future__ import annotations

import pytest

from app.core.negotiation import MediaRange, parse_accept, parse_media_type, preferred, weight

JSON = "application/json"
FHIR = "application/fhir+json; fhirVersion=4.0"
OFFERED = (JSON, FHIR)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        # The issue: FHIR explicitly not acceptable, yet a Bundle was sent.
        ("application/fhir+json;q=0, application/json", JSON),
        # Kotlin's generated method lists every type of the operation: a tie is JSON.
        ("application/json, application/fhir+json, application/problem+json", JSON),
        ("application/fhir+json", FHIR),
        ("application/fhir+json, application/json;q=0.9", FHIR),
        ("*/*", JSON),
        ("application/*;q=0.5, application/fhir+json", FHIR),
        ("application/fhir+json; fhirVersion=4.0", FHIR),
        ('application/fhir+json; fhirVersion="4.0", application/json;q=0.5', FHIR),
        ("application/fhir+json; charset=utf-8", FHIR),
        ("application/json; charset=utf-8, application/fhir+json;q=0.999", JSON),
        # A FHIR client (HAPI's default) and a browser.
        ("application/fhir+json;q=1.0, application/json+fhir;q=0.9", FHIR),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        # Case-insensitive types, parameter names and the weight's name.
        ("APPLICATION/FHIR+JSON; FHIRVERSION=4.0; Q=0.7, application/json;q=0.6", FHIR),
        # The most specific range decides: */* cannot lift FHIR's explicit 0.
        ("*/*, application/fhir+json;q=0", JSON),
        ("application/fhir+json;q=0.2, application/*;q=0.9", JSON),
        ("application/fhir+json;fhirversion=4.0;q=0.9, application/fhir+json;q=0.1", FHIR),
        # Element order carries no meaning; equally specific ranges give their highest.
        ("application/fhir+json;q=0.1, application/fhir+json;q=0.8, application/json;q=0.5", FHIR),
        # Empty list elements and whitespace are allowed.
        (" , application/fhir+json ,, ", FHIR),
        # No Accept (or one with no elements) accepts anything.
        (None, JSON),
        ("", JSON),
        (" , ", JSON),
    ],
)
def test_the_preferred_representation(accept: str | None, chosen: str) -> None:
    assert preferred(accept, OFFERED) == chosen


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/problem+json",
        "application/json;q=0, application/fhir+json;q=0",
        "*/*;q=0",
        "application/json;q=0, application/fhir+json;q=0, text/*",
        # We serve FHIR R4 only.
        "application/fhir+json; fhirVersion=3.0",
        "application/fhir+json; fhirVersion=4.0; q=0",
    ],
)
def test_nothing_acceptable(accept: str) -> None:
    assert preferred(accept, OFFERED) is None


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        # A weight that cannot be read (beyond 1, more than 3 decimals, not a number)
        # makes its range weigh 0.
        ("application/fhir+json;q=high, application/json;q=0.1", JSON),
        ("application/fhir+json;q=0.5555, application/json;q=0.1", JSON),
        ("application/fhir+json;q=1.5, application/json;q=0.1", JSON),
        ("application/fhir+json;q=.5, application/json;q=0.1", JSON),
        ("application/fhir+json;q=-1, application/json;q=0.1", JSON),
        ('application/fhir+json;q="1", application/json;q=0.1', JSON),
        # ...and, being specific, overrides a wildcard.
        ("application/fhir+json;q=high, */*", JSON),
        # So does a malformed parameter.
        ("application/fhir+json;fhirVersion, application/json;q=0.1", JSON),
        # A range whose type cannot be read names nothing.
        ("fhir, application/json;q=0.1", JSON),
        ("*/fhir+json, application/json;q=0.1", JSON),
        # Well-formed weights at the edges.
        ("application/fhir+json;q=1.000, application/json;q=0.999", FHIR),
        ("application/fhir+json;q=0.001", FHIR),
    ],
)
def test_what_cannot_be_read_makes_nothing_acceptable(accept: str, chosen: str) -> None:
    assert preferred(accept, OFFERED) == chosen


@pytest.mark.parametrize(
    "accept", ["application/fhir+json;q=high", "json", "application/fhir+json;q=2"]
)
def test_a_header_of_unreadable_ranges_accepts_nothing(accept: str) -> None:
    assert preferred(accept, OFFERED) is None


def test_parse_accept() -> None:
    header = 'Application/FHIR+json; fhirVersion="4.0"; q=0.8, text/*;q=0, */*, bad, ;q=1'
    assert parse_accept(header) == [
        MediaRange("application", "fhir+json", (("fhirversion", "4.0"),), 800),
        MediaRange("text", "*", (), 0),
        MediaRange("*", "*", (), 1000),
    ]


def test_a_quoted_parameter_may_hold_commas_and_semicolons() -> None:
    [only] = parse_accept(r'application/json; profile="a,b;c \"d\""; q=0.3')
    assert only == MediaRange("application", "json", (("profile", 'a,b;c "d"'),), 300)


def test_weight_of_the_most_specific_range() -> None:
    ranges = parse_accept("*/*;q=0.1, application/*;q=0.2, application/json;q=0.3")
    assert weight(ranges, parse_media_type("application/json")) == 300
    assert weight(ranges, parse_media_type("application/xml")) == 200
    assert weight(ranges, parse_media_type("text/csv")) == 100
    assert weight(parse_accept("text/*"), parse_media_type("application/json")) == 0


def test_offers_are_media_types() -> None:
    for bad in ("application/*", "*/*", "json", ""):
        with pytest.raises(ValueError, match="not a media type"):
            parse_media_type(bad)
    assert preferred("*/*", ()) is None
