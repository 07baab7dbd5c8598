"""The protocol's rules: each finding's ``rule:`` names a handler here; the handler reads its settings,
thresholds and wording from the finding's entry in the protocol file and never names a finding.

- ``fixed``: the finding's disposition, when it is found (and none of ``unless`` is);
- ``temperature``: a reading over the protocol's threshold calls the physician, one at or under it is
  answered with the advice for it; a fever without a number is asked for, and escalates when the
  patient cannot measure it or the question was asked enough;
- ``day_window``: within the protocol's day window the finding is expected (with its advice), beyond it
  the disposition is ``beyond``; an unknown day is asked for, and escalates when asked enough.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from aftercare.triage.protocol import FindingSpec, Protocol
from aftercare.triage.temperature import Reading

#: A question is asked at most this many times before the engine escalates instead.
MAX_ASKS = 2


@dataclass(frozen=True)
class Finding:
    """Something the patient reported, with the disposition it calls for and why."""

    id: str
    disposition: str
    reason: str
    advice: str | None = None  # key of protocol.advice said with the finding
    advice_values: tuple[tuple[str, str], ...] = ()


@dataclass
class RuleInput:
    """What every rule may read about the message and the conversation."""

    protocol: Protocol
    found: set[str]  # findings reported now in this message
    pending: set[str]  # findings waiting for an answer from an earlier question
    seen: set[str]  # findings reported at any time in the conversation
    readings: list[Reading]
    since: int | None  # days since the procedure, when known
    lasted: int | None  # how long a symptom has lasted, when said
    asked: dict[str, int]  # how often each question was asked


@dataclass
class RuleOutput:
    """What the rules decided for this message."""

    findings: list[Finding] = field(default_factory=list)
    question: str | None = None
    question_values: dict[str, str] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)  # findings the question is for
    decided_by_number: bool = False  # a rule decided by (or asked for) a protocol number

    def ask(self, question: str, finding_id: str, **values: str) -> None:
        """Ask a question (the first one asked in a message wins) for a finding."""
        if self.question is None:
            self.question, self.question_values = question, dict(values)
        self.waiting.append(finding_id)


Rule = Callable[[FindingSpec, RuleInput, RuleOutput], None]


def fixed(spec: FindingSpec, inp: RuleInput, out: RuleOutput) -> None:
    """The finding's own disposition when it is reported (findings at `information` only inform others)."""
    if spec.id in inp.found and spec.disposition != "information" and not set(spec.unless) & inp.found:
        out.findings.append(Finding(spec.id, spec.disposition, spec.reason, spec.advice))


def temperature(spec: FindingSpec, inp: RuleInput, out: RuleOutput) -> None:
    """Readings against the protocol's threshold; a fever without a number is asked for."""
    texts = spec.texts
    asked = inp.asked.get("temperature", 0)
    open_ = spec.id in inp.found or spec.id in inp.pending
    usable = [r for r in inp.readings if r.status == "ok"]
    if inp.readings:
        out.decided_by_number = True
    if usable:
        top = max(usable, key=lambda r: r.fahrenheit or 0.0)
        threshold = float(getattr(inp.protocol.thresholds, spec.params["threshold"]))
        values = {"value": top.describe(), "threshold": f"{threshold:g} °F"}
        if (top.fahrenheit or 0.0) > threshold:
            out.findings.append(Finding(spec.id, spec.disposition, spec.reason.format(**values)))
        else:
            out.findings.append(Finding(
                f"{spec.id}_not_over", "information", texts["not_over"].format(**values),
                spec.params["advice_not_over"], tuple(values.items()),
            ))
        return
    if inp.readings:
        bad = inp.readings[0]
        if asked >= MAX_ASKS:
            out.findings.append(Finding(spec.id, spec.disposition, texts["unclear"].format(written=bad.written)))
        elif bad.status == "unknown_unit":
            out.ask("temperature_unknown_unit", spec.id, unit=bad.unit_written)
        else:
            out.ask("temperature_implausible", spec.id, value=bad.written)
        return
    if not open_:
        return
    out.decided_by_number = True
    unmeasurable = spec.params.get("unmeasurable")
    if (unmeasurable and unmeasurable in inp.found) or asked >= MAX_ASKS:
        companion = spec.params.get("companion")
        key = "unmeasured_with_companion" if companion and companion in inp.seen else "unmeasured"
        out.findings.append(Finding(spec.id, spec.disposition, texts[key]))
    else:
        out.ask("temperature", spec.id)


def day_window(spec: FindingSpec, inp: RuleInput, out: RuleOutput) -> None:
    """Expected within the protocol's day window, `beyond` after it; the day is asked for when unknown."""
    if not (spec.id in inp.found or spec.id in inp.pending) or set(spec.unless) & inp.found:
        return
    out.decided_by_number = True
    texts = spec.texts
    after_day = int(getattr(inp.protocol.thresholds, spec.params["escalate_after"]))
    known = [d for d in (inp.since, inp.lasted) if d is not None]
    if known and max(known) > after_day:
        day = max(known)
        out.findings.append(Finding(spec.id, spec.params["beyond"], spec.reason.format(day=day, threshold=after_day)))
    elif inp.since is not None:
        out.findings.append(Finding(spec.id, spec.disposition, texts["within"].format(day=inp.since), spec.advice))
    elif inp.asked.get("procedure_day", 0) >= MAX_ASKS:
        # Asked enough without an answer: it may be past the expected days, so escalate.
        out.findings.append(Finding(spec.id, spec.params["beyond"], texts["date_unknown"]))
    else:
        # Expected at least; the day decides whether to call. Say what to watch for and ask.
        again = inp.asked.get("procedure_day", 0) > 0
        out.ask("procedure_day_again" if again else "procedure_day", spec.id)
        out.findings.append(Finding(spec.id, spec.disposition, texts["day_unknown"], spec.advice))


#: The registry: a protocol's `rule:` names one of these.
RULES: dict[str, Rule] = {"fixed": fixed, "temperature": temperature, "day_window": day_window}
#: What each rule reads from its finding's entry: settings (`params`) and texts (`texts`).
RULE_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fixed": ((), ()),
    "temperature": (("threshold", "advice_not_over"), ("not_over", "unmeasured", "unmeasured_with_companion", "unclear")),
    "day_window": (("escalate_after", "beyond"), ("within", "day_unknown", "date_unknown")),
}
