"""Text folding before every detector: look-alike letters, invisible characters, emoji, stretched
letters, letters typed one by one, numbers in words (English and Spanish), the language guess."""
from __future__ import annotations

import pytest

from aftercare.triage.normalise import guess_language, normalise


@pytest.mark.parametrize(("text", "expected"), [
    ("сhеst раin", "chest pain"),  # Cyrillic look-alikes
    ("fe\u200bver 101", "fever 101"),  # zero-width space
    ("ＦＥＶＥＲ １０１.５", "fever 101.5"),  # full-width forms
    ("sooo swolllen", "soo swollen"),
    ("c h e s t   p a i n", "chest   pain"),
    ("1O1.5", "101.5"),
    ("a hundred and one point four", "a 101.4"),
    ("one oh two", "102"),
    ("thirty nine point two", "39.2"),
    ("tengo treinta y nueve de fiebre", "tengo 39 de fiebre"),
    ("treinta y ocho y medio de temperatura", "38.5 de temperatura"),
    ("hace cinco días", "hace 5 dias"),
    ("hoy es el sexto dia", "hoy es el 6o dia"),
    ("no one knows", "no one knows"),
])
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_emoji_become_words() -> None:
    assert "thermometer face" in normalise("🤒") and "hot face" in normalise("🥵")


@pytest.mark.parametrize(("text", "language"), [
    ("me duele mucho el seno desde ayer", "es"),
    ("quiero matarme", "es"),
    ("my breast is sore since yesterday", "en"),
    ("101.5", "en"),
])
def test_language_guess(text: str, language: str) -> None:
    assert guess_language(normalise(text)) == language
