"""Acupuncture point codes of the WHO Standard Acupuncture Point Locations (2008).

361 points on the 14 meridians plus 48 extra points. Codes are stored in their normalised
form ("LI4", "EX-HN3"); input tolerates case, spaces and a hyphen, and common aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Meridian code → (name, number of points).
MERIDIANS: dict[str, tuple[str, int]] = {
    "LU": ("Lung", 11),
    "LI": ("Large Intestine", 20),
    "ST": ("Stomach", 45),
    "SP": ("Spleen", 21),
    "HT": ("Heart", 9),
    "SI": ("Small Intestine", 19),
    "BL": ("Bladder", 67),
    "KI": ("Kidney", 27),
    "PC": ("Pericardium", 9),
    "TE": ("Triple Energizer", 23),
    "GB": ("Gallbladder", 44),
    "LR": ("Liver", 14),
    "GV": ("Governor Vessel", 28),
    "CV": ("Conception Vessel", 24),
}

#: Extra point region → (name, number of points).
EXTRA_REGIONS: dict[str, tuple[str, int]] = {
    "HN": ("Extra points of head and neck", 15),
    "CA": ("Extra points of chest and abdomen", 1),
    "B": ("Extra points of back", 9),
    "UE": ("Extra points of upper extremities", 11),
    "LE": ("Extra points of lower extremities", 12),
}

ALIASES = {"SJ": "TE", "TW": "TE", "LIV": "LR", "DU": "GV", "REN": "CV", "UB": "BL"}


@dataclass(frozen=True, slots=True)
class Acupoint:
    code: str
    meridian: str  # the meridian code ("LI") or "EX-HN" for extra points
    meridian_name: str
    number: int


def _all_points() -> dict[str, Acupoint]:
    points: dict[str, Acupoint] = {}
    for code, (name, count) in MERIDIANS.items():
        for n in range(1, count + 1):
            points[f"{code}{n}"] = Acupoint(f"{code}{n}", code, name, n)
    for region, (name, count) in EXTRA_REGIONS.items():
        for n in range(1, count + 1):
            code = f"EX-{region}{n}"
            points[code] = Acupoint(code, f"EX-{region}", name, n)
    return points


POINTS: dict[str, Acupoint] = _all_points()

_MERIDIAN_FORM = re.compile(r"^([A-Z]+)0*([1-9][0-9]*)$")
_EXTRA_FORM = re.compile(r"^EX(HN|CA|B|UE|LE)0*([1-9][0-9]*)$")


def normalise_point(raw: str) -> str | None:
    """The standard code for ``raw`` ("li 4", "LI-4", "sj5" → "LI4", "LI4", "TE5"), or None."""
    compact = re.sub(r"[\s\-_.]", "", raw.upper())
    extra = _EXTRA_FORM.match(compact)
    if extra:
        code = f"EX-{extra.group(1)}{int(extra.group(2))}"
        return code if code in POINTS else None
    plain = _MERIDIAN_FORM.match(compact)
    if not plain:
        return None
    meridian = ALIASES.get(plain.group(1), plain.group(1))
    code = f"{meridian}{int(plain.group(2))}"
    return code if code in POINTS else None
