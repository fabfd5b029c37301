"""The WHO 2008 acupuncture point codes (contract §4): the table, normalisation, the endpoint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.sessions.acupoints import POINTS, normalise_point

#: Points per meridian and per extra-point region, copied from the contract (§4), not the code.
MERIDIAN_COUNTS = {
    "LU": 11, "LI": 20, "ST": 45, "SP": 21, "HT": 9, "SI": 19, "BL": 67,
    "KI": 27, "PC": 9, "TE": 23, "GB": 44, "LR": 14, "GV": 28, "CV": 24,
}  # fmt: skip
EXTRA_COUNTS = {"EX-HN": 15, "EX-CA": 1, "EX-B": 9, "EX-UE": 11, "EX-LE": 12}
GROUP_COUNTS = MERIDIAN_COUNTS | EXTRA_COUNTS
EXPECTED_CODES = {
    f"{group}{n}" for group, count in GROUP_COUNTS.items() for n in range(1, count + 1)
}


def test_the_contract_counts_add_up_to_the_who_standard() -> None:
    assert sum(MERIDIAN_COUNTS.values()) == 361
    assert sum(EXTRA_COUNTS.values()) == 48
    assert len(EXPECTED_CODES) == 409


def test_points_hold_exactly_the_409_standard_codes() -> None:
    assert len(POINTS) == 409
    assert set(POINTS) == EXPECTED_CODES
    assert sum(1 for p in POINTS.values() if not p.meridian.startswith("EX-")) == 361
    assert sum(1 for p in POINTS.values() if p.meridian.startswith("EX-")) == 48


@pytest.mark.parametrize(("group", "count"), GROUP_COUNTS.items())
def test_points_per_meridian(group: str, count: int) -> None:
    members = sorted(p.number for p in POINTS.values() if p.meridian == group)
    assert members == list(range(1, count + 1))
    first, last = POINTS[f"{group}1"], POINTS[f"{group}{count}"]
    assert (first.code, first.meridian, first.number) == (f"{group}1", group, 1)
    assert (last.code, last.meridian, last.number) == (f"{group}{count}", group, count)
    assert f"{group}{count + 1}" not in POINTS
    assert f"{group}0" not in POINTS


@pytest.mark.parametrize(("group", "count"), GROUP_COUNTS.items())
def test_normalise_accepts_first_and_last_and_refuses_beyond(group: str, count: int) -> None:
    assert normalise_point(f"{group}1") == f"{group}1"
    assert normalise_point(f"{group}{count}") == f"{group}{count}"
    assert normalise_point(f"{group}{count + 1}") is None
    assert normalise_point(f"{group}0") is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("LU11", "LU11"),
        ("li 4", "LI4"),
        ("LI-4", "LI4"),
        ("Li4", "LI4"),
        ("  li4  ", "LI4"),
        ("st36", "ST36"),
        ("ST 36", "ST36"),
        ("gb-20", "GB20"),
        ("sj5", "TE5"),
        ("SJ-5", "TE5"),
        ("tw5", "TE5"),
        ("te23", "TE23"),
        ("liv3", "LR3"),
        ("LIV 14", "LR14"),
        ("lr3", "LR3"),
        ("du20", "GV20"),
        ("DU 28", "GV28"),
        ("ren12", "CV12"),
        ("REN-24", "CV24"),
        ("ub40", "BL40"),
        ("UB 67", "BL67"),
        ("ex-hn3", "EX-HN3"),
        ("EX HN 3", "EX-HN3"),
        ("EXHN3", "EX-HN3"),
        ("ex-hn15", "EX-HN15"),
        ("EX-CA1", "EX-CA1"),
        ("ex b 9", "EX-B9"),
        ("EX-UE11", "EX-UE11"),
        ("ex-le 12", "EX-LE12"),
    ],
)
def test_normalise_point_spellings_and_aliases(raw: str, code: str) -> None:
    assert normalise_point(raw) == code


@pytest.mark.parametrize(
    "raw",
    [
        "LU12",  # Lung has 11 points
        "LU0",
        "LI21",
        "BL68",
        "KI28",
        "GV29",
        "CV25",
        "SJ24",  # alias of TE, which has 23
        "LIV15",  # alias of LR, which has 14
        "DU29",
        "REN25",
        "UB68",
        "EX-CA2",
        "EX-HN16",
        "EX-B10",
        "EX-UE12",
        "EX-LE13",
        "EX-HN0",
        "EX-XX1",
        "XX1",
        "LI",
        "4",
        "",
        "LI4a",
        "LI-4-5",
    ],
)
def test_normalise_point_refuses_unknown_codes(raw: str) -> None:
    assert normalise_point(raw) is None


def test_acupoints_endpoint_lists_every_code_without_sign_in(client: TestClient) -> None:
    response = client.get("/v1/reference/acupoints")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("public")
    assert "no-store" not in cache_control
    items = response.json()["items"]
    assert len(items) == 409
    codes = [item["code"] for item in items]
    assert len(set(codes)) == 409
    assert set(codes) == EXPECTED_CODES
    by_code = {item["code"]: item for item in items}
    assert by_code["LI4"]["meridian"] == "LI"
    assert by_code["LI4"]["number"] == 4
    assert by_code["TE5"]["meridian"] == "TE"
    assert by_code["EX-HN3"]["meridian"] == "EX-HN"
    assert by_code["EX-HN3"]["number"] == 3
    per_group: dict[str, int] = {}
    for item in items:
        assert isinstance(item["meridian_name"], str) and item["meridian_name"]
        assert item["code"] == f"{item['meridian']}{item['number']}"
        per_group[item["meridian"]] = per_group.get(item["meridian"], 0) + 1
    assert per_group == GROUP_COUNTS


def test_acupoints_endpoint_lists_the_aliases(client: TestClient) -> None:
    aliases = client.get("/v1/reference/acupoints").json()["aliases"]
    for alias, meridian in {"SJ": "TE", "LIV": "LR", "DU": "GV", "REN": "CV", "UB": "BL"}.items():
        assert aliases[alias] == meridian
