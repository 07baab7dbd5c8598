"""Fold what patients type into plain text that every detector reads the same way.

- invisible characters (zero-width spaces and joiners, soft hyphens, direction marks) are removed;
- letters from other alphabets that look like Latin ones ("сhеst" with Cyrillic letters) become Latin
  (``confusable-homoglyphs`` data), before anything else reads the word;
- accents, full-width forms and emoji become ASCII (``anyascii``): "día" -> "dia", "🤒" -> "thermometer face";
- stretched letters are squeezed ("sooo swolllen" -> "soo swollen"; the term matcher's typo tolerance
  and the classifier's character n-grams handle the rest);
- numbers written in words become digits, in English and Spanish (``text2num``): "a hundred and one
  point four" -> "101.4", "treinta y nueve" -> "39"; "one oh two" -> "102".

All steps are linear in the length of the message.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii
from confusable_homoglyphs import confusables
from text_to_num import alpha2digit

_INVISIBLE_CATEGORIES = frozenset({"Cf"})  # format characters: ZWSP, ZWJ, soft hyphen, LRM, BOM ...
_STRETCHED = re.compile(r"([a-z])\1{2,}")
_SPACED = re.compile(r"(?<![a-z])((?:[a-z] ){2,}[a-z])(?![a-z])")  # "c h e s t" -> "chest"
_SPACED_SHORT = re.compile(r"(?<![a-z])([a-z] [a-z])(?![a-z])")  # "i s", once a message is typed so
# "1o1.5" -> "101.5": an "o" after a digit and before a digit or a decimal mark, or after a digit and a
# decimal mark and ending a word ("101.o"). The "o" comes first so that the search jumps from "o" to "o".
_O_FOR_ZERO = re.compile(r"o(?:(?<=\do)(?=[\d.,])|(?<=\d[.,]o)\b|(?<=\do)(?=\d))")
_EMOJI_NAME = re.compile(r":([a-z0-9_+-]+):")
_AND_A_HALF = re.compile(r"\b(\d{2,3}) (?:y medio|and a half|y media)\b")
_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
# "one oh two", "one zero one point five": temperatures read digit by digit.
# (The "one" comes first, with the word boundary before it as a look-behind, so that the search jumps
# from "one" to "one".)
_DIGIT_RUN = re.compile(
    r"(one)(?<!\wone)\s+(oh|o|zero)\s+(zero|oh|o|one|two|three|four|five|six|seven|eight|nine)\b"
    r"(?:\s+point\s+(zero|one|two|three|four|five|six|seven|eight|nine))?"
)
# Function words that tell the two languages the clinic serves apart (content words are shared too often).
_SPANISH_WORDS = frozenset(
    "de del la las el los y que en es un una por con para me mi se no muy pero ya hoy ayer tengo tiene "
    "estoy esta como mas sale duele siento hace desde dias semana cuando donde porque ella le lo quiero "
    "puedo mucho nada todo bien mal algo ahora tambien sus su ayuda siento tiene tienen hay".split()
)
_ENGLISH_WORDS = frozenset(
    "the a an and of to in is it my i me have has had with for on at this that was are be not but so "
    "from you your since day days ago".split()
)


@lru_cache(maxsize=4096)
def _latin_lookalike(ch: str) -> str:
    """The Latin letter a non-Latin letter is confused with, or the letter itself."""
    found = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True)
    if found:
        for homoglyph in found[0]["homoglyphs"]:
            c = homoglyph["c"]
            if len(c) == 1 and c.isascii() and c.isalpha():
                return c
    return ch


def fold_characters(text: str) -> str:
    """Remove invisible characters, turn look-alike letters into Latin ones, then everything into ASCII."""
    # Each step reads one character at a time and leaves ASCII as it is: only the runs of other
    # characters are folded, each distinct run once per message.
    if not text.isascii():
        folded: dict[str, str] = {}

        def fold_run(m: re.Match[str]) -> str:
            run = m.group()
            if run not in folded:
                folded[run] = "".join(map(_fold_character, run))
            return folded[run]

        text = _NON_ASCII.sub(fold_run, text)
    return _EMOJI_NAME.sub(lambda m: " " + m.group(1).replace("_", " ") + " ", text)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=65536)
def _fold_character(ch: str) -> str:
    """One character of a message as ASCII (see fold_characters): "" for an invisible one."""
    if unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
        return ""
    if ch.isalpha() and not ch.isascii() and unicodedata.name(ch, "").split(" ")[0] in ("CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"):
        ch = _latin_lookalike(ch)
    return anyascii(ch.replace("º", "°").replace("˚", "°").replace("°", " deg "))


def squeeze(text: str) -> str:
    """Three or more of the same letter become two ("sooo" -> "soo"); letters typed one by one with
    spaces between them become a word ("c h e s t" -> "chest"); a letter O between digits is a zero."""
    if _SPACED.search(text):
        text = _SPACED.sub(lambda m: m.group(1).replace(" ", ""), text)
        text = _SPACED_SHORT.sub(lambda m: m.group(1).replace(" ", ""), text)
    text = _O_FOR_ZERO.sub("0", text)
    return _STRETCHED.sub(r"\1\1", text)


def numbers_to_digits(text: str, language: str = "en") -> str:
    """Numbers in words become digits ("a hundred and one point four" -> "a 101.4", "38 y medio" -> "38.5")."""
    text = _DIGIT_RUN.sub(_digit_run, text)
    try:
        text = alpha2digit(text, language)
    except Exception:  # text2num raises on a few odd inputs; digits in words then stay words
        pass
    if "º" in text or "ª" in text:
        text = re.sub(r"(\d)[ºª]", r"\1o", text)  # Spanish ordinals from text2num: "6º dia" -> "6o dia"
    if "and a half" in text or "y medi" in text:
        text = _AND_A_HALF.sub(r"\1.5", text)
    return text


def _digit_run(m: re.Match[str]) -> str:
    digits = "".join(_DIGIT_WORDS[w] for w in m.groups()[:3])
    return digits + ("." + _DIGIT_WORDS[m.group(4)] if m.group(4) else "")


def guess_language(folded: str) -> str:
    """'es' when the message reads as Spanish, else 'en' (only the two languages the clinic serves)."""
    words = re.findall(r"[a-z]+", folded)
    spanish = sum(map(_SPANISH_WORDS.__contains__, words))
    english = sum(map(_ENGLISH_WORDS.__contains__, words))
    return "es" if spanish > english else "en"


def normalise(text: str) -> str:
    """The message as every detector reads it: ASCII, lower case, squeezed, numbers as digits."""
    folded = squeeze(fold_characters(text).lower())
    return numbers_to_digits(folded, guess_language(folded))
