"""A learned red-flag detector: how urgent a whole message reads, independent of the protocol's terms.

Character n-grams (typos, shorthand, look-alike spellings) and word n-grams over the normalised text
(words just after a denial marked as denied), into a logistic regression with four classes:
``emergency``, ``call_physician``, ``expected`` and ``none``. Trained from ``training/triage/*.yml``
(lay paraphrases, typos, Spanish, general emergencies and hard negatives) by ``make train``; the engine
uses it only to raise a level, never to lower one.

Usage: ``python -m aftercare.triage.classifier TRAINING_DIR MODEL_FILE`` trains and saves.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import joblib
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from aftercare.triage.normalise import normalise

LEVELS = ("emergency", "call_physician", "expected", "none")
#: The most characters of a message the classifier reads (the start of a long message; the term
#: detectors read all of it). Keeps the cost of one message bounded.
MAX_CHARS = 2000


class TrainingDataError(ValueError):
    """A training file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Example:
    """One training message and its level."""

    text: str
    level: str
    source: str


def load_examples(folder: Path) -> list[Example]:
    """Every example of every ``*.yml`` file in the folder: ``{level: ..., lang: ..., examples: [...]}``."""
    examples: list[Example] = []
    files = sorted(folder.glob("*.yml"))
    if not files:
        raise TrainingDataError(f"{folder}: no training files")
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TrainingDataError(f"{path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("level") not in LEVELS or not isinstance(data.get("examples"), list):
            raise TrainingDataError(f"{path}: needs 'level' (one of {', '.join(LEVELS)}) and an 'examples' list")
        for text in data["examples"]:
            if not isinstance(text, str) or not text.strip():
                raise TrainingDataError(f"{path}: every example must be a non-empty string")
            examples.append(Example(text, data["level"], path.name))
    return examples


#: Words that deny what follows them ("no fever", "sin escalofrios"), for the word features only.
NEGATION_CUES = frozenset({
    "no", "not", "never", "without", "nope", "nah", "none", "nor", "neither", "dont", "didnt", "doesnt",
    "isnt", "arent", "wasnt", "havent", "hasnt", "sin", "ni", "nunca", "nada",
})
#: Words and marks that end a denial's reach ("no fever but so winded").
NEGATION_BREAKS = frozenset({
    "but", "and", "now", "just", "only", "except", "though", "still", "so", "pero", "y", "ahora", "solo",
})
#: How many words after a cue count as denied.
NEGATION_REACH = 3
_TOKENS = re.compile(r"[a-z0-9']+|[.,;:!?]")


def mark_negation(text: str) -> str:
    """The word features' view of a message: the few words after a denial get a ``neg_`` prefix.

    "no fever, not red" becomes "no neg_fever not neg_red": a denied symptom is then a feature of its
    own, learned from the hard negatives, instead of counting as the symptom. The reach is short and
    ends at a comma or "but"/"and", as in the context rules, so "no chills and so winded" keeps
    "winded"; the character features still see every word as written.
    """
    out: list[str] = []
    left = 0
    for token in _TOKENS.findall(text):
        if token in ".,;:!?":
            left = 0
            continue
        word = token.replace("'", "")
        if word in NEGATION_BREAKS:
            left = 0
            out.append(word)
        elif word in NEGATION_CUES:
            left = NEGATION_REACH
            out.append(word)
        elif left:
            left -= 1
            out.append("neg_" + word)
        else:
            out.append(word)
    return " ".join(out)


def build_pipeline() -> Pipeline:
    """The untrained model."""
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ("words", TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9_']+", preprocessor=mark_negation,
        )),
    ])
    model = LogisticRegression(C=8.0, max_iter=2000, class_weight="balanced")
    return Pipeline([("features", features), ("model", model)])


def train(examples: Iterable[Example]) -> Pipeline:
    """Fit the model on the examples."""
    items = list(examples)
    pipeline = build_pipeline()
    pipeline.fit([normalise(e.text) for e in items], [e.level for e in items])
    return pipeline


class RedFlagClassifier:
    """A trained model, loaded once per process."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.classes = list(pipeline.classes_)

    @classmethod
    def load(cls, path: Path) -> "RedFlagClassifier":
        """Load a model saved by :func:`save`."""
        return cls(joblib.load(path))

    def probabilities(self, text: str, *, normalised: bool = False) -> dict[str, float]:
        """Probability of each level for one message."""
        clean = text if normalised else normalise(text)
        row = self.pipeline.predict_proba([clean[:MAX_CHARS]])[0]
        return {level: float(p) for level, p in zip(self.classes, row)}


def save(pipeline: Pipeline, path: Path) -> None:
    """Write the trained model (written to a temporary file first, so a reader never sees half a model)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    joblib.dump(pipeline, tmp)
    tmp.replace(path)


def main(argv: list[str]) -> int:
    """Train from a folder of YAML files and save the model."""
    if len(argv) != 2:
        print("usage: python -m aftercare.triage.classifier TRAINING_DIR MODEL_FILE", file=sys.stderr)
        return 2
    try:
        examples = load_examples(Path(argv[0]))
    except TrainingDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save(train(examples), Path(argv[1]))
    counts = {level: sum(1 for e in examples if e.level == level) for level in LEVELS}
    print(f"trained {argv[1]} on {len(examples)} examples: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    # Train through the importable module, so that the saved model names its functions
    # (mark_negation) by their module, not by "__main__", and loads in any process.
    from aftercare.triage import classifier

    sys.exit(classifier.main(sys.argv[1:]))
