"""Temperature readings: units, number words, implausible values, and numbers that are not temperatures."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftercare.triage.temperature import find_readings

PLAUSIBLE_F = (90.0, 110.0)
PLAUSIBLE_C = (32.0, 43.0)


def readings(text: str, context: bool) -> list[tuple[str, str | None, float | None]]:
    found = find_readings(text, context=context, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
    return [(r.status, r.unit, None if r.fahrenheit is None else round(r.fahrenheit, 2)) for r in found]



# (text, context, expected [(status, unit, fahrenheit rounded to 2 dp)])
CASES = [
    # --- plain Fahrenheit and Celsius, with and without context
    ("101.2", True, [("ok", "F", 101.2)]),
    ("101,2", True, [("ok", "F", 101.2)]),
    ("it is 101,2 today", True, [("ok", "F", 101.2)]),
    ("38.5C", False, [("ok", "C", 101.3)]),
    ("38.5C", True, [("ok", "C", 101.3)]),
    ("38,5 C", False, [("ok", "C", 101.3)]),
    ("38.5°C", False, [("ok", "C", 101.3)]),
    ("38.5 degrees", False, [("ok", "C", 101.3)]),
    ("38.5 degrees celsius", False, [("ok", "C", 101.3)]),
    ("38.5 deg c", False, [("ok", "C", 101.3)]),
    ("102 F", False, [("ok", "F", 102.0)]),
    ("100.8°f", False, [("ok", "F", 100.8)]),
    ("104°F", False, [("ok", "F", 104.0)]),
    ("100.8F", False, [("ok", "F", 100.8)]),
    ("101.2 F.", False, [("ok", "F", 101.2)]),
    ("101.2 degrees f", False, [("ok", "F", 101.2)]),
    ("101.2 fahrenheit", False, [("ok", "F", 101.2)]),
    ("temp 101.4 farenheit", False, [("ok", "F", 101.4)]),
    ("temp is 97.8 degrees fahrenheit", False, [("ok", "F", 97.8)]),
    ("39 celcius", False, [("ok", "C", 102.2)]),
    ("37 c", False, [("ok", "C", 98.6)]),
    ("temp=38.5c", False, [("ok", "C", 101.3)]),
    ("38.06 C", False, [("ok", "C", 100.51)]),
    ("38.05 C", False, [("ok", "C", 100.49)]),
    # --- bare numbers in a temperature context: the unit is inferred from the value
    ("temp 99", True, [("ok", "F", 99.0)]),
    ("39.5", True, [("ok", "C", 103.1)]),
    ("fever of 101", True, [("ok", "F", 101.0)]),
    ("my temperature was 38.2 and i took 2 tylenol", True, [("ok", "C", 100.76)]),
    ("temp 101 at 3pm", True, [("ok", "F", 101.0)]),
    ("temp 101.2 on day 5", True, [("ok", "F", 101.2)]),
    ("it was 101 and now 100", True, [("ok", "F", 101.0), ("ok", "F", 100.0)]),
    ("temp 99F, 101F later", False, [("ok", "F", 99.0), ("ok", "F", 101.0)]),
    # --- number words
    ("a hundred and one", True, [("ok", "F", 101.0)]),
    ("one hundred and one", True, [("ok", "F", 101.0)]),
    ("hundred and one", True, [("ok", "F", 101.0)]),
    ("a hundred and two point four", True, [("ok", "F", 102.4)]),
    ("ninety nine point five", True, [("ok", "F", 99.5)]),
    ("ninety eight point six", True, [("ok", "F", 98.6)]),
    ("thirty eight point five", True, [("ok", "C", 101.3)]),
    ("thirty-eight point five", True, [("ok", "C", 101.3)]),
    ("one hundred point six", True, [("ok", "F", 100.6)]),
    pytest.param("forty point one", True, [("ok", "C", 104.18)], id="words-40.1"),
    # --- implausible and unknown units: reported, never dropped or converted
    ("120", True, [("implausible", None, None)]),
    ("25 C", False, [("implausible", "C", None)]),
    ("25 C", True, [("implausible", "C", None)]),
    ("my temp is 115 F", False, [("implausible", "F", None)]),
    ("38 kelvin", False, [("unknown_unit", None, None)]),
    ("310 K", False, [("unknown_unit", None, None)]),
    # --- numbers that are not temperatures
    ("fever for 3 days", True, []),
    ("fever for 35 hours", True, []),
    ("took 2 tylenol", True, []),
    ("500 mg", True, []),
    ("i took 2 tylenol 500 mg", True, []),
    ("nov 30", True, []),
    ("fever since nov 30", True, []),
    ("fever on the 30th", True, []),
    ("fever since 11/18", True, []),
    ("i'm 38 years old", True, []),
    # --- bare whole numbers without a temperature context are ignored ...
    ("a hundred and one", False, []),
    ("120", False, []),
    ("i walked 100 steps", False, []),
    ("i'm 101 today", False, []),
    # ... but a decimal inside a body-temperature range is a reading ("at 2am it was 101.2")
    ("101.2", False, [("ok", "F", 101.2)]),
    ("101,2", False, [("ok", "F", 101.2)]),
    ("thirty eight point five", False, [("ok", "C", 101.3)]),
    ("39.5", False, [("ok", "C", 103.1)]),
    ("at 2am it was 101.2 and i took tylenol", False, [("ok", "F", 101.2)]),
    ("took 2.5 tablets", False, []),
    ("150.5", False, []),
    # --- a reading with a unit the engine does not recognise as written must not vanish
    pytest.param("temp:101.2", True, [("ok", "F", 101.2)], id="colon-no-space"),
    pytest.param("38.5 ºC", False, [("ok", "C", 101.3)], id="ordinal-degree-C"),
    pytest.param("100.8 ºF", True, [("ok", "F", 100.8)], id="ordinal-degree-F"),
]


@pytest.mark.parametrize(("text", "context", "expected"), CASES)
def test_find_readings(text: str, context: bool, expected: list) -> None:
    assert readings(text, context) == expected


def test_reading_describes_celsius_with_fahrenheit() -> None:
    (r,) = find_readings("38.06 C", context=False, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
    assert "38.06" in r.describe() and "100.51" in r.describe()


def test_unknown_unit_keeps_the_unit_written() -> None:
    (r,) = find_readings("38 kelvin", context=False, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
    assert r.unit_written == "kelvin"


# ----------------------------------------------------------------------------- properties
_F_TENTHS = st.integers(min_value=900, max_value=1100)
_C_TENTHS = st.integers(min_value=320, max_value=430)
_F_UNITS = st.sampled_from([" F", "F", "°F", " °F", " degrees F", " fahrenheit"])
_C_UNITS = st.sampled_from([" C", "C", "°C", " °C", " degrees C", " celsius"])
_CONTEXTS = st.sampled_from(["{t}", "my temperature is {t}", "it was {t} this morning", "Temp {t}.", "fever {t} and chills"])


@settings(max_examples=300, deadline=None)
@given(tenths=_F_TENTHS, unit=_F_UNITS, template=_CONTEXTS, context=st.booleans())
def test_any_plausible_fahrenheit_is_read_exactly(tenths: int, unit: str, template: str, context: bool) -> None:
    value = tenths / 10
    text = template.format(t=f"{value:.1f}{unit}")
    found = find_readings(text, context=context, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
    assert len(found) == 1, text
    assert found[0].status == "ok"
    assert found[0].unit == "F"
    assert found[0].value == pytest.approx(value)
    assert found[0].fahrenheit == pytest.approx(value)


@settings(max_examples=300, deadline=None)
@given(tenths=_C_TENTHS, unit=_C_UNITS, template=_CONTEXTS, context=st.booleans())
def test_any_plausible_celsius_is_converted(tenths: int, unit: str, template: str, context: bool) -> None:
    value = tenths / 10
    text = template.format(t=f"{value:.1f}{unit}")
    found = find_readings(text, context=context, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
    assert len(found) == 1, text
    assert found[0].status == "ok"
    assert found[0].unit == "C"
    assert found[0].value == pytest.approx(value)
    assert found[0].fahrenheit == pytest.approx(value * 9 / 5 + 32)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.floats(min_value=0, max_value=89.9), st.floats(min_value=110.1, max_value=999)))
def test_implausible_fahrenheit_is_reported_not_dropped(value: float) -> None:
    text = f"temp {value:.1f} F"
    found = find_readings(text, context=True, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
    assert [r.status for r in found] == ["implausible"], text


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=300), context=st.booleans())
def test_any_text_never_raises(text: str, context: bool) -> None:
    for r in find_readings(text, context=context, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C):
        assert r.status in ("ok", "implausible", "unknown_unit")
        assert (r.fahrenheit is not None) == (r.status == "ok")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,°: -/fckFCdegrsht")), max_size=60), context=st.booleans())
def test_number_heavy_text_never_raises(text: str, context: bool) -> None:
    find_readings(text, context=context, plausible_f=PLAUSIBLE_F, plausible_c=PLAUSIBLE_C)
