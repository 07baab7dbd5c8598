"""Term matching with the protocol's findings: negation scope, doubt, and typo tolerance."""
from __future__ import annotations

from pathlib import Path

import pytest

from aftercare.triage.protocol import load_protocol
from aftercare.triage.terms import TermMatcher, TermSyntaxError, compile_term
from aftercare.triage.text import sentences

PROTOCOL = load_protocol(Path(__file__).resolve().parents[3] / "protocols" / "ductogram.yml")
MATCHER = TermMatcher(
    {spec.id: list(spec.terms) for spec in PROTOCOL.findings},
    {spec.id: list(spec.exclude) for spec in PROTOCOL.findings if getattr(spec, "exclude", ())},
)


def matched(text: str) -> set[str]:
    sents = sentences(text)
    return {
        spec.id for spec in PROTOCOL.findings
        if MATCHER.find(spec.id, sents, emergency=spec.disposition == "emergency")
    }



# (text, findings that must match, findings that must not match)
CASES = [
    # --- negation
    ("no fever", set(), {"fever"}),
    ("I don't have a fever", set(), {"fever"}),
    ("without fever", set(), {"fever"}),
    ("no chills", set(), {"chills"}),
    ("no fever, chills", {"chills"}, {"fever"}),
    ("no fever, chills or redness", set(), {"fever", "chills", "redness"}),
    ("no fever or chills", set(), {"fever", "chills"}),
    ("neither fever nor chills", set(), {"fever", "chills"}),
    ("no redness or swelling", set(), {"redness", "breast_swelling"}),
    ("my breast is not red", set(), {"redness"}),
    ("no pain, no bleeding", set(), {"pain", "bloody_discharge", "heavy_bleeding"}),
    ("no trouble breathing", set(), {"breathing_trouble"}),
    ("i have no trouble breathing", set(), {"breathing_trouble"}),
    ("I'm not short of breath", set(), {"breathing_trouble"}),
    ("no chest pain", set(), {"chest_pain"}),
    ("i have not fainted", set(), {"fainting"}),
    # --- resolution after the finding
    ("the redness is gone", set(), {"redness"}),
    ("fever is gone", set(), {"fever"}),
    ("the fever went away", set(), {"fever"}),
    ("the fever broke", set(), {"fever"}),
    ("the rash is gone", set(), {"rash_hives"}),
    ("the pain went away", set(), {"pain"}),
    ("the bleeding stopped", set(), {"bloody_discharge", "heavy_bleeding"}),
    ("not bleeding anymore, it stopped", set(), {"bloody_discharge", "heavy_bleeding"}),
    # --- negation does not cross 'but', 'and', a sentence end, or a plain comma
    ("the pain is gone but I have chills", {"chills"}, {"pain"}),
    ("no redness but swelling", {"breast_swelling"}, {"redness"}),
    ("no redness and swelling", {"breast_swelling"}, {"redness"}),
    ("no redness, swelling", {"breast_swelling"}, {"redness"}),
    ("it's not red but it's swollen", {"breast_swelling"}, {"redness"}),
    ("no fever. my breast is swollen", {"breast_swelling"}, {"fever"}),
    ("no fever but my throat is swelling", {"face_throat_swelling"}, {"fever"}),
    ("no problems breathing but my lips are swelling", {"face_throat_swelling"}, {"breathing_trouble"}),
    ("i don't have a fever, but i have chills and a rash", {"chills", "rash_hives"}, {"fever"}),
    # --- a 'stop' word in the finding is not a resolution of it
    ("bleeding wont stop", {"heavy_bleeding"}, set()),
    ("bleeding won't stop", {"heavy_bleeding"}, set()),
    ("bleeding doesn't stop", {"heavy_bleeding"}, set()),
    # --- negation inside the term is not a negation
    ("I can't breathe", {"breathing_trouble"}, set()),
    ("she is not breathing", {"breathing_trouble"}, set()),
    ("I'm not able to breathe", {"breathing_trouble"}, set()),
    ("i couldnt breathe", {"breathing_trouble"}, set()),
    ("cant swallow", {"swallowing_trouble"}, set()),
    ("can't wake her up", {"fainting"}, set()),
    ("the pain won't go away", {"persistent_pain"}, set()),
    ("i'm not getting better", {"not_getting_better"}, set()),
    ("i don't have a thermometer", {"cannot_measure"}, set()),
    # --- doubt is not negation
    ("not sure if its a fever", {"fever"}, set()),
    ("I don't know if it's a fever", {"fever"}, set()),
    ("not sure if I have chills", {"chills"}, set()),
    ("i dont know if the redness is normal", {"redness"}, set()),
    # --- typos in words of five letters or more
    ("breathng is hard", {"breathing_trouble"}, set()),
    ("difficulty breathng", {"breathing_trouble"}, set()),
    ("truble breathing", {"breathing_trouble"}, set()),
    ("i cant breth", {"breathing_trouble"}, set()),
    ("my breast is swolen", {"breast_swelling"}, set()),
    ("my throat is sweling", {"face_throat_swelling"}, set()),
    ("i have a feaver", {"fever"}, set()),
    ("bloddy discharge", {"bloody_discharge"}, set()),
    ("cant swalow", {"swallowing_trouble"}, set()),
    ("i faintd", {"fainting"}, set()),
    ("she's having a seizrue", {"seizure"}, set()),
    # --- real words never fuzz into a term word
    ("a small amount", set(), {"infection_signs"}),
    ("my breast is hard", set(), {"breathing_trouble"}),
    ("it was a breeze", set(), {"breathing_trouble"}),
    ("I had breakfast", set(), {"breathing_trouble"}),
    ("I am fine, thanks", set(), {"fainting"}),
    ("the bread was cold", set(), {"bloody_discharge", "breathing_trouble"}),
    ("I was shopping", set(), {"chills", "breast_swelling"}),
    # --- words separated by up to two others, and parts in any order
    ("trouble with my breathing", {"breathing_trouble"}, set()),
    ("swelling in my throat", {"face_throat_swelling"}, set()),
    ("my throat is swelling", {"face_throat_swelling"}, set()),
    ("pain in my chest", {"chest_pain"}, set()),
    ("my chest hurts", {"chest_pain"}, set()),
    # --- excluded phrases ("blood pressure" is no blood) must not swallow a real report
    ("my blood pressure is high", set(), {"bloody_discharge"}),
    ("I had a blood test last week", set(), {"bloody_discharge"}),
    ("there is blood on my bra", {"bloody_discharge"}, set()),
    pytest.param("there's been blood since the test", {"bloody_discharge"}, set(), id="blood-since-the-test"),
    pytest.param("I noticed blood at work", {"bloody_discharge"}, set(), id="blood-at-work"),
    # --- the protocol's own terms as written in protocols/ductogram.yml
    ("I used my epipen", {"anaphylaxis"}, set()),
    ("I'm burning up", {"fever"}, set()),
    ("i feel like i'm running hot", {"fever"}, set()),
    pytest.param("it hurts more and more", {"persistent_pain"}, set(),
                 id="more-and-more"),
    pytest.param("my airway is closing up", {"face_throat_swelling"}, set(), id="closing-up"),
    # --- negation scopes that swallow a finding stated in the same clause
    pytest.param("without my inhaler I can't breathe", {"breathing_trouble"}, set(),
                 id="without-inhaler"),
    pytest.param("I have no idea why my breast is swollen", {"breast_swelling"}, set(), id="no-idea-why"),
    pytest.param("no fever just chills", {"chills"}, {"fever"}, id="no-fever-just-chills"),
]


@pytest.mark.parametrize(("text", "present", "absent"), CASES)
def test_term_matching(text: str, present: set[str], absent: set[str]) -> None:
    found = matched(text)
    assert present <= found, f"missing {present - found} in {found}"
    assert not (absent & found), f"unexpected {absent & found}"


def test_every_protocol_term_compiles() -> None:
    for spec in PROTOCOL.findings:
        for term in spec.terms:
            compile_term(term)


@pytest.mark.parametrize("bad", ["", "red|", "+ red", "red +", "red-ness", "a||b", "*"])
def test_bad_term_syntax(bad: str) -> None:
    with pytest.raises(TermSyntaxError):
        compile_term(bad)


def test_matches_report_the_matched_words() -> None:
    (match,) = MATCHER.find("breathing_trouble", sentences("Hello. I can't breathe."))
    assert match.sentence == 1
    assert "breathe" in match.words


def test_gap_of_three_words_is_too_far() -> None:
    # Words of a part may have at most two other words between them.
    m = TermMatcher({"x": ["trouble breathing"]})
    assert m.find("x", sentences("trouble with my breathing"))
    assert not m.find("x", sentences("trouble with all my breathing"))


def test_plus_parts_must_share_a_sentence() -> None:
    m = TermMatcher({"x": ["throat + swell*"]})
    assert m.find("x", sentences("swelling in my throat"))
    assert not m.find("x", sentences("my throat. swelling elsewhere"))
