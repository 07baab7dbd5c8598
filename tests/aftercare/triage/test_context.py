"""Which mentions are current findings: the term matcher and medspaCy ConText with protocols/context-rules.yml.

Negation, its reach, doubt (not negation), questions, history, another part of the body, typos.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from aftercare.triage.context import ClinicalContext, ContextRulesError, load_rules
from aftercare.triage.engine import TriageEngine
from aftercare.triage.protocol import load_protocol
from aftercare.triage.text import sentences

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = load_protocol(ROOT / "protocols" / "ductogram.yml")
ENGINE = TriageEngine(PROTOCOL)


def matched(text: str) -> set[str]:
    found = ENGINE._current_findings(sentences(text))[0]
    return found


def asked_about(text: str) -> list[str]:
    return ENGINE._current_findings(sentences(text))[1]


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
    ("i haven't fainted", set(), {"fainting"}),
    ("she hasn't passed out or anything", set(), {"fainting"}),
    ("i haven't had chills", set(), {"chills"}),
    # ... but "hasn't" before what goes on is not a denial
    ("it hasn't stopped bleeding", {"heavy_bleeding"}, set()),
    ("my breast hasn't stopped swelling", {"breast_swelling"}, set()),
    ("the pain hasn't let up", {"persistent_pain"}, set()),
    ("my breast pain hasn't gone away", {"persistent_pain"}, set()),
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


# ------------------------------------------------------------------------ beyond the old windows
@pytest.mark.parametrize(("text", "present", "absent"), [
    ("no chills no cough and so winded i cant talk", set(), {"chills"}),
    ("my brother had a seizure years ago", set(), {"seizure"}),
    ("I fainted once in school", set(), {"fainting"}),
    ("my dad had a stroke back in 2019", set(), {"stroke_signs"}),
    ("my knee is a little swollen after my run", set(), {"breast_swelling"}),
    ("my ankles get puffy after standing all day", set(), {"breast_swelling"}),
    ("my breast is swollen and my knee hurts", {"breast_swelling"}, set()),
    ("my heel hurts when I walk", set(), {"pain"}),
    ("me duele el hombro de cargar la bolsa", set(), {"pain"}),
    ("my shoulder is fine but my breast is sore", {"pain"}, set()),
    ("it settled down and now the redness is flaring again", {"redness"}, set()),
    ("no tengo fiebre pero tengo escalofrios", {"chills"}, {"fever"}),
    ("no tengo fiebre ni escalofrios", set(), {"fever", "chills"}),
    ("not having any trouble breathing", set(), {"breathing_trouble"}),
    ("my husband collapsed and is not responding", {"unresponsive"}, set()),
    ("si, todavia tengo sangre", {"bloody_discharge"}, set()),
    ("the pain went away then came back tonight", {"pain"}, set()),
    ("my dad had a stroke in 2019", set(), {"stroke_signs"}),
    ("I'm dying to know the results", set(), {"patient_says_emergency"}),
    ("I think I am dying", {"patient_says_emergency"}, set()),
    ("brown-red spotting since yesterday", {"bloody_discharge"}, {"redness"}),
    ("more discharge than before the test", {"increased_discharge"}, set()),
    # a match whose words are apart ("red ... discharge") does not swallow the negations between them
    ("not red, not warm, no pus, and the discharge stopped", set(), {"infection_signs", "redness"}),
    ("not red, no pus, and the discharge is bloody", {"bloody_discharge"}, {"infection_signs"}),
    ("the discharge is red and there is pus", {"bloody_discharge", "infection_signs"}, set()),
])
def test_current_findings(text: str, present: set[str], absent: set[str]) -> None:
    got = matched(text)
    assert present <= got, (text, got)
    assert not absent & got, (text, got)


@pytest.mark.parametrize(("text", "finding"), [
    ("what if I get a fever and chills?", "chills"),
    ("what should I do if I can't breathe?", "breathing_trouble"),
    ("when should I worry about redness?", "redness"),
])
def test_questions_are_not_reports(text: str, finding: str) -> None:
    assert finding not in matched(text) and finding in asked_about(text)


def test_rules_file_errors_name_the_rule(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text('rules:\n  - {literal: "No", category: NEGATED_EXISTENCE}\n', encoding="utf-8")
    with pytest.raises(ContextRulesError, match=r"rules\[0\]: literal"):
        load_rules(bad)
    bad.write_text('rules:\n  - {literal: "no", category: NEGATION}\n', encoding="utf-8")
    with pytest.raises(ContextRulesError, match="category"):
        load_rules(bad)
    with pytest.raises(ContextRulesError, match="file not found"):
        ClinicalContext.from_file(tmp_path / "missing.yml")


@pytest.mark.parametrize(("text", "blanked"), [
    ("no swelling in my throat or lips", "no swelling in my throat or lips"),
    ("i dont have any chills", "dont have any chills"),
    ("not short of breath but my lips are swelling", "not short of breath"),
    ("no i cant breathe", ""),  # other words between: read as written, whatever the rules say
    ("my lips are swelling", ""),
    ("never had a seizure before and i just had one", ""),  # history: what follows may be now
])
def test_denials_said_right_before_their_finding(text: str, blanked: str) -> None:
    sents = sentences(text)
    mentions = ENGINE.context.classify(sents, ENGINE.matcher.find_all(sents))
    where = ENGINE.context.said_right_after_a_denial(sents, (m for said in mentions.values() for m in said))
    assert " ".join(w for i, s in enumerate(sents) for j, w in enumerate(s.words) if j in where.get(i, ())) == blanked


def test_denial_words_must_be_lists_of_words(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text('denial_fillers: [Have]\nrules:\n  - {literal: "no", category: NEGATED_EXISTENCE}\n', encoding="utf-8")
    with pytest.raises(ContextRulesError, match="denial_fillers"):
        ClinicalContext.from_file(bad)


def test_a_long_message_is_classified_sentence_by_sentence() -> None:
    text = "no fever. " * 3000 + "my breast is red and swollen."
    assert {"redness", "breast_swelling"} <= matched(text)


def test_with_settled_only_the_mentions_that_decide_are_returned() -> None:
    sents = sentences("my heel is swollen. my knee is swollen. no swelling at all. my knee is swollen. the breast is swollen.")
    matches = ENGINE.matcher.find_all(sents)
    mentions = ENGINE.context.classify(sents, matches, settled=lambda _, m: m.is_current(breast_site=True))
    said = [m.categories for m in mentions["breast_swelling"]]
    # elsewhere (the heel; the second knee tells nothing new), denied, then current at the breast
    assert len(said) == 3 and len(set(said)) == 3, said
    assert mentions["breast_swelling"][-1].is_current(breast_site=True)
    # without settled, every mention is returned
    assert len(ENGINE.context.classify(sents, matches)["breast_swelling"]) == 5


@pytest.mark.parametrize(("turns", "disposition"), [
    (["I had a fever of 101 two years ago after a flu shot, will I react to the contrast?"], None),
    (["back on the day of the test I ran 100.8 for one evening, normal since"], None),
    (["my temperature is 101.2 right now"], "call_physician"),
])
def test_temperature_readings_take_context(turns: list[str], disposition: str | None) -> None:
    from datetime import date

    state = None
    for text in turns:
        a = ENGINE.assess(text, state, today=date(2026, 11, 19))
        state = a.state
    assert a.conversation_disposition == disposition
