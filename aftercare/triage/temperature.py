"""Find body-temperature readings in what a patient writes.

Accepts "101.2", "101,2", "38.5C", "38.5 degrees", "102 F", "100.8°f", and numbers in words through
text2num, as every detector reads them ("a hundred and one", "thirty eight point five", "treinta y
nueve"). A number with a temperature unit is always a reading; a bare number only counts when the
message is about temperature (``context``). Without a unit, the unit is inferred from the value; a
value that is no plausible body temperature in its unit, or a unit we do not know ("kelvin"), is
reported as such so the assistant asks again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz.distance import DamerauLevenshtein

from aftercare.triage.normalise import numbers_to_digits
from aftercare.triage.text import fold

Status = Literal["ok", "implausible", "unknown_unit"]


_F_WORDS = ("fahrenheit", "farenheit", "farenheight", "fahrenheight", "faranheit")
_C_WORDS = ("celsius", "celcius", "celsious", "centigrade", "celsuis")
_UNKNOWN_UNIT_WORDS = ("kelvin", "k", "kelvins")
#: Words after a number that show it is not a temperature ("5 days", "2 pills", "500 mg").
_NOT_TEMPERATURE = frozenset(
    {
        "day", "days", "hour", "hours", "hr", "hrs", "week", "weeks", "month", "months", "year",
        "years", "yrs", "minute", "minutes", "min", "mins", "am", "pm", "mg", "ml", "pills",
        "pill", "tablets", "tablet", "times", "x", "lbs", "lb", "kg", "percent", "th", "st",
        "nd", "rd", "oclock", "of",
    }
)
_MONTHS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december".split()
)
_NUMBER = re.compile(
    r"(?<![\d/.,-])(?<!\d:)(?P<num>\d{1,4}(?:[.,]\d{1,3})?)(?![\d/:])(?!-\d)"
    r"\s*(?P<deg>°|degrees?\b|degs?\b)?\s*(?P<unit>[a-z]+)?"
)
_BARE_NUMBER_RANGE = (25.0, 120.0)


@dataclass(frozen=True)
class Reading:
    """One temperature the patient reported."""

    value: float
    unit: str | None  # "F", "C", or None when no plausible unit could be inferred
    status: Status
    fahrenheit: float | None
    written: str  # the number and unit as we understood them, for the patient and nurses
    unit_written: str = ""

    def describe(self) -> str:
        """'101.2 °F' or '38.5 °C (101.3 °F)'."""
        if self.unit == "C" and self.fahrenheit is not None:
            return f"{_fmt(self.value)} °C ({_fmt_f(self.fahrenheit)} °F)"
        if self.unit == "F":
            return f"{_fmt(self.value)} °F"
        return self.written


def _fmt(value: float) -> str:
    return f"{value:g}"


def _fmt_f(value: float) -> str:
    # Two decimals where one would round onto a threshold-like value (38.06 °C = 100.51 °F).
    one = round(value, 1)
    return f"{value:.2f}" if abs(one - value) >= 0.005 else _fmt(one)


def _unit_of(word: str | None) -> str | None:
    """'F', 'C', 'unknown' or None (the word is no unit)."""
    if not word:
        return None
    if word in ("f", "fh", "fahr", "fahren"):
        return "F"
    if word in ("c", "cel", "cels"):
        return "C"
    if word in _UNKNOWN_UNIT_WORDS:
        return "unknown"
    for known, unit in ((_F_WORDS, "F"), (_C_WORDS, "C")):
        if any(DamerauLevenshtein.distance(word, w) <= 2 for w in known):
            return unit
    return None


def _in(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def find_readings(
    text: str,
    *,
    context: bool,
    plausible_f: tuple[float, float],
    plausible_c: tuple[float, float],
) -> list[Reading]:
    """All temperature readings in ``text``; bare numbers only when ``context`` is true."""
    folded = numbers_to_digits(fold(text))  # text2num, as every detector reads numbers
    readings: list[Reading] = []
    # Apart from the word before it, a reading depends only on what was matched: each distinct match is
    # read once.
    read: dict[tuple[str, tuple[str | None, ...]], Reading | None] = {}
    for m in _NUMBER.finditer(folded):
        key = (m.group(0), m.groups())
        if key in read:
            reading = read[key]
        else:
            reading = read[key] = _reading(m, context, plausible_f, plausible_c)
        if reading is None:
            continue
        start = m.start()
        before = folded[max(0, start - 24): start].split()[-1:] or [""]  # the word before (bounded look-back)
        if before[0] in _MONTHS or before[0] == "day":
            continue
        readings.append(reading)
    return readings


def _reading(
    m: re.Match[str], context: bool, plausible_f: tuple[float, float], plausible_c: tuple[float, float]
) -> Reading | None:
    """The reading of one match of _NUMBER, or None when it is not a temperature (whatever the word
    before it: "may 12", "day 5" are not readings either)."""
    value = float(m.group("num").replace(",", "."))
    unit_word = m.group("unit")
    unit = _unit_of(unit_word)
    has_degree = bool(m.group("deg"))
    if unit is None and unit_word in _NOT_TEMPERATURE and not has_degree:
        return None
    if unit is None and not has_degree:
        # A decimal inside a body-temperature range ("at 2am it was 101.2") is a reading even
        # without the word "fever"; other bare numbers only count when the talk is of temperature.
        decimal = any(ch in m.group("num") for ch in ".,")
        body_like = decimal and (_in(value, plausible_f) or _in(value, plausible_c))
        if not body_like and (not context or not _in(value, _BARE_NUMBER_RANGE)):
            return None
    written = m.group(0).strip() if (unit or has_degree) else m.group("num")
    if unit == "unknown":
        return Reading(value, None, "unknown_unit", None, written, unit_word or "")
    if unit is None:
        unit = "C" if _in(value, plausible_c) else "F" if _in(value, plausible_f) else None
    bounds = plausible_c if unit == "C" else plausible_f
    if unit is None or not _in(value, bounds):
        return Reading(value, unit, "implausible", None, written)
    fahrenheit = value * 9 / 5 + 32 if unit == "C" else value
    return Reading(value, unit, "ok", fahrenheit, written)
