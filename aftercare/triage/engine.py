"""The triage engine: a patient's message and the conversation so far in, disposition and reasons out.

Plain Python, no Rasa import; every threshold and word comes from the protocol file. The rules:
- every finding in the message counts (several symptoms in one message are all taken into account);
- the most urgent finding wins, and a later message never lowers the conversation's disposition;
- missing facts are asked for (a fever without a number, bloody discharge or pain without a day);
  a question asked twice without an answer escalates, because under-triage is the failure that matters;
- an emergency is answered at once, with no question first.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.es.stop_words import STOP_WORDS as ES_STOP_WORDS

from aftercare.triage import days as day_parser
from aftercare.triage.classifier import RedFlagClassifier
from aftercare.triage.context import NOT_CURRENT, SITES, ClinicalContext, Mention
from aftercare.triage.normalise import guess_language, normalise
from aftercare.triage.protocol import DISPOSITIONS, ESCALATING, Protocol, most_urgent, rank
from aftercare.triage.rules import MAX_ASKS, RULES, Finding, RuleInput, RuleOutput
from aftercare.triage.temperature import Reading, find_readings
from aftercare.triage.terms import TermMatch, TermMatcher
from aftercare.triage.text import Sentence, sentences


@dataclass
class ConversationState:
    """What the engine remembers between messages (kept in a Rasa slot as a dict)."""

    disposition: str | None = None
    reasons: dict[str, list[str]] = field(default_factory=dict)  # escalation reasons by disposition
    escalated: list[str] = field(default_factory=list)
    pending: str | None = None
    pending_findings: list[str] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=dict)
    procedure_date: str | None = None
    seen: list[str] = field(default_factory=list)  # findings reported at any time in the conversation
    symptom_context: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ConversationState":
        """Rebuild from a slot value; a field with a wrong type or value falls back to its default."""
        state = cls()
        if not isinstance(data, dict):
            return state
        disposition = data.get("disposition")
        if disposition in DISPOSITIONS:
            state.disposition = disposition
        reasons = data.get("reasons")
        if isinstance(reasons, dict):
            state.reasons = {
                k: [r for r in v if isinstance(r, str)]
                for k, v in reasons.items() if k in DISPOSITIONS and isinstance(v, list)
            }
        for name in ("escalated", "pending_findings", "seen"):
            value = data.get(name)
            if isinstance(value, list):
                setattr(state, name, [v for v in value if isinstance(v, str)])
        if data.get("pending") in ("temperature", "procedure_day", "bloody_check"):
            state.pending = data["pending"]
        asked = data.get("asked")
        if isinstance(asked, dict):
            state.asked = {k: v for k, v in asked.items() if isinstance(k, str) and isinstance(v, int) and v >= 0}
        procedure_date = data.get("procedure_date")
        if isinstance(procedure_date, str):
            try:
                state.procedure_date = date.fromisoformat(procedure_date).isoformat()
            except ValueError:
                pass
        state.symptom_context = data.get("symptom_context") is True
        return state

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict for the slot."""
        return asdict(self)


@dataclass
class Assessment:
    """The engine's answer for one message."""

    findings: list[Finding]
    disposition: str | None  # this message's most urgent finding, None if nothing was found
    conversation_disposition: str | None
    question: str | None  # key of protocol.questions
    question_values: dict[str, str]
    new_escalations: list[Finding]  # escalating findings not yet recorded for nurse review
    state: ConversationState
    hypothetical: list[str] = field(default_factory=list)  # findings only asked about ("what if ...?")
    answered_no: bool = False  # "no" to the check-in's bloody discharge question
    negated: list[str] = field(default_factory=list)  # findings the patient said they do not have
    learned: dict[str, float] = field(default_factory=dict)  # the classifier's probability of each level
    language: str = "en"  # "es" when the message reads as Spanish
    elsewhere: list[str] = field(default_factory=list)  # breast findings mentioned only for another body part

    @property
    def reasons(self) -> list[str]:
        """Reasons of the findings at this message's disposition."""
        return [f.reason for f in self.findings if f.disposition == self.disposition]


class TriageEngine:
    """Applies one protocol; build once per process and reuse."""

    def __init__(self, protocol: Protocol, classifier: RedFlagClassifier | None = None) -> None:
        self.protocol = protocol
        self.classifier = classifier if protocol.classifier is not None else None
        self.matcher = TermMatcher(
            {spec.id: list(spec.terms) for spec in protocol.findings},
            {spec.id: list(spec.exclude) for spec in protocol.findings if spec.exclude},
        )
        self.context = ClinicalContext.from_file(Path(protocol.context_rules)) if protocol.context_rules else None

    def assess(
        self,
        message: str,
        state: ConversationState | None = None,
        *,
        today: date,
        intent: str | None = None,
    ) -> Assessment:
        """Triage one message in the context of the conversation so far."""
        state = ConversationState.from_dict((state or ConversationState()).to_dict())
        p = self.protocol
        t = p.thresholds
        message = normalise(message)
        sents = sentences(message)
        found, hypothetical, negated, elsewhere, denials = self._current_findings(sents)
        answered_no = False
        followup = p.followup
        if state.pending == "bloody_check" and followup is not None:
            # The check-in asked "do you still have ...?": a bare yes or no answers it.
            words = {w for s_ in sents for w in s_.words}
            if words & followup.yes_words and followup.asks_about not in negated:
                found.add(followup.asks_about)
            elif words & followup.no_words and followup.asks_about not in found:
                answered_no = True
        state.seen = sorted(set(state.seen) | found)

        # --- numbers the rules decide by: temperatures and days since the procedure
        folded = message.lower()
        temperature_talk = any(
            spec.id in found or spec.id in state.pending_findings or any(w in folded for w in spec.context_words)
            for spec in p.findings if spec.rule == "temperature"
        ) or state.pending == "temperature" or intent == "inform_temperature"
        said_readings = find_readings(
            message, context=temperature_talk, plausible_f=t.plausible_temperature_f, plausible_c=t.plausible_temperature_c
        )
        readings = self._current_readings(sents, said_readings)
        mentions = day_parser.find_day_mentions(
            message, today, about_procedure=state.pending == "procedure_day" or intent == "inform_procedure_day"
        )
        new_date = day_parser.procedure_date_from(mentions, today)
        if new_date is not None:
            state.procedure_date = new_date.isoformat()
        since = (today - date.fromisoformat(state.procedure_date)).days if state.procedure_date else None
        lasted = day_parser.symptom_days(mentions)
        if since is None and state.pending == "procedure_day" and lasted is not None:
            # An answer to "when was your ductogram?" dates the procedure even without the word.
            since = lasted
            state.procedure_date = date.fromordinal(today.toordinal() - lasted).isoformat()

        # --- the protocol's rules, each finding by the handler its `rule:` names
        rule_input = RuleInput(
            p, found, set(state.pending_findings), set(state.seen), readings, since, lasted, dict(state.asked)
        )
        out = RuleOutput()
        for spec in p.findings:
            RULES[spec.rule](spec, rule_input, out)
        findings = out.findings
        question, question_values, waiting = out.question, out.question_values, out.waiting
        # A reading the rules judged not current ("101 two years ago") was still decided by the number.
        decided_by_number = out.decided_by_number or bool(said_readings)

        # --- the learned detector: may raise the level, whatever the rules found, never lower it
        probability = self._learned_reading(message, sents, denials)
        learned = self._classifier_finding(probability)
        if learned is not None and self._classifier_may_raise(
            learned, findings, decided_by_number or question is not None, bool(hypothetical or negated)
        ):
            findings.append(learned)

        # --- combine
        disposition = most_urgent(*(f.disposition for f in findings))
        if rank(disposition) >= rank("call_physician"):
            question, question_values, waiting = None, {}, []
        if question is None and state.pending and not findings:
            question = self._repeat_question(state)
        if question is not None:
            key = "temperature" if question.startswith("temperature") else "procedure_day"
            state.asked[key] = self._asked(state, key) + 1
            state.pending = key
            state.pending_findings = sorted(set(waiting))
        else:
            state.pending, state.pending_findings = None, []
        if findings or question:
            state.symptom_context = True

        new = [f for f in findings if f.disposition in ESCALATING and f.id not in state.escalated]
        for f in new:
            state.escalated.append(f.id)
            state.reasons.setdefault(f.disposition, []).append(f.reason)
        state.disposition = most_urgent(state.disposition, disposition)
        return Assessment(
            findings, disposition, state.disposition, question, question_values, new, state,
            hypothetical=hypothetical, negated=negated, answered_no=answered_no, learned=probability,
            elsewhere=elsewhere,
            language=guess_language(message),
        )

    @staticmethod
    def _classifier_may_raise(learned: Finding, findings: list[Finding], numeric_rule: bool, not_current: bool) -> bool:
        """Whether the learned detector's level raises this message.

        An escalating reading raises whenever it is above what the rules found, whatever negation or
        question the rules saw, with one narrow exception: a call-your-physician reading does not
        override a rule that decides by a number the protocol sets (a temperature, a day count) and that
        has that number or is asking for it ("temp 38" is 100.4 °F, not a fever; bleeding on day 2 is
        expected). Reassurance (an "expected" reading) also yields to such a rule, and is never pressed
        on a message whose symptoms the rules read as denied or asked about ("can I take Tylenol if I'm
        sore?"): ``not_current``.
        """
        if rank(learned.disposition) <= rank(most_urgent(*(f.disposition for f in findings))):
            return False
        if learned.disposition not in ESCALATING and not_current:
            return False
        return learned.disposition == "emergency" or not numeric_rule

    def _classifier_finding(self, probability: dict[str, float]) -> Finding | None:
        """The classifier's level for the whole message, as a finding: an escalating one, or, where the
        protocol sets `self_care_at`, expected after the procedure (which raises only a message in which
        the rules found nothing)."""
        settings = self.protocol.classifier
        if not probability or settings is None:
            return None
        emergency = probability.get("emergency", 0.0)
        if emergency >= settings.emergency_at:
            level = "emergency"
        elif emergency + probability.get("call_physician", 0.0) >= settings.call_physician_at:
            level = "call_physician"
        elif settings.self_care_at is not None and probability.get("expected", 0.0) >= settings.self_care_at:
            return Finding("classifier_self_care", "self_care", settings.reasons["self_care"], advice=settings.self_care_advice)
        else:
            return None
        return Finding(f"classifier_{level}", level, settings.reasons[level])

    def _learned_reading(self, message: str, sents: list[Sentence], denials: list[Mention]) -> dict[str, float]:
        """The classifier's probabilities for the message, read without the denials that come right
        before their finding ("no swelling in my throat"): its character n-grams would otherwise read
        the denied words as the symptom. Nothing left to read gives no reading."""
        if self.classifier is None:
            return {}
        denied_words = self.context.said_right_after_a_denial(sents, denials) if self.context and denials else {}
        if not denied_words:
            return self.classifier.probabilities(message, normalised=True)
        rest = [
            " ".join(w for j, w in enumerate(s.words) if j not in denied_words.get(i, ())) for i, s in enumerate(sents)
        ]
        text = " . ".join(r for r in rest if r)
        if not any(w not in _FUNCTION_WORDS for w in text.split() if w.isalnum()):
            return {}  # "i don't have chills": no word of its own left, and a reading of "i" means nothing
        return self.classifier.probabilities(text, normalised=True)

    def _current_readings(self, sents: list[Sentence], readings: list[Reading]) -> list[Reading]:
        """The readings reported as now: not "a fever of 101 two years ago", not "what if it hits 101"."""
        if self.context is None or not readings:
            return readings
        number_of = {w: n.group(0) if (n := _NUMBER.search(w)) else None for w in {r.written for r in readings}}
        numbers = {n for n in number_of.values() if n is not None}
        wanted = numbers | {n.replace(".", ",") for n in numbers}
        targets: dict[str, list[TermMatch]] = {n: [] for n in numbers}
        key_of = {w: w.replace(",", ".") if w.replace(",", ".") in targets else w for w in wanted}
        for i, sentence in enumerate(sents):
            if wanted.isdisjoint(sentence.words):
                continue
            for j, word in enumerate(sentence.words):
                if word in wanted:
                    targets[key_of[word]].append(TermMatch(i, (j,), (word,)))
        # A number said once as now is current, whatever its other mentions say.
        mentions = self.context.classify(
            sents, targets, settled=lambda _, m: m.is_current(breast_site=False),
            categories={n: NOT_CURRENT for n in targets},
        )

        def current(number: str | None) -> bool:
            said = mentions.get(number, []) if number is not None else []
            return not said or any(m.is_current(breast_site=False) for m in said)

        is_current = {w: current(n) for w, n in number_of.items()}
        return [r for r in readings if is_current[r.written]]

    def _current_findings(
        self, sents: list[Sentence]
    ) -> tuple[set[str], list[str], list[str], list[str], list[Mention]]:
        """Findings reported now; only asked about; only denied; only elsewhere on the body (protocol
        order); and the mentions of the findings only denied."""
        matches = self.matcher.find_all(sents)
        if self.context is None:
            return {fid for fid, m in matches.items() if m}, [], [], [], {}
        # A finding mentioned once as current is found, whatever its other mentions say; where on the
        # body it is said matters only for a finding at the breast.
        breast = {spec.id for spec in self.protocol.findings if spec.site == "breast"}
        mentions = self.context.classify(
            sents, matches, settled=lambda fid, m: m.is_current(breast_site=fid in breast),
            categories={fid: NOT_CURRENT | SITES if fid in breast else NOT_CURRENT for fid in matches},
        )
        found: set[str] = set()
        hypothetical: list[str] = []
        negated: list[str] = []
        elsewhere: list[str] = []
        for spec in self.protocol.findings:
            said = mentions[spec.id]
            if any(m.is_current(breast_site=spec.site == "breast") for m in said):
                found.add(spec.id)
            elif any(m.hypothetical for m in said):
                hypothetical.append(spec.id)
            elif any(m.negated for m in said):
                negated.append(spec.id)
            elif any(m.is_current(breast_site=False) for m in said):
                elsewhere.append(spec.id)
        return found, hypothetical, negated, elsewhere, [m for fid in negated for m in mentions[fid]]

    @staticmethod
    def _asked(state: ConversationState, question: str) -> int:
        key = "temperature" if question.startswith("temperature") else "procedure_day"
        return int(state.asked.get(key, 0))

    def _repeat_question(self, state: ConversationState) -> str | None:
        """Ask the pending question again, or None when it was asked enough (then escalate)."""
        if state.pending == "procedure_day":
            return "procedure_day_again"
        if state.pending == "temperature":
            return "temperature"
        return None


#: spaCy's English and Spanish stop words, folded as the sentences are ("don't" -> "dont").
_FUNCTION_WORDS = frozenset(w.replace("'", "").replace("\u2019", "") for w in EN_STOP_WORDS | ES_STOP_WORDS)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
