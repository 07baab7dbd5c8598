"""Count days since the procedure from what a patient writes.

Understands "today", "yesterday", "day before yesterday", "5 days ago", "a week ago", "last
Tuesday", "on monday", "nov 18", "11/18", "the 18th", "day 5", and durations ("for 5 days",
"since tuesday"). A mention in a sentence about the procedure ("had the test 2 days ago") dates
the procedure; any other mention is how long a symptom has lasted, which is a lower bound on the
days since the procedure (a symptom that started after it cannot be older than it).
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import dateparser

from aftercare.triage.text import fold

Kind = Literal["procedure", "symptom"]

_COUNT_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple": 2, "few": 3,
    "several": 3,
    "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "unos": 3, "unas": 3, "varios": 3,
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "primer": 1, "primero": 1, "segundo": 2, "tercer": 3, "tercero": 3, "cuarto": 4,
    "quinto": 5, "sexto": 6, "septimo": 7, "octavo": 8, "noveno": 9, "decimo": 10,
}
# Abbreviations that are also everyday words ("sat", "sun", "wed", "mon") are left out.
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "weds": 2, "thursday": 3,
    "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sunday": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
}
# Abbreviations that are everyday words count only after a word that makes them a day ("on sat").
_SHORT_WEEKDAYS = {"mon": 0, "wed": 2, "sat": 5, "sun": 6}
# "a whole week", "3 straight days": a word between the count and the unit
_COUNT = rf"(?P<n>\d{{1,2}}|{'|'.join(_COUNT_WORDS)})(?:\s+of)?(?:\s+(?:whole|full|entire|straight|long))?"
_UNIT = r"(?P<unit>days?|weeks?|wks?|dias?|semanas?)"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("day_before_yesterday", re.compile(r"\b(?:day before yesterday|antier|anteayer|antes de ayer)\b")),
    ("yesterday", re.compile(r"\b(?:yesterdays?|yday|last night|ayer|anoche)\b")),
    ("today", re.compile(r"\b(?:today|this morning|this afternoon|earlier today|tonight|hoy|esta manana)\b")),
    ("ago", re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+ago\b")),
    ("ago", re.compile(rf"\bhace\s+(?:como\s+|unos\s+|unas\s+)?{_COUNT}\s+{_UNIT}\b")),
    ("weekend_before_last", re.compile(r"\bweekend before last\b")),
    ("last_weekend", re.compile(r"\b(?:last|this past|past) weekend\b|\bel fin de semana(?: pasado)?\b")),
    # "2 days after the ductogram", "3 days post procedure": dates the procedure when it is named.
    ("after", re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+(?:after|since|post|out from|from)\b")),
    ("last_week", re.compile(r"\blast week\b|\bla semana pasada\b")),
    ("day_n", re.compile(r"\b(?:day|dia)\s+(?P<n>\d{1,2})\b")),
    ("day_n", re.compile(r"\b(?P<n>\d{1,2})(?:st|nd|rd|th|o|a|º|ª)\s+(?:day|dia)\b")),
    ("ordinal_day", re.compile(rf"\b(?P<o>{'|'.join(_ORDINALS)})\s+(?:day|dia)\b|\b(?:day|dia)\s+(?P<o2>{'|'.join(_ORDINALS)})\b")),
    ("since_weekday", re.compile(
        rf"\b(?:since|desde el|desde)\s+(?:last\s+)?(?P<wd>{'|'.join(_WEEKDAYS)}|{'|'.join(_SHORT_WEEKDAYS)})\b")),
    ("weekday", re.compile(rf"\b(?P<last>last\s+|this past\s+|past\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b")),
    ("weekday", re.compile(rf"\b(?:on|last|was|past|el)\s+(?P<wd>{'|'.join(_SHORT_WEEKDAYS)})\b")),
    ("duration", re.compile(rf"\b{_COUNT}\s+{_UNIT}\b")),
    ("date", re.compile(
        r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?\b"
        r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b"
        r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"
        r"|\bthe\s+\d{1,2}(?:st|nd|rd|th)\b"
        r"|\b\d{1,2}\s+de\s+(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\b"
    )),
]
_PROCEDURE_WORDS = re.compile(
    r"\b(?:procedure|ductogram|galactogram|ductagram|ductogr\w*|test|exam|scan|appointment|"
    r"imaging|x ?rays?|mammogram|injection|dye|contrast|had it done|it done|was done|i had it|"
    r"had it|got it done|procedimiento|estudio|ductograma|galactograma|examen|prueba|cita|me lo hicieron|"
    r"me hicieron|me la hicieron)\b"
)
# A "today" in a sentence about the procedure dates it only when the sentence says it was done then
# ("had the test today"), not in "the procedure site is red today".
_DONE_WORDS = re.compile(r"\b(?:had|got|did|was|done|went|tuve|fue|hicieron)\b")
_PROCEDURE_THEN_TODAY = re.compile(_PROCEDURE_WORDS.pattern + r"(?:\s+\w+){0,2}?\s+(?:today|hoy)\b")


@dataclass(frozen=True)
class DayMention:
    """A day the patient mentioned, as a count of days before ``today``."""

    days: int
    kind: Kind
    text: str


def _count(token: str) -> int:
    return int(token) if token.isdigit() else _COUNT_WORDS[token]


def _days_for(name: str, m: re.Match[str], today: date) -> int | None:
    if name == "today":
        return 0
    if name == "yesterday":
        return 1
    if name == "day_before_yesterday":
        return 2
    if name == "last_week":
        return 7
    if name == "last_weekend":
        return (today.weekday() - 5) % 7 or 7  # the Saturday before today
    if name == "weekend_before_last":
        return ((today.weekday() - 5) % 7 or 7) + 7
    if name in ("ago", "after", "duration"):
        n = _count(m.group("n"))
        return n * (7 if m.group("unit").startswith(("w", "sem")) else 1)
    if name == "day_n":
        return int(m.group("n"))
    if name == "ordinal_day":
        return _ORDINALS[m.group("o") or m.group("o2")]
    if name in ("weekday", "since_weekday"):
        back = (today.weekday() - {**_WEEKDAYS, **_SHORT_WEEKDAYS}[m.group("wd")]) % 7
        return back or 7
    if name == "date" and (nth := re.fullmatch(r"the\s+(\d{1,2})(?:st|nd|rd|th)", m.group(0))):
        return _days_since_day_of_month(int(nth.group(1)), today)
    if name == "date":
        parsed = dateparser.parse(
            m.group(0),
            languages=["en", "es"],
            settings={
                "RELATIVE_BASE": datetime.combine(today, datetime.min.time()),
                "PREFER_DATES_FROM": "past",
                "DATE_ORDER": "MDY",
                "PREFER_DAY_OF_MONTH": "first",
            },
        )
        if parsed is None:
            return None
        days = (today - parsed.date()).days
        return days if 0 <= days <= 366 else None
    return None


def _days_since_day_of_month(day: int, today: date) -> int | None:
    """Days since the most recent date with this day of the month ("the 12th"), this month or the last."""
    year, month = today.year, today.month
    for _ in range(2):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate <= today:
            return (today - candidate).days
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


#: What each pattern of _PATTERNS (in order) cannot match without. Each need is a set of words (one of
#: them must be a whole word of the sentence: every pattern has a word boundary or a space on both
#: sides of these) or a pattern to search for. A sentence that lacks a need is not searched for the
#: pattern: looking a word up costs much less than one of the patterns, most of which try a long list
#: of words at every word of the sentence.
_DIGIT = re.compile(r"\d")
_DAY_WORD = frozenset({"day", "dia"})
_UNIT_WORD = frozenset({"day", "days", "week", "weeks", "wk", "wks", "dia", "dias", "semana", "semanas"})
_NEEDS: list[tuple[frozenset[str] | re.Pattern[str], ...]] = [
    (frozenset({"yesterday", "antier", "anteayer", "antes"}),),  # day_before_yesterday
    (frozenset({"yesterday", "yesterdays", "yday", "night", "ayer", "anoche"}),),
    (frozenset({"today", "morning", "afternoon", "tonight", "hoy", "manana"}),),
    (frozenset({"ago"}), _UNIT_WORD),
    (frozenset({"hace"}), _UNIT_WORD),
    (frozenset({"weekend"}),),
    (frozenset({"weekend", "semana"}),),
    (frozenset({"after", "since", "post", "from"}), _UNIT_WORD),
    (frozenset({"week", "semana"}),),
    (_DAY_WORD, _DIGIT),  # day_n: "day 5"
    (_DAY_WORD, _DIGIT),  # day_n: "5th day"
    (_DAY_WORD, frozenset(_ORDINALS)),
    (frozenset({"since", "desde"}),),
    (frozenset(_WEEKDAYS),),
    (frozenset(_SHORT_WEEKDAYS), frozenset({"on", "last", "was", "past", "el"})),
    (_UNIT_WORD,),  # duration
    # date: every form has a month (or the start of its name), "/" or "the", and a number
    (re.compile("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|ene|abr|ago|dic|/|the"), _DIGIT),
]
if len(_NEEDS) != len(_PATTERNS):
    raise AssertionError("days._NEEDS must name what each of _PATTERNS needs")
_WORD = re.compile(r"\w+")
_EVERY_NEED = list(dict.fromkeys(need for needs in _NEEDS for need in needs))
# Each pattern with the indices in _EVERY_NEED of what it needs.
_PLAN = [
    (name, pattern, tuple(_EVERY_NEED.index(need) for need in needs)) for (name, pattern), needs in zip(_PATTERNS, _NEEDS)
]

#: Every pattern above needs one of these in the sentence (a day or unit word, a weekday or month name
#: or its start, "/" or "the" before a number): a sentence without any is not searched.
_MAYBE_A_DAY = re.compile(
    r"day|dia|week|wk|semana|night|morning|afternoon|ayer|anoche|antier|hoy|manana|"
    r"mon|tue|wed|thu|fri|sat|sun|lunes|martes|miercoles|jueves|viernes|sabado|domingo|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|ene|abr|ago|dic|/|the\s+\d"
)


def find_day_mentions(text: str, today: date, *, about_procedure: bool = False) -> list[DayMention]:
    """Every day mention in ``text``; ``about_procedure`` marks them all as the procedure's date."""
    folded = fold(text)
    mentions: list[DayMention] = []
    read: dict[str, list[DayMention]] = {}  # a sentence that comes back is read once
    dates: dict[str, int | None] = {}  # and a date (dateparser takes about a millisecond for one)
    for sentence in re.split(r"[.!?;\n]+(?!\d)", folded):
        found = read.get(sentence)
        if found is None:
            found = read[sentence] = (
                _sentence_mentions(sentence, today, about_procedure, dates) if _MAYBE_A_DAY.search(sentence) else []
            )
        mentions.extend(found)
    return mentions


def _sentence_mentions(
    sentence: str, today: date, about_procedure: bool, dates: dict[str, int | None]
) -> list[DayMention]:
    mentions: list[DayMention] = []
    # The spans already taken, disjoint, by start: a match overlaps one of them if and only if it
    # overlaps the last one that starts before the match ends (a look-up, not a pass over all of them).
    taken_starts: list[int] = []
    taken_ends: list[int] = []
    procedure: bool | None = True if about_procedure else None  # whether the sentence names the procedure
    words = set(_WORD.findall(sentence))
    present = [
        not need.isdisjoint(words) if isinstance(need, frozenset) else need.search(sentence) is not None
        for need in _EVERY_NEED
    ]
    for name, pattern, needs in _PLAN:
        if not all(map(present.__getitem__, needs)):
            continue
        for m in pattern.finditer(sentence):
            before = bisect_left(taken_starts, m.end()) - 1
            if before >= 0 and taken_ends[before] > m.start():
                continue
            if name == "date":
                if m.group(0) not in dates:
                    dates[m.group(0)] = _days_for(name, m, today)
                days = dates[m.group(0)]
            else:
                days = _days_for(name, m, today)
            if days is None or days > 366:
                continue
            at = bisect_left(taken_starts, m.start())
            taken_starts.insert(at, m.start())
            taken_ends.insert(at, m.end())
            is_duration = name in ("duration", "since_weekday")
            if procedure is None:
                procedure = bool(_PROCEDURE_WORDS.search(sentence))
            dates_it = procedure and not is_duration
            if name == "today" and not about_procedure:
                dates_it = dates_it and bool(_DONE_WORDS.search(sentence) or _PROCEDURE_THEN_TODAY.search(sentence))
            kind: Kind = "procedure" if dates_it else "symptom"
            mentions.append(DayMention(days, kind, m.group(0)))
    return mentions


def procedure_date_from(mentions: list[DayMention], today: date) -> date | None:
    """The procedure's date, if a mention dates it (the earliest such mention wins)."""
    days = [m.days for m in mentions if m.kind == "procedure"]
    return today - timedelta(days=max(days)) if days else None


def symptom_days(mentions: list[DayMention]) -> int | None:
    """The longest a symptom has lasted, if said."""
    days = [m.days for m in mentions if m.kind == "symptom"]
    return max(days) if days else None
