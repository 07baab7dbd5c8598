"""The triage engine, conversation by conversation, labelled by the clinical protocol.

Each row: the patient's messages in order, the conversation disposition expected after the last
one (None when nothing was reported), the question expected after the last one (None when no
question), and a substring expected in the reasons given during the conversation (None: not checked).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aftercare.triage.protocol import ESCALATING, load_protocol, rank
from aftercare.triage.engine import Assessment, ConversationState, TriageEngine

PROTOCOL = load_protocol(Path(__file__).resolve().parents[3] / "protocols" / "ductogram.yml")
TODAY = date(2026, 11, 22)  # a Sunday

E, C, S, I = "emergency", "call_physician", "self_care", "information"
#: While a missing day is asked for, the protocol fixes no disposition yet: nothing, or the self-care
#: advice for the early days, are both acceptable; an escalation is not (it is decided by the answer).
ASKING = (None, S)


def row(turns, disposition, question=None, reason=None):
    """disposition: the expected value, or a tuple of acceptable values."""
    turns = [turns] if isinstance(turns, str) else list(turns)
    return pytest.param(turns, disposition, question, reason, id=" || ".join(turns)[:90])


def converse(turns: list[str]) -> list[Assessment]:
    engine = TriageEngine(PROTOCOL)
    state: ConversationState | None = None
    out = []
    for text in turns:
        a = engine.assess(text, state, today=TODAY)
        state = a.state
        out.append(a)
    return out


ROWS = [
    # ================================================================ emergency: breathing
    row("I can't breathe", E, None, "trouble breathing"),
    row("i cant breath", E, None, "trouble breathing"),
    row("cant breathe", E, None, "trouble breathing"),
    row("I'm having trouble breathing", E, None, "trouble breathing"),
    row("having a hard time breathing", E, None, "trouble breathing"),
    row("struggling to breathe", E, None, "trouble breathing"),
    row("short of breath", E, None, "trouble breathing"),
    row("shortness of breath since the test", E, None, "trouble breathing"),
    row("im wheezing", E, None, "trouble breathing"),
    row("my breathing is labored", E, None, "trouble breathing"),
    row("i am gasping for air", E, None, "trouble breathing"),
    row("she stopped breathing", E, None, "trouble breathing"),
    row("she is not breathing", E, None, "trouble breathing"),
    row("breathing is difficult", E, None, "trouble breathing"),
    row("difficulty breathng", E, None, "trouble breathing"),
    row("truble breathing", E, None, "trouble breathing"),
    row("i cant breth", E, None, "trouble breathing"),
    row("sorry to bother you, i can't really breathe", E, None, "trouble breathing"),
    row("I CAN'T BREATHE!!!", E, None, "trouble breathing"),
    row("I can not breathe", E, None, "trouble breathing"),
    row("I can hardly breathe", E, None, "trouble breathing"),
    row("I can barely breathe", E, None, "trouble breathing"),
    row("I can't get air", E, None, "trouble breathing"),
    row("without my inhaler I can't breathe", E, None, "trouble breathing"),
    # ================================================================ emergency: swallowing, face/throat swelling
    row("it is hard to swallow", E, None, "trouble swallowing"),
    row("I can't swallow", E, None, "trouble swallowing"),
    row("swallowing hurts", E, None, "trouble swallowing"),
    row("cant swalow", E, None, "trouble swallowing"),
    row("my throat is closing up", E, None, "throat"),
    row("my lips are swollen", E, None, "lips"),
    row("my tongue is swelling", E, None, "tongue"),
    row("my face is puffy", E, None, "face"),
    row("my eyes are swollen shut", E, None, "face"),
    row("throat feels tight", E, None, "throat"),
    row("my throat is sweling", E, None, "throat"),
    row("my airway is closing up", E, None, "throat"),
    # ================================================================ emergency: chest pain, fainting
    row("my chest hurts", E, None, "chest pain"),
    row("I have chest pain", E, None, "chest pain"),
    row("chest pressure", E, None, "chest pain"),
    row("crushing pain in my chest", E, None, "chest pain"),
    row("i think im having a heart attack", E, None, "chest pain"),
    row("my chest feels heavy", E, None, "chest pain"),
    row("I fainted", E, None, "fainting"),
    row("i passed out", E, None, "fainting"),
    row("I feel like I'm going to faint", E, None, "fainting"),
    row("I blacked out for a minute", E, None, "fainting"),
    row("my mom is unresponsive", E, None, "hard to wake"),
    row("she is hard to wake up", E, None, "hard to wake"),
    row("I can't wake her", E, None, "hard to wake"),
    row("i faintd", E, None, "fainting"),
    # ================================================================ emergency: heavy bleeding
    row("the bleeding won't stop", E, None, "heavy bleeding"),
    row("it's bleeding a lot", E, None, "heavy bleeding"),
    row("blood is pouring out", E, None, "heavy bleeding"),
    row("soaking through pads with blood", E, None, "heavy bleeding"),
    row("i am hemorrhaging", E, None, "heavy bleeding"),
    row("bleeding heavily from the nipple", E, None, "heavy bleeding"),
    row("nipple keeps bleeding and won't stop", E, None, "heavy bleeding"),
    row("there's blood coming out of my nipple and it won't stop", E, None, "heavy bleeding"),
    # ================================================================ emergency: other
    row("i think i'm having a severe allergic reaction", E, None, "allergic reaction"),
    row("anaphylactic reaction", E, None, "allergic reaction"),
    row("I used my epipen", E, None, "allergic reaction"),
    row("my face is drooping", E, None, "stroke"),
    row("slurred speech", E, None, "stroke"),
    row("she is having a seizure", E, None, "seizure"),
    row("she's having a seizrue", E, None, "seizure"),
    row("i took too many pills", E, None, "overdose"),
    row("I overdosed on tylenol", E, None, "overdose"),
    row("i want to kill myself", E, None, "self-harm"),
    row("i want to die", E, None, "self-harm"),
    # ================================================================ the general emergency net
    row("my husband collapsed and he's not responding", E, None, "unresponsive"),
    row("my toddler is choking on a grape", E, None, "choking"),
    row("my baby is limp and blue", E, None, "child in danger"),
    row("she fell and hit her head, now she keeps throwing up and seems confused", E, None, "head injury"),
    row("spilled boiling water all over my arm", E, None, "burn"),
    row("my brother's been stabbed", E, None, "serious injury"),
    row("I swallowed the whole bottle of pills", E, None, "overdose"),
    row("I took 30 tylenol an hour ago", E, None, "overdose"),
    row("me tome 20 pastillas para dormir", E, None, "overdose"),
    row("i took 2 tylenol for the soreness, test was yesterday", S, None, "pain"),
    row("everyone would be better off without me", E, None, "suicide"),
    row("me quiero matar", E, None, "suicide"),
    row("me corté las muñecas", E, None, "suicide"),
    row("grandma all of a sudden doesnt know where she is", E, None, "sudden confusion"),
    row("mi mama no me reconoce", E, None, "sudden confusion"),
    row("worst stomach pain of my life, belly hard as a board", E, None, "belly pain"),
    row("worst headache of my life, it came on all at once", E, None, "headache"),
    row("jaw pain and cold sweats and nausea", E, None, "heart attack"),
    row("36 weeks and the baby hasn't moved all day", E, None, "pregnancy"),
    row("stiff neck and a fever of 102", E, None, "serious infection"),
    row("baby is 5 wks old and has a fever", E, None, "serious infection"),
    row("rattlesnake bit my ankle", E, None, "bite"),
    row("sudden really bad pain in his testicle", E, None, "testicle"),
    # ... and everyday complaints that share their words are not
    row("I feel like I'm dying of boredom in this waiting room", None, None, None),
    row("can't breathe through my nose, stuffed up from this cold", None, None, None),
    row("pretty sure I have a yeast infection", None, None, None),
    row("mosquito bites itching like crazy", None, None, None),
    row("itchy rash all over after the dye", C, None, "rash"),
    row("my arm is sore where I got the flu shot", ASKING, "procedure_day", None),
    row("got sunburned at the beach, red and sore", ASKING, "procedure_day", None),
    row("what if the baby stops moving", None, None, None),
    row("mi bebe no respira", E, None, "unresponsive"),
    row("my dad's face is drooping on one side and his words are garbled", E, None, "stroke"),
    row("this is an emergency", E, None, "you think this is an emergency"),
    row("should i call 911", E, None, "emergency"),
    row("call an ambulance", E, None, "emergency"),
    row("i think i am dying", E, None, "emergency"),
    # ================================================================ negation must not hide a red flag elsewhere
    row("no fever but my throat is swelling", E, None, "throat"),
    row("no fever, no chills, but I can't breathe", E, None, "trouble breathing"),
    row("I don't have chills but my lips are swollen", E, None, "lips"),
    row("no redness, but I feel like I'm going to faint", E, None, "fainting"),
    row("the redness is gone but I can't breathe", E, None, "trouble breathing"),
    row("my lips feel swollen but no trouble breathing", E, None, "lips"),
    row("I dont want to overreact but my throat feels tight", E, None, "throat"),
    row("No fever. Can't breathe.", E, None, "trouble breathing"),
    # ================================================================ several symptoms in one message
    row("chills and i can't breathe", E, None, "chills"),
    row("i have a rash and my throat is tight", E, None, "throat"),
    row("i have hives and trouble breathing", E, None, "trouble breathing"),
    row("hard to breathe and my chest is tight", E, None, "chest pain"),
    row("my breast is red and swollen and i have chills", C, None, "swelling of the breast"),
    row("my breast is red and swollen and i have chills", C, None, "chills"),
    row("fever 102 F and chills", C, None, "102"),
    row("i have a fever and my breast is red", C, None, "redness"),
    row("my breast is sore and there's more discharge, had my ductogram yesterday", S, None, "more discharge"),
    # ================================================================ call physician: infection, redness, swelling
    row("I have chills", C, None, "chills"),
    row("i've been shivering all night", C, None, "chills"),
    row("cold sweats", C, None, "chills"),
    row("not sure if I have chills", C, None, "chills"),
    row("there is pus coming from my nipple", C, None, "infection"),
    row("i think it's infected", C, None, "infection"),
    row("the discharge smells bad", C, None, "infection"),
    row("foul smelling discharge", C, None, "infection"),
    row("yellow discharge", C, None, "infection"),
    row("green fluid from the nipple", C, None, "infection"),
    row("my breast is hot to the touch", C, None, "infection"),
    row("the skin feels warm", C, None, "infection"),
    row("there are red streaks on my breast", C, None, "infection"),
    row("my breast is red", C, None, "redness"),
    row("the nipple area looks inflamed", C, None, "redness"),
    row("maybe a little red", C, None, "redness"),
    row("my breast is pink", C, None, "redness"),
    row("my breast is swollen", C, None, "swelling of the breast"),
    row("the breast is swolen and tender", C, None, "swelling of the breast"),
    row("i found a lump", C, None, "swelling of the breast"),
    row("my breast feels engorged", C, None, "swelling of the breast"),
    row("no fever but my breast is red", C, None, "redness"),
    row("no pain but there's pus", C, None, "infection"),
    row("neither fever nor chills, but my breast is red", C, None, "redness"),
    row("i don't have a fever, but i have chills and a rash", C, None, "rash"),
    row("I have no idea why my breast is swollen", C, None, "swelling of the breast"),
    row("no fever just chills", C, None, "chills"),
    # ================================================================ call physician: rash, not better
    row("i have a rash", C, None, "rash"),
    row("i broke out in hives", C, None, "hives"),
    row("my skin is itchy", C, None, "itching"),
    row("I have a rash but no trouble breathing", C, None, "rash"),
    row("I think I'm having an allergic reaction to the dye", C, None, "reaction"),
    row("i'm not getting better", C, None, "not getting better"),
    row("i feel sick", C, None, "not getting better"),
    row("i feel unwell since the procedure", C, None, "not getting better"),
    # ================================================================ fever thresholds
    row("temperature 100.5 F", I, None, "not over"),
    row("fever of 100.5", I, None, "not over"),
    row("temperature 100.6", C, None, "100.6"),
    row("fever of 100.6", C, None, "100.6"),
    row("my temp is 38.0 C", I, None, "not over"),
    row("my temp is 38.1 C", C, None, "38.1"),
    row("my temp is 38.06 C", C, None, "38.06"),
    row("temperature 38.05 C", I, None, "not over"),
    row("my temperature is 101.2", C, None, "temperature 101.2 °F is over 100.5 °F"),
    row("temp 38.6c", C, None, "38.6"),
    row("temp is 38,6", C, None, "38.6"),
    row("fever 100.8°F", C, None, "100.8"),
    row("I have a fever of a hundred and one", C, None, "101"),
    row("fever thirty eight point five", C, None, "38.5"),
    row("my temp was 99.1", I, None, "not over"),
    row("temp 98.6", I, None, "not over"),
    row("temp:101.2", C, None, "101.2"),
    row("temp 100.8 ºF", C, None, "100.8"),
    row("my temperature is one hundred point six", C, None, "100.6"),
    # ================================================================ fever: asking for the number
    row("I have a fever", None, "temperature"),
    row("i'm not sure if its a fever", None, "temperature"),
    row(["I have a fever", "101.2"], C, None, "101.2"),
    row(["I have a fever", "38.5"], C, None, "38.5"),
    row(["I have a fever", "100.4"], I, None, "not over"),
    row(["I have a fever", "38 C"], I, None, "not over"),
    row(["I have a fever", "100.5"], I, None, "not over"),
    row(["I have a fever", "it was 101 this morning"], C, None, "101"),
    row("my temp is 25 C", None, "temperature_implausible"),
    row("temp 38 kelvin", None, "temperature_unknown_unit"),
    row(["I have a fever", "120"], None, "temperature_implausible"),
    row(["I have a fever", "120", "101"], C, None, "101"),
    row(["I have a fever", "38 kelvin"], None, "temperature_unknown_unit"),
    row(["I have a fever", "38 kelvin", "38.3 C"], C, None, "38.3"),
    row(["I have a fever", "not sure", "don't know"], C, None, "fever"),
    row(["I have a fever", "ok", "ok"], C, None, "fever"),
    row("I'm burning up", None, "temperature"),
    row("i'm burning up, 102", C, None, "102"),
    # ================================================================ fever: cannot measure
    row("I feel feverish and have chills but I don't have a thermometer", C, None, "feverish with chills"),
    row(["I feel feverish", "I don't have a thermometer, but I have chills"], C, None, "feverish with chills"),
    row(["I have a fever", "i don't have a thermometer"], C, None, "not measured"),
    row(["I have chills", "i don't have a thermometer"], C, None, "chills"),
    row(["I have a fever", "my breast is sore", "100.2", "2 days ago"], S, None, "day 2"),
    # ================================================================ bloody discharge
    row("bloody discharge", ASKING, "procedure_day"),
    row("i'm bleeding", ASKING, "procedure_day"),
    row("bloody discharge since thursday", ASKING, "procedure_day"),
    row(["bloody discharge", "4 days ago"], S, None, "day 4"),
    row(["bloody discharge", "5 days ago"], C, None, "day 5"),
    row(["bloody discharge", "nov 18"], S, None, "day 4"),
    row(["bloody discharge", "nov 17"], C, None, "day 5"),
    row(["bloody discharge", "last tuesday"], C, None, "day 5"),
    row(["bloody discharge", "on thursday"], S, None, "day 3"),
    row(["bloody discharge", "a week ago"], C, None, "day 7"),
    row(["bloody discharge", "5 days"], C, None, "day 5"),
    row(["pink discharge", "6 days ago"], C, None, "day 6"),
    row(["blood on my pad", "yesterday"], S, None, "day 1"),
    row(["brown discharge", "2 days ago"], S, None, "day 2"),
    row("bloody discharge from my nipple, had my ductogram 4 days ago", S, None, "day 4"),
    row("bloody discharge from my nipple, had my ductogram 5 days ago", C, None, "day 5"),
    row("I've had bloody discharge for 5 days", C, None, "day 5"),
    row("bloody discharge on day 5", C, None, "day 5"),
    row("bloody discharge, procedure was 11/17", C, None, "day 5"),
    row("bloody discharge, procedure on the 17th", C, None, "day 5"),
    row("bloody discharge, procedure was nov 18", S, None, "day 4"),
    row("bloody discharge since last tuesday", C, None, "day 5"),
    row("my ductogram was yesterday and there's blood on the gauze", S, None, "day 1"),
    row("had my ductogram 6 days ago and still have bloody discharge", C, None, "day 6"),
    row("i'm 5 days post procedure with bloody discharge", C, None, "day 5"),
    row("my nipple is bleeding, procedure 5 days ago", C, None, "day 5"),
    row(["my procedure was 5 days ago", "i have bloody discharge"], C, None, "day 5"),
    row(["my procedure was 2 days ago", "i have bloody discharge"], S, None, "day 2"),
    row(["bloody discharge", "i'm not sure", "i don't remember"], C, None, "bloody discharge"),
    row("there is blood on my bra, the test was 6 days ago", C, None, "day 6"),
    row("bleeding since the test 6 days ago", C, None, "day 6"),
    row("blood from my nipple since the test", ASKING, "procedure_day"),
    row("my blood pressure is high", None),
    row("there's been blood since the test 6 days ago", C, None, "day 6"),
    row("I see blood after the test", ASKING, "procedure_day"),
    row("I noticed blood at work, my ductogram was 6 days ago", C, None, "day 6"),
    row(["bloody discharge", "i'm not sure"], ASKING, "procedure_day_again"),
    row(["it's been 6 days since my ductogram", "i have bloody discharge"], C, None, "day 6"),
    row("red discharge from my nipple, ductogram was 2 days ago", S, None, "day 2"),
    # ================================================================ pain
    row("my breast is sore", ASKING, "procedure_day"),
    row("it hurts", ASKING, "procedure_day"),
    row("my breast has been sore for 3 days", ASKING, "procedure_day"),
    row(["my breast is sore", "3 days ago"], S, None, "day 3"),
    row(["my breast is sore", "4 days ago"], C, None, "day 4"),
    row(["my nipple is tender", "2 days ago"], S, None, "day 2"),
    row("my breast is sore, my ductogram was 3 days ago", S, None, "day 3"),
    row("my breast is sore, my ductogram was 4 days ago", C, None, "day 4"),
    row("my breast has been sore for 4 days", C, None, "day 4"),
    row("pain, ductogram was yesterday", S, None, "day 1"),
    row("sore, procedure today", S, None, "day 0"),
    row("my breast is sore, ductogram was on tuesday", C, None, "day 5"),
    row("my breast is sore, ductogram was on thursday", S, None, "day 3"),
    row("pain for 2 days, ductogram 5 days ago", C, None, "day 5"),
    row("it's been 4 days since my ductogram and my breast still hurts", C, None, "day 4"),
    row("the pain won't go away", C, None, "does not go away"),
    row("my breast keeps hurting", C, None, "does not go away"),
    row("the pain is unbearable", C, None, "getting worse"),
    row("the pain is getting worse", C, None, "getting worse"),
    row("the pain is getting worse, ductogram was yesterday", C, None, "getting worse"),
    row("sore breast, procedure 2 days ago, and the pain is unbearable", C, None, "getting worse"),
    row("it hurts and it's getting worse", C, None, None),
    row(["my breast is sore", "it's getting worse"], C, None, None),
    row("it hurts more and more", C, None, "getting worse"),
    row("the pain is getting bad", C, None, "getting worse"),
    row(["my breast is sore", "i don't know", "not sure"], C, None, None),
    # ================================================================ reports that contain question or doubt words
    row("what should I do if my breast gets red?", None),
    row("i can't breathe if I lie down", E, None, "trouble breathing"),
    # A question about an emergency sign is answered with when to call 911, not escalated (the blind
    # set, written from the protocol, labels "what should I do if I can't breathe?" information).
    row("what if I can't breathe", None, None, None),
    row("Is it normal that my breast is red?", C, None, "redness"),
    row("I think I have signs of infection", C, None, "infection"),
    row("I see signs of infection, my breast is red and warm", C, None, "redness"),
    row("I don't know if it's a fever but I have chills and my breast is red", C, None, "chills"),
    row("I took tylenol in case of pain, but now my breast is red and swollen", C, None, "redness"),
    row("even if I rest, the pain keeps getting worse", C, None, "getting worse"),
    row("I was told to watch for redness and now my breast is red", C, None, "redness"),
    row("not sure whether it's pus but there's yellow discharge", C, None, "infection"),
    # ================================================================ self care: discharge
    row("there's more discharge than usual", S, None, "more discharge"),
    row("clear fluid is leaking from my nipple", S, None, "more discharge"),
    row("watery discharge", S, None, "more discharge"),
    # ================================================================ nothing to triage
    row("the redness is gone", None),
    row("no fever", None),
    row("no redness or swelling", None),
    row("no chills or fever", None),
    row("I don't have a fever or chills", None),
    row("my breast is not red", None),
    row("no pain", None),
    row("no bleeding", None),
    row("the bleeding stopped", None),
    row("not bleeding anymore, it stopped", None),
    row("the pain went away", None),
    row("the rash is gone", None),
    row("no trouble breathing", None),
    row("I'm not short of breath", None),
    row("I can breathe fine", None),
    row("no chest pain", None),
    row("i have not fainted", None),
    row("the swelling is gone and there is no redness", None),
    row("I had breakfast and went for a walk", None),
    row("hello", None),
    # ================================================================ most urgent wins, never lowered
    row(["my breast is red", "i can't breathe"], E, None, "trouble breathing"),
    row(["i can't breathe", "i feel fine now"], E, None, "trouble breathing"),
    row(["i can't breathe", "no fever"], E, None, "trouble breathing"),
    row(["my breast is red", "thanks, i feel better"], C, None, "redness"),
    row(["my breast is red", "my breast is sore, procedure yesterday"], C, None, "redness"),
    row(["bloody discharge, procedure 5 days ago", "the redness is gone"], C, None, "day 5"),
    row(["fever 101", "i can't breathe", "fever 102"], E, None, "trouble breathing"),
    row(["fever 101.2", "fever 99"], C, None, "101.2"),
    row(["more discharge than usual", "i can't breathe"], E, None, "trouble breathing"),
    row(["more discharge than usual", "temp 99"], S, None, "more discharge"),
    row(["i have a fever", "i cant breathe"], E, None, "trouble breathing"),
    row(["bloody discharge", "i cant breathe"], E, None, "trouble breathing"),
    row(["my breast is sore", "my breast is red"], C, None, "redness"),
    row(["i have chills", "i have chills"], C, None, "chills"),
    row(["i have chills", "my breast is red", "i have chills"], C, None, "redness"),
    row(["bloody discharge", "I have a fever", "101"], C, None, "101"),
]


@pytest.mark.parametrize(("turns", "disposition", "question", "reason"), ROWS)
def test_conversation(turns: list[str], disposition: str | None, question: str | None, reason: str | None) -> None:
    assessments = converse(turns)
    last = assessments[-1]
    reasons = " | ".join(f.reason for a in assessments for f in a.findings)
    if isinstance(disposition, tuple):
        assert last.conversation_disposition in disposition, reasons
    else:
        assert last.conversation_disposition == disposition, reasons
    assert last.question == question, reasons
    if reason is not None:
        assert reason in reasons
    # The conversation's disposition never goes down.
    ranks = [rank(a.conversation_disposition) for a in assessments]
    assert ranks == sorted(ranks)
    # Each escalating finding is recorded once, with the disposition that escalated it.
    new = [f for a in assessments for f in a.new_escalations]
    assert len({f.id for f in new}) == len(new)
    assert all(f.disposition in ESCALATING for f in new)
    # No question is asked once the message itself calls for a physician or 911.
    for a in assessments:
        if rank(a.disposition) >= rank(C):
            assert a.question is None


def test_row_count() -> None:
    assert len(ROWS) >= 120


def test_every_finding_is_covered() -> None:
    covered: set[str] = set()
    for param in ROWS:
        for a in converse(param.values[0]):
            covered |= {f.id for f in a.findings}
    expected = {spec.id for spec in PROTOCOL.findings} - {"cannot_measure"}
    assert expected <= covered, expected - covered


# ----------------------------------------------------------------------------- specific behaviours
def test_new_escalations_once_across_a_conversation() -> None:
    turns = ["fever 101", "my breast is red", "fever 102", "my breast is red and I have chills", "I can't breathe",
             "I can't breathe", "fever 103"]
    ids = [f.id for a in converse(turns) for f in a.new_escalations]
    assert ids == ["fever", "redness", "chills", "breathing_trouble"]


def test_escalation_is_recorded_with_its_reason() -> None:
    a = converse(["my temperature is 101.2"])[-1]
    assert [f.reason for f in a.new_escalations] == ["temperature 101.2 °F is over 100.5 °F"]
    assert a.state.reasons["call_physician"] == ["temperature 101.2 °F is over 100.5 °F"]
    assert a.state.disposition == "call_physician"


def test_emergency_answered_without_a_question_even_with_a_pending_one() -> None:
    first, second = converse(["bloody discharge", "my throat is closing"])
    assert first.question == "procedure_day"
    assert second.question is None
    assert second.conversation_disposition == "emergency"
    assert second.state.pending is None


def test_state_round_trips_through_a_dict() -> None:
    engine = TriageEngine(PROTOCOL)
    a = engine.assess("bloody discharge", None, today=TODAY)
    state = ConversationState.from_dict(a.state.to_dict())
    b = engine.assess("5 days ago", state, today=TODAY)
    assert b.conversation_disposition == "call_physician"


@pytest.mark.parametrize(
    ("broken", "message", "disposition"),
    [
        (None, "I can't breathe", E),
        ("nonsense", "I can't breathe", E),
        ({"unknown_field": 1}, "I can't breathe", E),
        ({"disposition": 3}, "I can't breathe", E),
        ({"disposition": "urgent"}, "I can't breathe", E),
        ({"procedure_date": "yesterday"}, "I can't breathe", E),
        ({"escalated": None}, "I can't breathe", E),
        ({"reasons": []}, "I can't breathe", E),
        ({"pending_findings": None}, "bloody discharge", ASKING),
        ({"asked": "x"}, "bloody discharge", ASKING),
    ],
)
def test_broken_state_does_not_crash(broken, message: str, disposition: str | None) -> None:
    """A corrupted slot must never stop a red flag from being answered."""
    engine = TriageEngine(PROTOCOL)
    a = engine.assess(message, ConversationState.from_dict(broken), today=TODAY)
    if isinstance(disposition, tuple):
        assert a.conversation_disposition in disposition
    else:
        assert a.conversation_disposition == disposition


def test_assess_does_not_mutate_the_given_state() -> None:
    engine = TriageEngine(PROTOCOL)
    state = ConversationState()
    engine.assess("my breast is red", state, today=TODAY)
    assert state.disposition is None and state.escalated == []


def test_procedure_date_on_file_is_used() -> None:
    engine = TriageEngine(PROTOCOL)
    a = engine.assess("I have bloody discharge", ConversationState(procedure_date="2026-11-16"), today=TODAY)
    assert a.conversation_disposition == "call_physician"
    assert a.question is None
    b = engine.assess("I have bloody discharge", ConversationState(procedure_date="2026-11-19"), today=TODAY)
    assert b.conversation_disposition == "self_care"


# --- an NLU intent never makes a finding by itself: the terms and the learned detector decide
@pytest.mark.parametrize(
    ("text", "intent", "disposition"),
    [
        ("I think I might be coming down with something", "report_fever", None),
        ("my ankles get puffy after standing all day", "report_emergency", None),
        ("no fever", "report_fever", None),
        ("I can't breathe", "ask_deodorant", E),
        ("fever 101.6", "greet", C),
    ],
)
def test_an_intent_alone_never_makes_a_finding(text: str, intent: str, disposition: str | None) -> None:
    a = TriageEngine(PROTOCOL).assess(text, None, today=TODAY, intent=intent)
    assert a.conversation_disposition == disposition


def test_an_intent_says_which_question_a_bare_answer_answers() -> None:
    a = TriageEngine(PROTOCOL).assess("101.4", None, today=TODAY, intent="inform_temperature")
    assert a.conversation_disposition == C
