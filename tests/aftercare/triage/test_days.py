"""Day mentions: how many days ago, and whether they date the procedure or say how long a symptom lasted."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.triage.days import find_day_mentions, procedure_date_from, symptom_days

TODAY = date(2026, 11, 22)  # a Sunday


def test_today_is_a_sunday() -> None:
    assert TODAY.weekday() == 6


def mentions(text: str, about_procedure: bool = False) -> list[tuple[int, str]]:
    return [(m.days, m.kind) for m in find_day_mentions(text, TODAY, about_procedure=about_procedure)]



# (text, about_procedure, expected [(days, kind)])
CASES = [
    ("today", False, [(0, "symptom")]),
    ("yesterday", False, [(1, "symptom")]),
    ("since yesterday", False, [(1, "symptom")]),
    ("day before yesterday", False, [(2, "symptom")]),
    ("the day before yesterday", False, [(2, "symptom")]),
    ("5 days ago", False, [(5, "symptom")]),
    ("two days ago", False, [(2, "symptom")]),
    ("a couple of days ago", False, [(2, "symptom")]),
    ("a few days ago", False, [(3, "symptom")]),
    ("a week ago", False, [(7, "symptom")]),
    ("a whole week ago", False, [(7, "symptom")]),
    ("for 3 straight days", False, [(3, "symptom")]),
    ("it's been a full week since the ductogram", False, [(7, "procedure")]),
    ("2 weeks ago", False, [(14, "symptom")]),
    ("last week", False, [(7, "symptom")]),
    ("last tuesday", False, [(5, "symptom")]),
    ("tuesday", False, [(5, "symptom")]),
    ("last sunday", False, [(7, "symptom")]),
    ("nov 18", False, [(4, "symptom")]),
    ("november 18th", False, [(4, "symptom")]),
    ("18th of november", False, [(4, "symptom")]),
    ("11/18", False, [(4, "symptom")]),
    ("the 18th", False, [(4, "symptom")]),
    ("day 5", False, [(5, "symptom")]),
    ("this is day 5", False, [(5, "symptom")]),
    # durations are how long a symptom lasted
    ("for 5 days", False, [(5, "symptom")]),
    ("for a week", False, [(7, "symptom")]),
    ("for two weeks", False, [(14, "symptom")]),
    ("since thursday", False, [(3, "symptom")]),
    ("since last thursday", False, [(3, "symptom")]),
    ("since monday", False, [(6, "symptom")]),
    # a sentence about the procedure dates the procedure
    ("had my ductogram 6 days ago", False, [(6, "procedure")]),
    ("my procedure was on tuesday", False, [(5, "procedure")]),
    ("my procedure was last tuesday", False, [(5, "procedure")]),
    ("had the procedure last Monday", False, [(6, "procedure")]),
    ("had it done friday", False, [(2, "procedure")]),
    ("my test was nov 18", False, [(4, "procedure")]),
    ("procedure was on 11/18", False, [(4, "procedure")]),
    ("procedure on the 18th", False, [(4, "procedure")]),
    ("the galactogram was yesterday", False, [(1, "procedure")]),
    # the answer to "when was your ductogram?" dates the procedure without the word
    ("3 days ago", True, [(3, "procedure")]),
    ("3 days ago", False, [(3, "symptom")]),
    ("yesterday", True, [(1, "procedure")]),
    ("thursday", True, [(3, "procedure")]),
    ("on thursday", True, [(3, "procedure")]),
    ("nov 18", True, [(4, "procedure")]),
    # two mentions in two sentences
    ("ductogram was friday. bleeding since yesterday", False, [(2, "procedure"), (1, "symptom")]),
    ("it's been bleeding for 3 days and my ductogram was 5 days ago", False, [(5, "procedure"), (3, "symptom")]),
    # nothing to find
    ("my breast is sore", False, []),
    ("5", True, []),
    ("I took 2 tylenol", False, []),
    # "N days since the procedure" says when the procedure was
    ("it's been 6 days since my ductogram", False, [(6, "procedure")]),
    ("i am 5 days post procedure", False, [(5, "procedure")]),
]


@pytest.mark.parametrize(("text", "about_procedure", "expected"), CASES)
def test_find_day_mentions(text: str, about_procedure: bool, expected: list) -> None:
    assert mentions(text, about_procedure) == expected


def test_procedure_date_and_symptom_days() -> None:
    found = find_day_mentions("bleeding for 3 days. my ductogram was 5 days ago", TODAY)
    assert procedure_date_from(found, TODAY) == TODAY - timedelta(days=5)
    assert symptom_days(found) == 3


def test_no_procedure_mention_gives_no_date() -> None:
    found = find_day_mentions("sore for 2 days", TODAY)
    assert procedure_date_from(found, TODAY) is None
    assert symptom_days(found) == 2


def test_earliest_procedure_mention_wins() -> None:
    found = find_day_mentions("procedure 3 days ago. no wait, the procedure was 5 days ago", TODAY)
    assert procedure_date_from(found, TODAY) == TODAY - timedelta(days=5)


def test_longest_symptom_duration_wins() -> None:
    found = find_day_mentions("sore for 2 days. bleeding since thursday", TODAY)
    assert symptom_days(found) == 3


# ----------------------------------------------------------------------------- properties
_SENTENCES = st.sampled_from(
    [
        "I had my procedure {n} days ago",
        "the procedure was {n} days ago",
        "My procedure was done {n} days ago and now it hurts",
        "procedure: {n} days ago.",
    ]
)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=0, max_value=60), template=_SENTENCES)
def test_n_days_ago_in_a_procedure_sentence(n: int, template: str) -> None:
    text = template.format(n=n)
    found = [m for m in find_day_mentions(text, TODAY) if m.kind == "procedure"]
    assert [m.days for m in found] == [n], text
    assert procedure_date_from(found, TODAY) == TODAY - timedelta(days=n)


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=300), about=st.booleans())
def test_any_text_never_raises(text: str, about: bool) -> None:
    for m in find_day_mentions(text, TODAY, about_procedure=about):
        assert 0 <= m.days <= 366
        assert m.kind in ("procedure", "symptom")


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(["day", "days", "ago", "since", "last", "tuesday", "nov", "11/31", "2/30", "the", "31st",
                         "99", "0", "13/45", "yesterday", "procedure", "for", "week", "a", "few", ".", "/"]),
        max_size=12,
    ).map(" ".join),
    about=st.booleans(),
)
def test_date_like_text_never_raises(text: str, about: bool) -> None:
    find_day_mentions(text, TODAY, about_procedure=about)
