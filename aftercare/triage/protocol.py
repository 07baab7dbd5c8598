"""Load and validate a clinical protocol file (for example ``protocols/ductogram.yml``).

The protocol holds every clinic setting: thresholds, day windows, the findings a patient may report
with their terms, the dispositions and all patient-facing wording. Loading validates it and raises
:class:`ProtocolError` naming the file, the key and the problem, so a broken file stops start-up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Mapping

import yaml

#: Dispositions, most urgent first. The order is clinical, not a setting.
DISPOSITIONS: tuple[str, ...] = ("emergency", "call_physician", "self_care", "information")
ESCALATING: frozenset[str] = frozenset({"emergency", "call_physician"})
QUESTIONS: tuple[str, ...] = (
    "temperature",
    "temperature_implausible",
    "temperature_unknown_unit",
    "procedure_day",
    "procedure_day_again",
)
ADVICE: tuple[str, ...] = ()  # advice texts are named by the findings that say them (validated there)
REASONS: tuple[str, ...] = ("unclear_symptom",)
CONVERSATION: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thanks",
    "feeling_fine",
    "feeling_fine_after_escalation",
    "affirm",
    "unknown",
    "unclear_symptom",
    "hypothetical",
    "not_english",
    "empty",
    "too_long",
    "still_escalated",
    "safe_fallback",
)


class ProtocolError(ValueError):
    """A protocol file that cannot be used; the message names the file, the key and the problem."""


def rank(disposition: str | None) -> int:
    """Urgency of a disposition: higher is more urgent; ``None`` ranks below ``information``."""
    if disposition is None:
        return -1
    return len(DISPOSITIONS) - 1 - DISPOSITIONS.index(disposition)


def most_urgent(*dispositions: str | None) -> str | None:
    """The most urgent of the given dispositions (``None`` entries are ignored)."""
    present = [d for d in dispositions if d is not None]
    return max(present, key=rank) if present else None


@dataclass(frozen=True)
class FindingSpec:
    """One thing a patient may report, with the terms that recognise it."""

    id: str
    disposition: str
    reason: str
    terms: tuple[str, ...]
    rule: str = "fixed"
    source: str = ""
    watch_for: str = ""  # how to name it when a patient asks "what if ...?"; defaults to the reason
    exclude: tuple[str, ...] = ()  # terms whose words never count for this finding
    advice: str | None = None  # key of an advice text said with the disposition (e.g. the 988 lifeline)
    site: str | None = None  # "breast": does not count when the patient names another part of the body
    unless: tuple[str, ...] = ()  # findings that take this one's place when found with it
    params: Mapping[str, Any] = field(default_factory=dict)  # the rule's settings (see aftercare/triage/rules.py)
    texts: Mapping[str, str] = field(default_factory=dict)  # the rule's wording (reasons), by name
    context_words: tuple[str, ...] = ()  # words that make bare numbers readings (temperature rule)


@dataclass(frozen=True)
class Thresholds:
    """Numeric clinic settings."""

    fever_over_f: float
    plausible_temperature_f: tuple[float, float]
    plausible_temperature_c: tuple[float, float]
    expected_pain_days: int
    bloody_discharge_escalate_after_day: int


@dataclass(frozen=True)
class ClassifierSettings:
    """When the learned red-flag detector raises a message's level, and what the patient is told why."""

    emergency_at: float  # probability of `emergency` from which the message is an emergency
    call_physician_at: float  # probability of `emergency` + `call_physician` from which to call
    reasons: Mapping[str, str]  # by disposition
    # probability of `expected` from which a message in which the rules found nothing is answered as
    # expected after the procedure, with the `self_care_advice` text (None: never)
    self_care_at: float | None = None
    self_care_advice: str | None = None


@dataclass(frozen=True)
class Followup:
    """The text-message check-in schedule and its wording."""

    checkin_days: tuple[int, ...]
    send_at: time
    quiet_hours: tuple[time, time]  # from, until (may wrap past midnight)
    bloody_question_from_day: int
    messages: Mapping[str, str]
    asks_about: str = ""  # the finding a bare "yes" to the day-N question reports
    yes_words: frozenset[str] = frozenset()
    no_words: frozenset[str] = frozenset()
    days_text: Mapping[str, str] = field(default_factory=dict)  # today / one / many / unknown


FOLLOWUP_MESSAGES: tuple[str, ...] = (
    "checkin", "checkin_bloody", "bloody_check_no", "sms_help", "sms_stopped", "sms_started",
)


@dataclass(frozen=True)
class Protocol:
    """A validated clinical protocol."""

    id: str
    version: str
    title: str
    care_team: str
    path: str
    thresholds: Thresholds
    dispositions: Mapping[str, Mapping[str, str]]
    findings: tuple[FindingSpec, ...]
    advice: Mapping[str, str]
    questions: Mapping[str, str]
    information: Mapping[str, Mapping[str, str]]
    conversation: Mapping[str, str]
    followup: Followup | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    classifier: ClassifierSettings | None = None
    context_rules: str | None = None  # path of the clinical context rules (ConText) file
    reasons: Mapping[str, str] = field(default_factory=dict)  # reasons the engine gives without a finding

    def finding(self, finding_id: str) -> FindingSpec:
        """The finding with this id (KeyError if there is none)."""
        for spec in self.findings:
            if spec.id == finding_id:
                return spec
        raise KeyError(finding_id)


class _Reader:
    """Typed access to the parsed YAML that reports errors with file and key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ProtocolError:
        return ProtocolError(f"{self.path}: {key}: {problem}")

    def mapping(self, data: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(key, f"expected a mapping, got {type(data).__name__}")
        return data

    def get(self, data: Mapping[str, Any], name: str, key: str) -> Any:
        if name not in data:
            raise self.fail(f"{key}.{name}" if key else name, "missing key")
        return data[name]

    def text(self, data: Mapping[str, Any], name: str, key: str) -> str:
        value = self.get(data, name, key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key}.{name}", "expected non-empty text")
        return value.strip()

    def number(self, data: Mapping[str, Any], name: str, key: str) -> float:
        value = self.get(data, name, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{key}.{name}", f"expected a number, got {value!r}")
        return float(value)

    def whole(self, data: Mapping[str, Any], name: str, key: str) -> int:
        value = self.get(data, name, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{key}.{name}", f"expected a whole number of days, got {value!r}")
        return value

    def range(self, data: Mapping[str, Any], name: str, key: str) -> tuple[float, float]:
        value = self.get(data, name, key)
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or value[0] >= value[1]
        ):
            raise self.fail(f"{key}.{name}", f"expected [low, high] with low < high, got {value!r}")
        return float(value[0]), float(value[1])

    def texts(self, data: Mapping[str, Any], names: tuple[str, ...], key: str) -> dict[str, str]:
        section = self.mapping(self.get(data, key, ""), key)
        result = {name: self.text(section, name, key) for name in names}
        for name, value in section.items():
            result.setdefault(name, self.text(section, name, key))
        return result


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol file; raise :class:`ProtocolError` on any problem."""
    path = str(path)
    reader = _Reader(path)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ProtocolError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: not valid YAML: {exc}") from None
    data = reader.mapping(raw, "(top level)")

    meta = reader.mapping(reader.get(data, "protocol", ""), "protocol")
    version = reader.get(meta, "version", "protocol")
    if not isinstance(version, (str, int, float)) or not str(version).strip():
        raise reader.fail("protocol.version", "expected a version string")

    t = reader.mapping(reader.get(data, "thresholds", ""), "thresholds")
    thresholds = Thresholds(
        fever_over_f=reader.number(t, "fever_over_f", "thresholds"),
        plausible_temperature_f=reader.range(t, "plausible_temperature_f", "thresholds"),
        plausible_temperature_c=reader.range(t, "plausible_temperature_c", "thresholds"),
        expected_pain_days=reader.whole(t, "expected_pain_days", "thresholds"),
        bloody_discharge_escalate_after_day=reader.whole(
            t, "bloody_discharge_escalate_after_day", "thresholds"
        ),
    )
    low, high = thresholds.plausible_temperature_f
    if not low < thresholds.fever_over_f < high:
        raise reader.fail("thresholds.fever_over_f", "must lie inside plausible_temperature_f")

    disp = reader.mapping(reader.get(data, "dispositions", ""), "dispositions")
    dispositions: dict[str, dict[str, str]] = {}
    for name, entry in disp.items():
        if name not in DISPOSITIONS:
            raise reader.fail(f"dispositions.{name}", f"unknown disposition (known: {', '.join(DISPOSITIONS)})")
        entry = reader.mapping(entry, f"dispositions.{name}")
        dispositions[name] = {
            "label": reader.text(entry, "label", f"dispositions.{name}"),
            "message": reader.text(entry, "message", f"dispositions.{name}"),
        }
        if "message_es" in entry:
            dispositions[name]["message_es"] = reader.text(entry, "message_es", f"dispositions.{name}")
    for name in DISPOSITIONS:
        if name not in dispositions:
            raise reader.fail(f"dispositions.{name}", "missing key")

    findings = _findings(reader, reader.get(data, "findings", ""), "findings")
    general_advice: dict[str, str] = {}
    if "general_emergencies" in data:
        findings, general_advice = _with_general_emergencies(reader, data["general_emergencies"], findings)
    _check_references(reader, findings, thresholds)

    info_raw = reader.mapping(reader.get(data, "information", ""), "information")
    information: dict[str, dict[str, str]] = {}
    for topic, entry in info_raw.items():
        entry = reader.mapping(entry, f"information.{topic}")
        information[topic] = {
            "answer": reader.text(entry, "answer", f"information.{topic}"),
            "source": str(entry.get("source", "")),
        }

    # Imported here to keep the loader free of a module cycle; compiling the terms checks their syntax.
    from aftercare.triage.terms import TermSyntaxError, compile_term

    advice_keys = set(general_advice) | set(reader.mapping(reader.get(data, "advice", ""), "advice"))
    for spec in findings:
        for name in (spec.advice, spec.params.get("advice_not_over")):
            if name is not None and name not in advice_keys:
                raise reader.fail(f"findings ({spec.id}).advice", f"no advice text {name!r}")
        for term in spec.terms + spec.exclude:
            try:
                compile_term(term)
            except TermSyntaxError as exc:
                raise reader.fail(f"findings ({spec.id}).terms", f"{term!r}: {exc}") from None

    followup = _followup(reader, data["followup"]) if "followup" in data else None
    if followup is not None and followup.asks_about not in {f.id for f in findings}:
        raise reader.fail("followup.asks_about", f"no finding {followup.asks_about!r}")
    classifier = _classifier(reader, data["classifier"]) if "classifier" in data else None
    if classifier is not None and classifier.self_care_advice not in (None, *advice_keys):
        raise reader.fail("classifier.self_care_advice", f"no advice text {classifier.self_care_advice!r}")
    context_rules = None
    if "context_rules" in data:
        name = data["context_rules"]
        if not isinstance(name, str) or not (Path(path).parent / name).is_file():
            raise reader.fail("context_rules", f"no such file beside the protocol: {name!r}")
        context_rules = str(Path(path).parent / name)

    return Protocol(
        id=reader.text(meta, "id", "protocol"),
        version=str(version).strip(),
        title=reader.text(meta, "title", "protocol"),
        care_team=reader.text(meta, "care_team", "protocol"),
        path=path,
        thresholds=thresholds,
        dispositions=dispositions,
        findings=tuple(findings),
        advice={**general_advice, **reader.texts(data, ADVICE, "advice")},
        questions=reader.texts(data, QUESTIONS, "questions"),
        information=information,
        conversation=reader.texts(data, CONVERSATION, "conversation"),
        followup=followup,
        sources={str(k): str(v) for k, v in dict(meta.get("sources") or {}).items()},
        classifier=classifier,
        context_rules=context_rules,
        reasons=reader.texts(data, REASONS, "reasons"),
    )


def _classifier(reader: _Reader, raw: object) -> ClassifierSettings:
    data = reader.mapping(raw, "classifier")
    levels = sorted(ESCALATING)
    names = ["emergency_at", "call_physician_at"]
    values: dict[str, Any] = {}
    if "self_care_at" in data:
        advice = data.get("self_care_advice")
        if not isinstance(advice, str) or not advice:
            raise reader.fail("classifier.self_care_advice", "expected the name of an advice text (with self_care_at)")
        values["self_care_advice"] = advice
        names.append("self_care_at")
        levels.append("self_care")
    for name in names:
        value = reader.number(data, name, "classifier")
        if not 0 < value <= 1:
            raise reader.fail(f"classifier.{name}", f"expected a probability between 0 and 1, got {value!r}")
        values[name] = value
    reasons = reader.mapping(reader.get(data, "reasons", "classifier"), "classifier.reasons")
    return ClassifierSettings(
        reasons={name: reader.text(reasons, name, "classifier.reasons") for name in levels}, **values
    )


def _findings(reader: _Reader, raw: object, where: str) -> list[FindingSpec]:
    """Validate a list of findings."""
    from aftercare.triage.rules import RULE_SETTINGS  # the registry; imported here to avoid a cycle

    if not isinstance(raw, list) or not raw:
        raise reader.fail(where, "expected a non-empty list")
    findings: list[FindingSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        key = f"{where}[{index}]"
        item = reader.mapping(item, key)
        fid = reader.text(item, "id", key)
        key = f"{where}[{index}] ({fid})"
        if fid in seen:
            raise reader.fail(key, "duplicate id")
        seen.add(fid)
        disposition = reader.text(item, "disposition", key)
        if disposition not in DISPOSITIONS:
            raise reader.fail(f"{key}.disposition", f"unknown disposition {disposition!r} (known: {', '.join(DISPOSITIONS)})")
        rule = item.get("rule", "fixed")
        if rule not in RULE_SETTINGS:
            raise reader.fail(f"{key}.rule", f"unknown rule {rule!r} (known: {', '.join(sorted(RULE_SETTINGS))})")
        wanted_params, wanted_texts = RULE_SETTINGS[rule]
        params = {name: reader.get(item, name, key) for name in wanted_params}
        for name in ("companion", "unmeasurable"):
            if name in item:
                params[name] = reader.text(item, name, key)
        texts_raw = item.get("texts", {}) if wanted_texts else {}
        texts = {name: reader.text(reader.mapping(texts_raw, f"{key}.texts"), name, f"{key}.texts") for name in wanted_texts}
        unless = item.get("unless", [])
        if not isinstance(unless, list) or not all(isinstance(x, str) for x in unless):
            raise reader.fail(f"{key}.unless", "expected a list of finding ids")
        words = item.get("context_words", [])
        if not isinstance(words, list) or not all(isinstance(x, str) and x for x in words):
            raise reader.fail(f"{key}.context_words", "expected a list of words")
        terms = reader.get(item, "terms", key)
        if not isinstance(terms, list) or not terms or not all(isinstance(x, str) and x.strip() for x in terms):
            raise reader.fail(f"{key}.terms", "expected a non-empty list of texts")
        if "intent" in item:
            raise reader.fail(f"{key}.intent", "no longer read: the learned detector covers paraphrases (remove it)")
        exclude = item.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(x, str) and x.strip() for x in exclude):
            raise reader.fail(f"{key}.exclude", "expected a list of texts")
        advice = item.get("advice")
        if advice is not None and not isinstance(advice, str):
            raise reader.fail(f"{key}.advice", "expected the name of an advice text")
        site = item.get("site")
        if site not in (None, "breast"):
            raise reader.fail(f"{key}.site", f"expected 'breast' or nothing, got {site!r}")
        findings.append(
            FindingSpec(
                id=fid,
                disposition=disposition,
                reason=reader.text(item, "reason", key),
                terms=tuple(x.strip() for x in terms),
                rule=rule,
                source=str(item.get("source", "")),
                watch_for=str(item.get("watch_for") or item["reason"]).strip(),
                exclude=tuple(x.strip() for x in exclude),
                advice=advice,
                site=site,
                unless=tuple(unless),
                params=params,
                texts=texts,
                context_words=tuple(w.lower() for w in words),
            )
        )
    return findings


def _check_references(reader: _Reader, findings: list[FindingSpec], thresholds: Thresholds) -> None:
    """Every finding id, threshold and disposition a finding's rule names exists."""
    ids = {f.id for f in findings}
    for spec in findings:
        key = f"findings ({spec.id})"
        for other in spec.unless:
            if other not in ids:
                raise reader.fail(f"{key}.unless", f"no finding {other!r}")
        for name in ("companion", "unmeasurable"):
            if name in spec.params and spec.params[name] not in ids:
                raise reader.fail(f"{key}.{name}", f"no finding {spec.params[name]!r}")
        for name in ("threshold", "escalate_after"):
            if name in spec.params and not hasattr(thresholds, str(spec.params[name])):
                raise reader.fail(f"{key}.{name}", f"no threshold {spec.params[name]!r}")
        if "beyond" in spec.params and spec.params["beyond"] not in DISPOSITIONS:
            raise reader.fail(f"{key}.beyond", f"unknown disposition {spec.params['beyond']!r}")


def _with_general_emergencies(
    reader: _Reader, name: object, findings: list[FindingSpec]
) -> tuple[list[FindingSpec], dict[str, str]]:
    """Add the general emergency net (a file beside the protocol) to the protocol's findings."""
    if not isinstance(name, str) or not name.strip():
        raise reader.fail("general_emergencies", "expected a file name")
    path = Path(reader.path).parent / name
    net = _Reader(str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise reader.fail("general_emergencies", f"file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: not valid YAML: {exc}") from None
    data = net.mapping(raw, "(top level)")
    general = _findings(net, net.get(data, "findings", ""), "findings")
    ids = {f.id for f in findings}
    for spec in general:
        if spec.disposition != "emergency":
            raise net.fail(f"findings ({spec.id}).disposition", "the general net holds emergencies only")
        if spec.id in ids:
            raise net.fail(f"findings ({spec.id})", f"id also used in {reader.path}")
    advice = {str(k): net.text(data["advice"], k, "advice") for k in net.mapping(data.get("advice", {}), "advice")}
    # Emergencies first, so the net's findings sit with the procedure's own emergencies.
    first = [f for f in findings if f.disposition == "emergency"]
    rest = [f for f in findings if f.disposition != "emergency"]
    return first + general + rest, advice


def _clock(reader: _Reader, value: object, key: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise reader.fail(key, f"expected a time of day like \"10:00\", got {value!r}") from None


def _followup(reader: _Reader, raw: object) -> Followup:
    data = reader.mapping(raw, "followup")
    days = reader.get(data, "checkin_days", "followup")
    if (
        not isinstance(days, list) or not days
        or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 60 for d in days)
        or len(set(days)) != len(days)
    ):
        raise reader.fail("followup.checkin_days", f"expected distinct whole days from 1 to 60, got {days!r}")
    quiet = reader.get(data, "quiet_hours", "followup")
    if not isinstance(quiet, list) or len(quiet) != 2:
        raise reader.fail("followup.quiet_hours", "expected [from, until], e.g. [\"21:00\", \"08:00\"]")
    messages = reader.mapping(reader.get(data, "messages", "followup"), "followup.messages")
    send_at = _clock(reader, reader.get(data, "send_at", "followup"), "followup.send_at")
    quiet_hours = (_clock(reader, quiet[0], "followup.quiet_hours"), _clock(reader, quiet[1], "followup.quiet_hours"))
    if in_quiet_hours(send_at, quiet_hours):
        raise reader.fail("followup.send_at", "falls in the quiet hours")
    words = {}
    for name in ("yes_words", "no_words"):
        value = reader.get(data, name, "followup")
        if not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
            raise reader.fail(f"followup.{name}", "expected a list of words")
        words[name] = frozenset(str(w).lower() for w in value)
    days_text = reader.mapping(reader.get(data, "days_text", "followup"), "followup.days_text")
    return Followup(
        checkin_days=tuple(sorted(days)),
        send_at=send_at,
        quiet_hours=quiet_hours,
        bloody_question_from_day=reader.whole(data, "bloody_discharge_question_from_day", "followup"),
        messages={name: reader.text(messages, name, "followup.messages") for name in FOLLOWUP_MESSAGES},
        asks_about=reader.text(data, "asks_about", "followup"),
        days_text={name: reader.text(days_text, name, "followup.days_text") for name in ("today", "one", "many", "unknown")},
        **words,
    )


def in_quiet_hours(moment: time, quiet: tuple[time, time]) -> bool:
    """Whether a time of day lies in the quiet hours (which may wrap past midnight)."""
    start, end = quiet
    return start <= moment or moment < end if start > end else start <= moment < end
