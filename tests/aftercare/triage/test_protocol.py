"""The protocol file loads, and a broken copy is refused with a message naming file, key and problem."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from aftercare.triage.protocol import DISPOSITIONS, ProtocolError, load_protocol, most_urgent, rank

PROTOCOL = Path(__file__).resolve().parents[3] / "protocols" / "ductogram.yml"


def _raw() -> dict[str, Any]:
    return yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))


def _finding(data: dict[str, Any], fid: str) -> dict[str, Any]:
    return next(f for f in data["findings"] if f["id"] == fid)


def _write(tmp_path: Path, data: dict[str, Any], general: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "broken-protocol.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    net = PROTOCOL.parent / "general-emergencies.yml"
    text = net.read_text(encoding="utf-8") if general is None else yaml.safe_dump(general, allow_unicode=True)
    (tmp_path / "general-emergencies.yml").write_text(text, encoding="utf-8")
    rules = PROTOCOL.parent / "context-rules.yml"
    (tmp_path / "context-rules.yml").write_text(rules.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _general() -> dict[str, Any]:
    return yaml.safe_load((PROTOCOL.parent / "general-emergencies.yml").read_text(encoding="utf-8"))


def test_general_emergency_net_is_part_of_the_protocol() -> None:
    protocol = load_protocol(PROTOCOL)
    ids = {f.id for f in protocol.findings}
    assert {"stroke_signs", "seizure", "self_harm", "child_in_danger"} <= ids
    assert protocol.finding("self_harm").advice == "crisis_line" and "988" in protocol.advice["crisis_line"]


def test_general_emergency_net_missing_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _raw())
    (tmp_path / "general-emergencies.yml").unlink()
    with pytest.raises(ProtocolError, match="general_emergencies: file not found"):
        load_protocol(path)


def test_general_emergency_net_holds_emergencies_only(tmp_path: Path) -> None:
    general = _general()
    general["findings"][0]["disposition"] = "call_physician"
    path = _write(tmp_path, _raw(), general)
    with pytest.raises(ProtocolError, match="general-emergencies.yml: findings \\(stroke_signs\\).disposition"):
        load_protocol(path)


def test_general_emergency_net_cannot_reuse_a_protocol_id(tmp_path: Path) -> None:
    general = _general()
    general["findings"][0]["id"] = "fever"
    with pytest.raises(ProtocolError, match="id also used"):
        load_protocol(_write(tmp_path, _raw(), general))


def test_unknown_advice_on_a_finding_is_refused(tmp_path: Path) -> None:
    general = _general()
    general["findings"][0]["advice"] = "nothing_by_that_name"
    with pytest.raises(ProtocolError, match="no advice text"):
        load_protocol(_write(tmp_path, _raw(), general))


@pytest.mark.parametrize("value", [0, 1.5, "high"])
def test_classifier_thresholds_are_probabilities(tmp_path: Path, value: Any) -> None:
    data = _raw()
    data["classifier"]["emergency_at"] = value
    with pytest.raises(ProtocolError, match="classifier.emergency_at"):
        load_protocol(_write(tmp_path, data))


# ---------------------------------------------------------------------------- the real protocol
def test_real_protocol_loads() -> None:
    p = load_protocol(PROTOCOL)
    assert p.id == "ductogram"
    assert p.version == "ductogram-2026.11.1"
    assert p.path == str(PROTOCOL)


def test_real_protocol_thresholds_match_clinical_protocol() -> None:
    t = load_protocol(PROTOCOL).thresholds
    assert t.fever_over_f == 100.5
    assert t.plausible_temperature_f == (90.0, 110.0)
    assert t.plausible_temperature_c == (32.0, 43.0)
    assert t.bloody_discharge_escalate_after_day == 4
    assert t.expected_pain_days == 3


def test_real_protocol_has_all_dispositions_and_rules() -> None:
    p = load_protocol(PROTOCOL)
    assert set(p.dispositions) == set(DISPOSITIONS)
    assert p.finding("fever").rule == "temperature"
    assert p.finding("bloody_discharge").rule == "day_window"
    assert p.finding("pain").rule == "day_window"
    assert p.finding("bloody_discharge").params["escalate_after"] == "bloody_discharge_escalate_after_day"
    ids = [f.id for f in p.findings]
    assert len(ids) == len(set(ids))
    assert "safe_fallback" in p.conversation
    assert "911" in p.conversation["safe_fallback"]


def test_an_intent_on_a_finding_is_refused_as_no_longer_read(tmp_path: Path) -> None:
    # NLU intents used to add findings; they only added over-triage (see engine.py), so a protocol
    # that still names one must say so rather than seem to do something.
    general = _general()
    general["findings"][0]["intent"] = "report_emergency"
    with pytest.raises(ProtocolError, match="intent: no longer read"):
        load_protocol(_write(tmp_path, _raw(), general))


def test_rank_orders_dispositions() -> None:
    assert rank("emergency") > rank("call_physician") > rank("self_care") > rank("information") > rank(None)
    assert most_urgent("self_care", None, "call_physician", "information") == "call_physician"
    assert most_urgent(None, None) is None


# ---------------------------------------------------------------------------- broken copies
def _delete(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _set_finding(fid: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        _finding(data, fid)[key] = value

    return mutate


def _del_finding_key(fid: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        del _finding(data, fid)[key]

    return mutate


def _duplicate_finding(fid: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["findings"].append(dict(_finding(data, fid)))

    return mutate


def _remove_finding(fid: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["findings"] = [f for f in data["findings"] if f["id"] != fid]

    return mutate


MUTATIONS = [
    # id, mutation, expected substrings of the error message (besides the file name)
    pytest.param(_delete(("thresholds", "fever_over_f")), ["thresholds.fever_over_f", "missing"], id="missing-fever-threshold"),
    pytest.param(_delete(("thresholds", "bloody_discharge_escalate_after_day")),
                 ["thresholds.bloody_discharge_escalate_after_day", "missing"], id="missing-bloody-day"),
    pytest.param(_delete(("thresholds", "plausible_temperature_c")),
                 ["thresholds.plausible_temperature_c", "missing"], id="missing-plausible-c"),
    pytest.param(_delete(("thresholds",)), ["thresholds", "missing"], id="missing-thresholds-section"),
    pytest.param(_delete(("protocol", "version")), ["protocol.version", "missing"], id="missing-version"),
    pytest.param(_delete(("dispositions", "emergency")), ["dispositions.emergency", "missing"], id="missing-disposition"),
    pytest.param(_delete(("questions", "temperature")), ["questions.temperature", "missing"], id="missing-question"),
    pytest.param(_delete(("conversation", "safe_fallback")), ["conversation.safe_fallback", "missing"], id="missing-safe-fallback"),
    pytest.param(_delete(("advice", "pain")), ["findings (pain).advice", "no advice text 'pain'"], id="missing-advice"),
    pytest.param(_set(("thresholds", "fever_over_f"), "hot"), ["thresholds.fever_over_f", "expected a number", "hot"], id="fever-threshold-text"),
    pytest.param(_set(("thresholds", "fever_over_f"), True), ["thresholds.fever_over_f", "expected a number"], id="fever-threshold-bool"),
    pytest.param(_set(("thresholds", "expected_pain_days"), 2.5), ["thresholds.expected_pain_days", "whole number"], id="pain-days-float"),
    pytest.param(_set(("thresholds", "bloody_discharge_escalate_after_day"), -1),
                 ["thresholds.bloody_discharge_escalate_after_day", "whole number"], id="bloody-days-negative"),
    pytest.param(_set(("thresholds", "plausible_temperature_f"), [110, 90]), ["thresholds.plausible_temperature_f", "low < high"], id="plausible-range-reversed"),
    pytest.param(_set(("thresholds", "plausible_temperature_f"), 100), ["thresholds.plausible_temperature_f", "[low, high]"], id="plausible-range-scalar"),
    pytest.param(_set(("thresholds", "fever_over_f"), 38.0), ["thresholds.fever_over_f", "plausible_temperature_f"], id="fever-threshold-celsius-value"),
    pytest.param(_set(("thresholds", "fever_over_f"), 120), ["thresholds.fever_over_f", "plausible_temperature_f"], id="fever-threshold-too-high"),
    pytest.param(_set(("thresholds", "fever_over_f"), 90), ["thresholds.fever_over_f", "plausible_temperature_f"], id="fever-threshold-at-low-bound"),
    pytest.param(_set_finding("chills", "disposition", "urgent_care"), ["chills", "disposition", "unknown disposition", "urgent_care"], id="finding-unknown-disposition"),
    pytest.param(_set_finding("pain", "rule", "duration"), ["pain", "rule", "unknown rule", "duration"], id="finding-unknown-rule"),
    # Rules are data: any registered rule may be named, with the settings it reads.
    pytest.param(_set_finding("fever", "rule", "thermometer"), ["fever", "rule", "unknown rule", "day_window"], id="unknown-rule"),
    pytest.param(_set_finding("redness", "rule", "day_window"), ["redness", "escalate_after", "missing key"], id="rule-without-its-settings"),
    pytest.param(_set_finding("pain", "escalate_after", "pain_days"), ["pain", "escalate_after", "no threshold"], id="rule-names-unknown-threshold"),
    pytest.param(_set_finding("pain", "beyond", "urgent"), ["pain", "beyond", "unknown disposition"], id="rule-names-unknown-disposition"),
    pytest.param(_remove_finding("bloody_discharge"), ["unless", "no finding 'bloody_discharge'"], id="referenced-finding-removed"),
    pytest.param(_duplicate_finding("redness"), ["redness", "duplicate id"], id="duplicate-finding-id"),
    pytest.param(_set_finding("redness", "terms", ["red|"]), ["redness", "terms", "red|"], id="term-empty-alternative"),
    pytest.param(_set_finding("redness", "terms", ["red + "]), ["redness", "terms", "empty part"], id="term-empty-part"),
    pytest.param(_set_finding("redness", "terms", ["red-ness"]), ["redness", "terms", "red-ness"], id="term-bad-character"),
    pytest.param(_set_finding("redness", "terms", []), ["redness", "terms", "non-empty list"], id="terms-empty-list"),
    pytest.param(_set_finding("redness", "terms", "red"), ["redness", "terms", "non-empty list"], id="terms-not-a-list"),
    pytest.param(_del_finding_key("redness", "reason"), ["redness", "reason", "missing"], id="finding-missing-reason"),
    pytest.param(_del_finding_key("redness", "disposition"), ["redness", "disposition", "missing"], id="finding-missing-disposition"),
    pytest.param(_set(("dispositions", "urgent_care"), {"label": "x", "message": "y"}), ["dispositions.urgent_care", "unknown disposition"], id="unknown-disposition-section"),
    pytest.param(_set(("findings",), []), ["findings", "non-empty list"], id="findings-empty"),
    pytest.param(_set(("information", "duration", "answer"), ""), ["information.duration.answer", "non-empty text"], id="empty-information-answer"),
]


@pytest.mark.parametrize(("mutate", "expected"), MUTATIONS)
def test_broken_protocol_is_refused(tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    data = _raw()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_unmodified_copy_loads(tmp_path: Path) -> None:
    """The mutation harness itself does not break the file: a plain round-trip loads."""
    path = _write(tmp_path, _raw())
    assert load_protocol(path).version == "ductogram-2026.11.1"


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("thresholds:\n  fever_over_f: [100.5\n  other: 1\n", encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert str(path) in str(info.value)
    assert "YAML" in str(info.value)


def test_invalid_yaml_tab_indent(tmp_path: Path) -> None:
    path = tmp_path / "tabs.yml"
    path.write_text(PROTOCOL.read_text(encoding="utf-8").replace("  fever_over_f", "\tfever_over_f", 1), encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert str(path) in str(info.value)
    assert "YAML" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert str(path) in str(info.value)
    assert "not found" in str(info.value)


@pytest.mark.parametrize("content", ["", "just a string\n", "- a\n- list\n"], ids=["empty", "scalar", "list"])
def test_top_level_not_a_mapping(tmp_path: Path, content: str) -> None:
    path = tmp_path / "top.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert str(path) in str(info.value)
    assert "mapping" in str(info.value)


def test_protocol_error_is_a_value_error() -> None:
    assert issubclass(ProtocolError, ValueError)


@pytest.mark.parametrize(("change", "problem"), [
    ({"self_care_at": 0.7}, "self_care_advice: expected the name of an advice text"),
    ({"self_care_at": 0.7, "self_care_advice": "nothing_by_that_name"}, "no advice text"),
    ({"self_care_at": 1.5, "self_care_advice": "pain"}, "self_care_at: expected a probability"),
])
def test_the_classifier_expected_level_is_checked(tmp_path: Path, change: dict[str, Any], problem: str) -> None:
    raw = _raw()
    raw["classifier"] = {k: v for k, v in raw["classifier"].items() if not k.startswith("self_care_")} | change
    with pytest.raises(ProtocolError, match=problem):
        load_protocol(_write(tmp_path, raw))


def test_without_self_care_at_the_classifier_never_answers_expected(tmp_path: Path) -> None:
    raw = _raw()
    raw["classifier"] = {k: v for k, v in raw["classifier"].items() if not k.startswith("self_care_")}
    raw["classifier"]["reasons"].pop("self_care")
    p = load_protocol(_write(tmp_path, raw))
    assert p.classifier.self_care_at is None and "self_care" not in p.classifier.reasons
