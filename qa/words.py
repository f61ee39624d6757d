"""Words: the one tokeniser of qa. Keyword search, sentence scoring, grounding, follow-up
conversations and training pairs all split and normalize text here, so a word that matches in
one place matches in every other.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_POSSESSIVE = re.compile(r"'s?$")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours yourself yourselves many much long said says say
    tell told according""".split()
)


@functools.lru_cache(maxsize=1 << 17)
def stem(word: str) -> str:
    """A deliberately light suffix strip: enough to match withdraw/withdrawn/withdrawal.
    Cached: ranking a question's candidates stems thousands of words, most of them seen before."""
    for suffix in ("ations", "ation", "ings", "ing", "als", "al", "ies", "es", "ed", "n", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stopwords, no possessive 's),
    in text order."""
    return list(_content_words(text))


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, stemmed lower-case word) for every word of `text`, stopwords included."""
    return list(_word_spans(text))


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "Þ": "Th",
    }
)


def without_accents(text: str) -> str:
    """`text` with accents taken off its letters ("Gdańsk" → "Gdansk"), so that a word matches
    however it was typed; other characters are kept (offsets may move where one decomposes)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Both cached by text: the ranker reads the same retrieved sentences question after question.
@functools.lru_cache(maxsize=1 << 15)
def _content_words(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text) if w not in STOPWORDS)


@functools.lru_cache(maxsize=1 << 15)
def _word_spans(text: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (m.start(), m.end(), stem(_POSSESSIVE.sub("", m.group().lower())))
        for m in _WORD.finditer(text)
    )


def words(text: str) -> list[str]:
    """Lower-case words of `text` without accents or possessive 's, not stemmed, stopwords
    included, in text order: the words as a person typed them."""
    found = (_POSSESSIVE.sub("", w) for w in _WORD.findall(without_accents(text).lower()))
    return [w for w in found if w]
