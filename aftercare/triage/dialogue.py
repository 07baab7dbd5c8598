"""Decide the assistant's reply to one patient message (plain Python, no Rasa import).

The triage engine runs on every message whatever intent the classifier chose, so a misclassified
red flag still escalates. The intent only chooses among the non-urgent answers: an aftercare topic,
a greeting, "please contact your care team" for anything the documents do not answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

from aftercare.triage.protocol import ESCALATING, Protocol, rank
from aftercare.triage.terms import is_known_word
from aftercare.triage.text import fold, has_letters
from aftercare.triage.classifier import RedFlagClassifier
from aftercare.triage.engine import Assessment, ConversationState, Finding, TriageEngine

INFO_PREFIX = "ask_"
#: Below this probability of 911 + call-your-physician, the learned detector reads a message as no red flag.
NO_RED_FLAG_BELOW = 0.2
#: Minimum classifier confidence to answer an aftercare topic.
INFO_CONFIDENCE = 0.45
#: First-person words that make a message a report about oneself, not a general question.
_REPORT = re.compile(
    r"(?<!\bwill )(?<!\bwould )(?<!\bshould )(?<!\bcould )(?<!\bdo )(?<!\bcan )(?<!\bif )(?<!\bmight )"
    r"\b(?:i have|i got|i am|i feel|i felt|i noticed|i see|ive|theres|there is|its been|still)\b|\bmy\b"
)
_CONVERSATION_INTENTS = {
    "greet": "greet",
    "goodbye": "goodbye",
    "thanks": "thanks",
    "affirm": "affirm",
    "deny": "affirm",
    "inform_procedure_day": "affirm",
}


@dataclass(frozen=True)
class EscalationDraft:
    """What to record for nurse review before the reply is sent."""

    disposition: str
    reasons: tuple[str, ...]
    finding_ids: tuple[str, ...]


@dataclass
class Reply:
    """The texts to send, the machine-readable payload, the new state and any escalation."""

    texts: list[str]
    payload: dict[str, Any]
    state: ConversationState
    escalation: EscalationDraft | None = None
    topic: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def action_phrase(protocol: Protocol, disposition: str) -> str:
    """'call 911 now' / 'call your physician today' from the disposition's label."""
    label = protocol.dispositions[disposition]["label"]
    return label[:1].lower() + label[1:]


def looks_english(text: str) -> bool:
    """False for messages whose words are mostly not English (other languages, other scripts)."""
    words = re.findall(r"[^\W\d_]+", fold(text))
    if not words:
        return True
    if any(not w.isascii() for w in words) and sum(w.isascii() for w in words) < len(words) / 2:
        return False
    if len(words) < 2:
        return True
    known = sum(1 for w in words if len(w) <= 2 or is_known_word(w))
    return known / len(words) >= 0.5


class Dialogue:
    """Builds replies from the engine's assessment and the protocol's wording."""

    def __init__(self, protocol: Protocol, classifier: RedFlagClassifier | None = None) -> None:
        self.protocol = protocol
        self.engine = TriageEngine(protocol, classifier)

    def respond(
        self,
        text: str,
        state: ConversationState | dict[str, Any] | None,
        *,
        today: date,
        intent: str | None = None,
        confidence: float | None = None,
    ) -> Reply:
        """The reply to one message."""
        p = self.protocol
        before = state if isinstance(state, ConversationState) else ConversationState.from_dict(state)
        if intent == "checkin" and (not text or not text.strip() or text.startswith("/")):
            return self.checkin(before, today=today)  # triggered by the SMS check-in worker
        if not text or not text.strip() or not has_letters(text):
            return self._plain([p.conversation["empty"]], before, topic="empty")

        assessment = self.engine.assess(text, before, today=today, intent=intent)
        is_info = bool(intent and intent.startswith(INFO_PREFIX) and (confidence or 0) >= INFO_CONFIDENCE)
        escalating = rank(assessment.disposition) >= rank("call_physician")
        if is_info and not escalating and not _REPORT.search(fold(text)):
            # A general question ("does it hurt?") is answered, not triaged as a symptom report; an
            # expected symptom mentioned with it keeps its self-care disposition in the payload.
            return self._information(intent, before, assessment)
        if assessment.findings or assessment.question:
            return self._triage_reply(assessment, before)
        if assessment.hypothetical:
            return self._hypothetical_reply(assessment, before)
        if assessment.answered_no and p.followup is not None:
            return self._plain([p.followup.messages["bloody_check_no"]], assessment.state, topic="checkin_answer")
        if intent == "checkin":
            return self.checkin(assessment.state, today=today)
        return self._conversation_reply(text, intent, confidence, assessment, before)

    def fallback(self, text: str, *, today: date) -> Reply:
        """The reply when the assistant proper could not answer (action server down, slow or failing).

        Runs the triage engine on the message alone, so a red flag still gets its disposition, and
        always includes the protocol's safe message with the 911 and call-your-physician signs.
        """
        p = self.protocol
        a = self.engine.assess(text or "", None, today=today)
        texts: list[str] = []
        if a.disposition in ESCALATING:
            reasons = _unique(f.reason for f in a.findings if f.disposition == a.disposition)
            texts.append(p.dispositions[a.disposition]["message"].format(reasons="; ".join(reasons)))
        texts.append(p.conversation["safe_fallback"])
        a.question, a.question_values = None, {}
        reply = self._reply(texts, a.state, a, topic="fallback")
        reply.payload["fallback"] = True
        return reply

    def checkin(self, state: ConversationState, *, today: date) -> Reply:
        """The check-in message for the day since the procedure; from the day set in the protocol it
        asks whether bloody discharge is still there (and waits for a yes or no)."""
        p = self.protocol
        if p.followup is None:
            return self._plain([p.conversation["greet"]], state, topic="checkin")
        days = (today - date.fromisoformat(state.procedure_date)).days if state.procedure_date else None
        words = p.followup.days_text
        days_text = (
            words["unknown"] if days is None else words["today"] if days == 0
            else words["one"] if days == 1 else words["many"].format(days=days)
        )
        if days is not None and days >= p.followup.bloody_question_from_day:
            state.pending, state.pending_findings = "bloody_check", []
            text = p.followup.messages["checkin_bloody"]
        else:
            text = p.followup.messages["checkin"]
        reply = self._plain([text.format(days_text=days_text)], state, topic="checkin")
        reply.payload["question"] = state.pending
        return reply

    # ------------------------------------------------------------------ replies
    def _triage_reply(self, a: Assessment, before: ConversationState) -> Reply:
        p = self.protocol
        texts: list[str] = []
        if a.disposition in ESCALATING:
            reasons = _unique(f.reason for f in a.findings if f.disposition == a.disposition)
            texts.append(self._in_language(p.dispositions[a.disposition], "message", a.language).format(reasons="; ".join(reasons)))
            texts.extend(_unique(
                self._in_language(p.advice, f.advice, a.language) for f in a.findings if f.advice and f.disposition == a.disposition
            ))
        else:
            for finding in a.findings:
                if finding.advice:
                    advice = p.advice[finding.advice].format(**dict(finding.advice_values))
                    if advice not in texts:
                        texts.append(advice)
            if a.question:
                texts.append(p.questions[a.question].format(**a.question_values))
        self._remind(texts, a.disposition, a.state)
        return self._reply(texts, a.state, a, topic="triage")

    def _conversation_reply(
        self, text: str, intent: str | None, confidence: float | None, a: Assessment, before: ConversationState
    ) -> Reply:
        p = self.protocol
        state = a.state
        if intent and intent.startswith(INFO_PREFIX) and (confidence or 0) >= INFO_CONFIDENCE:
            return self._information(intent, state)
        if intent == "feeling_fine" and state.disposition in ESCALATING:
            reasons = _all_reasons(state)
            text = p.conversation["feeling_fine_after_escalation"].format(reasons="; ".join(reasons))
            return self._reply([text], state, None, topic="feeling_fine")
        if intent == "feeling_fine" or a.negated:
            # "no fever, no chills": the patient says what they do not have.
            return self._plain([p.conversation["feeling_fine"]], state, topic="feeling_fine")
        if a.elsewhere and not a.findings:
            # "my knee is swollen": not about the procedure; their own doctor, not 911 or the nurses.
            return self._plain([self._in_language(p.conversation, "unrelated", a.language)], state, topic="unrelated")
        if not looks_english(text):
            return self._plain([self._in_language(p.conversation, "not_english", a.language)], state, topic="not_english")
        symptom_intent = bool(intent and intent.startswith("report_"))
        # "A symptom the assistant could not assess" escalates only when the learned detector, which read
        # the whole message, neither reads it as clearly no red flag nor as more likely nothing at all (a
        # guess of the intent classifier alone, "hi, I had my ductogram yesterday" -> report_redness_swelling,
        # or an everyday complaint elsewhere on the body -> report_persistent_pain, is not enough).
        no_red_flag = bool(a.learned) and a.learned.get("emergency", 0.0) + a.learned.get("call_physician", 0.0) < NO_RED_FLAG_BELOW
        reads_as_nothing = a.learned.get("none", 0.0) >= 0.5
        unclear = symptom_intent and not no_red_flag and not reads_as_nothing
        if unclear or (state.symptom_context and intent in (None, "nlu_fallback") and not reads_as_nothing and not no_red_flag):
            # Something that may be a symptom and that we could not read: escalate, do not reassure.
            finding = Finding("unclear_symptom", "call_physician", p.reasons["unclear_symptom"])
            if finding.id not in state.escalated:
                state.escalated.append(finding.id)
                state.reasons.setdefault("call_physician", []).append(finding.reason)
                new = [finding]
            else:
                new = []
            state.disposition = _max(state.disposition, "call_physician")
            unclear = Assessment([finding], "call_physician", state.disposition, None, {}, new, state)
            return self._reply([p.conversation["unclear_symptom"]], state, unclear, topic="unclear_symptom")
        key = _CONVERSATION_INTENTS.get(intent or "")
        if key:
            return self._plain([p.conversation[key]], state, topic=intent)
        return self._plain([p.conversation["unknown"]], state, topic="unknown")

    def _information(self, intent: str, state: ConversationState, a: Assessment | None = None) -> Reply:
        topic = intent[len(INFO_PREFIX):]
        entry = self.protocol.information.get(topic)
        if entry is None:
            return self._plain([self.protocol.conversation["unknown"]], state, topic="unknown")
        reply = self._plain([entry["answer"]], state, topic=topic)
        if a is not None and a.disposition == "self_care" and reply.payload["disposition"] == "information":
            reply.payload["disposition"] = "self_care"
            reply.payload["reason"] = "; ".join(_unique(f.reason for f in a.findings if f.disposition == "self_care"))
        return reply

    def _hypothetical_reply(self, a: Assessment, before: ConversationState) -> Reply:
        """'What if my breast gets red?': say when to call; nothing is escalated."""
        p = self.protocol
        texts: list[str] = []
        watch: list[str] = []
        for fid in a.hypothetical:
            spec = p.finding(fid)
            if spec.disposition == "self_care" and spec.advice:
                texts.append(p.advice[spec.advice])
            elif spec.disposition != "information":
                watch.append(spec.watch_for)
        if watch:
            texts.insert(0, p.conversation["hypothetical"].format(reasons=_join_or(watch)))
        if not texts:
            texts = [p.conversation["unknown"]]
        return self._plain(texts, before, topic="watch_for")

    @staticmethod
    def _in_language(texts: Mapping[str, str], key: str, language: str) -> str:
        """The text under ``key`` in the patient's language when the protocol has it ("key_es"), else English."""
        return texts.get(f"{key}_{language}", texts[key]) if language != "en" else texts[key]

    def _plain(self, texts: list[str], state: ConversationState, *, topic: str) -> Reply:
        texts = list(texts)
        self._remind(texts, None, state)
        return self._reply(texts, state, None, topic=topic)

    def _remind(self, texts: list[str], disposition: str | None, state: ConversationState) -> None:
        """A later message never lowers the disposition: repeat what the patient should still do."""
        if state.disposition in ESCALATING and rank(disposition) < rank(state.disposition):
            reasons = state.reasons.get(state.disposition, [])
            texts.append(
                self.protocol.conversation["still_escalated"].format(
                    reasons="; ".join(reasons) or "your symptoms",
                    action=action_phrase(self.protocol, state.disposition),
                )
            )

    def _reply(self, texts: list[str], state: ConversationState, a: Assessment | None, *, topic: str) -> Reply:
        disposition = state.disposition or (a.disposition if a else None) or "information"
        if a is not None and a.disposition == disposition:
            reasons = _unique(f.reason for f in a.findings if f.disposition == disposition)
        elif disposition in ESCALATING:
            reasons = state.reasons.get(disposition, [])
        else:
            reasons = [f.reason for f in a.findings] if a else [f"information: {topic}"]
        payload = {
            "disposition": disposition,
            "reason": "; ".join(reasons) or f"information: {topic}",
            "protocol_version": self.protocol.version,
            "question": state.pending if a is not None and a.question else None,
        }
        escalation = None
        if a is not None and a.new_escalations:
            top = _max(*(f.disposition for f in a.new_escalations))
            escalation = EscalationDraft(
                disposition=top,
                reasons=tuple(_unique(f.reason for f in a.new_escalations)),
                finding_ids=tuple(f.id for f in a.new_escalations),
            )
        return Reply(texts, payload, state, escalation, topic)


def _unique(items: Any) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _join_or(items: list[str]) -> str:
    items = _unique(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _max(*dispositions: str | None) -> str:
    return max((d for d in dispositions if d), key=rank)


def _all_reasons(state: ConversationState) -> list[str]:
    return [r for d in ("emergency", "call_physician") for r in state.reasons.get(d, [])]
