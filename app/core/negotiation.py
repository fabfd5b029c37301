"""Proactive content negotiation on ``Accept`` (RFC 9110 §12.5.1): which of the media types
a route offers the client prefers. Pure functions over header text: no request, no app.

How a header is read, where the RFC leaves the choice to the server:

* Types, subtypes and parameter names are case-insensitive, and so are parameter values
  (the parameters an offer declares, ``charset`` or FHIR's ``fhirVersion``, are).
* Each offered type takes the weight of the most specific range that matches it:
  ``type/subtype`` with parameters, then ``type/subtype``, then ``type/*``, then ``*/*``.
  Among equally specific ranges the highest weight counts, so the order of the header's
  elements (which carries no meaning) never changes the answer.
* A range's parameter counts only if the offer declares that parameter: then the values
  must be equal (``application/fhir+json; fhirVersion=3.0`` does not match an offer of
  FHIR R4); other parameters (``charset=utf-8`` on JSON) neither match nor prevent a match.
* A range we cannot read makes nothing acceptable: a malformed weight (anything but
  ``0``–``1`` with at most three decimals, e.g. ``q=high`` or ``q=0.5555``) or a malformed
  parameter gives the range weight 0, which still overrides less specific ranges; a range
  whose type cannot be read (``json``, ``*/json``) names nothing and is dropped.
* No ``Accept`` field, or one with no elements at all, accepts anything (RFC 9110: "a
  request without any Accept header field implies that the user agent will accept any
  media type").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: RFC 9110 §5.6.2 token characters.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: RFC 9110 §12.4.2 qvalue, read as thousandths.
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
_FULL = 1000


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One element of ``Accept``: ``type/subtype`` (either may be ``*``), lower-case, its
    parameters (names and values lower-case, without ``q``) and its weight in thousandths
    (0–1000; 0 means "not acceptable")."""

    type: str
    subtype: str
    parameters: tuple[tuple[str, str], ...] = ()
    weight: int = _FULL

    def matches(self, offer: MediaRange) -> bool:
        """Whether this range names ``offer`` (a concrete type with its parameters)."""
        if self.type != "*" and self.type != offer.type:
            return False
        if self.subtype != "*" and self.subtype != offer.subtype:
            return False
        declared = dict(offer.parameters)
        # A parameter the offer does not declare cannot tell the range and the offer apart.
        return all(declared.get(name, value) == value for name, value in self.parameters)

    @property
    def specificity(self) -> tuple[bool, bool, int]:
        """Orders ranges from ``*/*`` up to ``type/subtype`` with the most parameters."""
        return (self.type != "*", self.subtype != "*", len(self.parameters))


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an ``Accept`` field value, in the order given; see the module's
    docstring for what is made of elements that cannot be read."""
    ranges = []
    for element in _split(header, ","):
        media_range = _parse_range(element)
        if media_range is not None:
            ranges.append(media_range)
    return ranges


def parse_media_type(text: str) -> MediaRange:
    """An offered media type such as ``application/fhir+json; fhirVersion=4.0``; a type
    that cannot be read (or a wildcard) is a ValueError."""
    media_type = _parse_range(text)
    if media_type is None or "*" in (media_type.type, media_type.subtype):
        raise ValueError(f"not a media type: {text!r}")
    return media_type


def weight(ranges: Sequence[MediaRange], offer: MediaRange) -> int:
    """The weight (thousandths) ``ranges`` give ``offer``: that of the most specific range
    matching it, the highest among equally specific ones; 0 when none matches."""
    matching = [r for r in ranges if r.matches(offer)]
    if not matching:
        return 0
    best = max(r.specificity for r in matching)
    return max(r.weight for r in matching if r.specificity == best)


def preferred(accept: str | None, offered: Sequence[str]) -> str | None:
    """Which of ``offered`` (media types, the server's favourite first) to answer with for
    the ``Accept`` field value ``accept`` (None when the request has none; several fields
    joined with ``", "``): the one of highest weight, the earlier one on a tie. None when
    the client accepts none of them (a ``406``)."""
    if not offered:
        return None
    if accept is None or not accept.replace(",", "").strip():
        return offered[0]
    ranges = parse_accept(accept)
    weights = [weight(ranges, parse_media_type(offer)) for offer in offered]
    best = max(weights)
    return offered[weights.index(best)] if best > 0 else None


def _parse_range(element: str) -> MediaRange | None:
    media_type, *parameters = _split(element, ";") or [""]
    kind, slash, subtype = media_type.partition("/")
    kind, subtype = kind.strip().lower(), subtype.strip().lower()
    if not (slash and _TOKEN.match(kind) and _TOKEN.match(subtype)):
        return None
    if kind == "*" and subtype != "*":
        return None
    readable = True
    quality = _FULL
    named: list[tuple[str, str]] = []
    for parameter in parameters:
        name, equals, value = parameter.partition("=")
        name, value = name.strip().lower(), value.strip()
        if name == "q":
            if _QVALUE.match(value):
                quality = round(float(value) * _FULL)
            else:
                readable = False
        elif equals and _TOKEN.match(name) and (parsed := _parameter_value(value)) is not None:
            named.append((name, parsed.lower()))
        else:
            readable = False
    return MediaRange(kind, subtype, tuple(named), quality if readable else 0)


def _parameter_value(value: str) -> str | None:
    """A token, or a quoted string without its quotes and escapes; None for neither."""
    if _TOKEN.match(value):
        return value
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return None


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside quoted strings, each part stripped, empty
    parts (which list syntax allows) left out."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]
