"""Whether the archive holds what a question names: the question's terms looked up in the
keyword index's own vocabulary, written differently or not.

A question about something no article mentions ("who won the 2019 wimbledon final?") cannot be
answered from the articles, however well some sentence scores: the reader, asked to find a
winner, finds one. So before anything is read, each of the question's words is looked for in
the words the archive's passages hold, forgiving what a typed question does to them: case,
possessives, plurals and other endings (the archive's "refugees" for the question's "refugee"),
a one-letter typo, a hyphenated or letter-and-digit compound split in two, and letters the
index folds (accents: "Rosselló" is "rossello" there). A word found in
none of those forms is missing, and the answer says so, naming it as the question wrote it.
"""

from __future__ import annotations

import bisect
import functools
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from qa.answering.ranker import CONTEXT_WEIGHT, Candidate, QuestionTerms
from qa.types import Article
from qa.words import STOPWORDS, content_words, without_accents

# A question's words as typed, any script: the unit missing terms are named in.
_TYPED_WORD = re.compile(r"[^\W_](?:[^\W_]|['’\-.](?=[^\W_]))*")
_POSSESSIVE = re.compile(r"['’]s?$")
# English words with a Zipf frequency of at least 4 (training/common_words.py, from wordfreq).
COMMON_WORDS = Path(__file__).resolve().parents[1] / "models" / "common-words.txt"
# Compounds the index splits or spells apart: "ex-trump", "400m", "U.S."
_PARTS = re.compile(r"[a-z]+|[0-9]+")
_ALPHABET = string.ascii_lowercase + string.digits
# Shorter words are left alone: "bc", "uk", "eu" are too short to tell a typo from another word.
MIN_TERM_CHARS = 3
# Shortest word whose ending may differ (below this, "suga" would be found in "sugar"), and
# shortest given a one-letter typo (below it, "flint" would be "faint", "hertz" "heitz").
MIN_FUZZY_CHARS = 5
MIN_TYPO_CHARS = 6


class Vocabulary(Protocol):
    """What the lookup reads from the keyword index (`qa.store.lexical.LexicalIndex` is one)."""

    def known_words(self, words: Sequence[str]) -> set[str]:
        """Those of `words` that some passage holds."""
        ...

    def known_prefixes(self, prefixes: Sequence[str]) -> set[str]:
        """Those of `prefixes` that begin a word some passage holds."""
        ...


def _folded(word: str) -> str:
    """`word` lower-cased with accents taken off ("Matovič" → "matovic")."""
    return without_accents(word).lower()


@functools.cache
def common_words() -> frozenset[str]:
    """English words so common that an archive lacking one says nothing (COMMON_WORDS)."""
    lines = COMMON_WORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def typed_terms(question: str) -> list[str]:
    """The question's words that could name something, as typed, in question order, each
    once: not stopwords nor common English words (a missing "leaving" is a paraphrase, a
    missing "Wimbledon" is not), at least MIN_TERM_CHARS long or a number of two digits."""
    return list(_typed_terms(question))


@functools.lru_cache(maxsize=1024)  # asked again for every sentence the answerer weighs
def _typed_terms(question: str) -> tuple[str, ...]:
    terms: dict[str, None] = {}
    common = common_words()
    for match in _TYPED_WORD.finditer(question):
        word = match.group().strip("'’.-")
        folded = _folded(word)
        bare = _POSSESSIVE.sub("", folded)
        if bare in STOPWORDS or bare in common:
            continue
        if len(word) >= MIN_TERM_CHARS or (word.isdigit() and len(word) >= 2):
            terms.setdefault(word)
    return tuple(terms)


def _one_edit(word: str) -> set[str]:
    """Every word one deletion, transposition, substitution or insertion away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return deletes | transposes | replaces | inserts


# Endings added (then stemmed as the archive's words were: "hire" is held as "hir", from
# "hired") or taken off ("fined" as "fine").
_ENDINGS = ("s", "es", "d", "ed", "ing", "er", "ers", "est")
# Endings that turned a final "y" into "i": "heavier" is "heavy", "studied" "study".
_Y_ENDINGS = ("ier", "iest", "ies", "ied", "ily")

Forms = tuple[set[str], set[str]]


def _forms(piece: str) -> Forms:
    """(words, prefixes) that, if the archive holds any, show it holds `piece` (a word as
    typed, or its stem): the piece with an ending added or taken off, the beginning of a
    longer word (an ending the question left off), and for longer pieces a shorter beginning
    (an ending written otherwise) or a word one typo away."""
    bases = {piece}
    for ending in _ENDINGS:
        base = piece[: -len(ending)]
        if piece.endswith(ending) and len(base) >= 2:
            # An ending took the word's silent "e" with it: "suing" and "sued" are "sue".
            bases |= {base + "e"} | ({base} if len(base) >= MIN_TERM_CHARS else set())
    bases |= {
        piece[: -len(e)] + "y" for e in _Y_ENDINGS if piece.endswith(e) and len(piece) > len(e) + 1
    }
    words = {
        w for base in bases for ending in ("", *_ENDINGS) for w in content_words(base + ending)
    }
    words |= bases
    if len(piece) > MIN_TERM_CHARS and piece[-1] == piece[-2]:
        words.add(piece[:-1])  # "fitt" (fitted, fitting) is "fit"
    prefixes = {piece + "-"}  # the first part of a word the archive hyphenates ("ESBL-E")
    if len(piece) >= MIN_FUZZY_CHARS:
        prefixes.add(piece)
    if len(piece) >= MIN_TYPO_CHARS:
        words |= {piece[:k] for k in range(len(piece) - 2, len(piece))}
        words |= _one_edit(piece)
    return words, prefixes


def _spellings(term: str) -> list[list[str]]:
    """The ways the index may hold `term`, each a list of normalized pieces that must all be
    held: as the index splits the term itself ("al-Quaety" whole), and cut at hyphens,
    apostrophes and between letters and digits ("al-Quaety" → quaety, "400m" → 400), short
    pieces left out."""
    folded = _folded(term)
    pieces = [p for p in _PARTS.findall(folded) if len(p) >= MIN_TERM_CHARS or p.isdigit()]
    spellings = [content_words(term), pieces]
    return [pieces for pieces in spellings if pieces]


def missing_terms(question: str, vocabulary: Vocabulary) -> list[str]:
    """The question's terms (`typed_terms`) that no passage holds in any spelling, as typed.

    A word with no Latin letters or digits at all ("温布尔登") cannot be held, since the index
    keeps no other script; a term made only of short pieces ("U.S.") is not looked up.
    """
    looked_up: list[tuple[str, list[list[Forms]]]] = []
    for term in typed_terms(question):
        if not _PARTS.search(_folded(term)):
            looked_up.append((term, []))
            continue
        spellings = [[_forms(p) for p in pieces] for pieces in _spellings(term)]
        if spellings:
            looked_up.append((term, spellings))
    every = [forms for _, spellings in looked_up for pieces in spellings for forms in pieces]
    words = sorted({w for forms in every for w in forms[0]})
    prefixes = sorted({p for forms in every for p in forms[1]})
    known = vocabulary.known_words(words) if words else set()
    known_prefixes = vocabulary.known_prefixes(prefixes) if prefixes else set()

    def held(forms: Forms) -> bool:
        return bool(forms[0] & known or forms[1] & known_prefixes)

    return [
        term
        for term, spellings in looked_up
        if not any(all(map(held, pieces)) for pieces in spellings)
    ]


def mentioned(terms: Iterable[str]) -> str:
    """The terms quoted for a sentence: “Wimbledon”; “Wimbledon” or “Federer”."""
    quoted = [f"“{t}”" for t in terms]
    if len(quoted) < 2:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


# A name is a word the retrieved passages write capitalized inside sentences at least this
# often, and more than NAME_CASE_RATIO times as often as in lower case ("Ohio", "Zealand";
# not "city", nor "new" of "New York").
MIN_NAME_CAPITALS = 2
NAME_CASE_RATIO = 3
# A name of NAME_STEM_FROM letters or more is held by an article writing a word with its first
# NAME_STEM_CHARS ("English" by "England", "Canadians" by "Canada"); a shorter one only by a
# word it begins ("Congo" is not held by "Congress").
NAME_STEM_FROM = 6
NAME_STEM_CHARS = 4


def question_names(question: str, passages: Iterable[str]) -> frozenset[str]:
    """The question's words that are names, in lower case: those its writer capitalized inside
    it ("bolivia" of "Who is the president of Bolivia?"), and those `passages` (the retrieved
    chunks' text) write as names ("ohio" of "who won ohio's primary?"). People often type names
    in lower case, and a common English word may be a place ("Ohio", "Zealand"), so case is also
    read from the archive. Only unaccented words are looked at: the passages are searched as
    written."""
    typed = [m.group() for m in _TYPED_WORD.finditer(question)]
    keys = {_name_key(word) for word in typed if len(word) >= MIN_TERM_CHARS} - {""}
    if not keys:
        return frozenset()
    # A question that capitalizes every word after its first (a title, or all capitals) says
    # nothing by its case.
    cased = any(word[0].islower() for word in typed[1:])
    named = {_name_key(word) for word in typed[1:] if cased and word[0].isupper()} & keys
    alternatives = "|".join(sorted(keys, key=len, reverse=True))
    pattern = re.compile(rf"\b({alternatives})(?:['’]s?)?\b", re.I)
    capitals = dict.fromkeys(keys, 0)
    lower = dict.fromkeys(keys, 0)
    for text in passages:
        for match in pattern.finditer(text):
            key = match.group(1).lower()
            if match.group(1)[0].islower():
                lower[key] += 1
            elif _inside_sentence(text, match.start()):
                capitals[key] += 1
    return frozenset(named) | frozenset(
        k
        for k in keys
        if capitals[k] >= MIN_NAME_CAPITALS and capitals[k] > NAME_CASE_RATIO * lower[k]
    )


def _name_key(word: str) -> str:
    """`word` in lower case without its possessive, or "" if it cannot be a name looked for
    (accented, holding digits, a stopword)."""
    key = _POSSESSIVE.sub("", word.lower())
    return key if key.isascii() and key.isalpha() and key not in STOPWORDS else ""


def _inside_sentence(text: str, at: int) -> bool:
    """Whether the word at `at` follows a lower-case word, a digit or a comma: its capital is
    not a sentence's or a headline's."""
    before = text[max(0, at - 2) : at]
    return (
        len(before) == 2
        and before[1] == " "
        and (before[0].islower() or before[0] in ",;0123456789")
    )


def holds_name(name: str, article: Article) -> bool:
    """Whether `article` writes `name` (lower case), accents aside ("Kucukdeveci" is held by
    "Kücükdeveci"): for a longer name a word of its stem, or a word one typo away from it
    ("Groner" by "Groener", "ARPNET" by "ARPANET")."""
    words = _folded_words(article.title, article.text)
    prefix = name[:NAME_STEM_CHARS] if len(name) >= NAME_STEM_FROM else name
    at = bisect.bisect_left(words, prefix)
    if at < len(words) and words[at].startswith(prefix):
        return True
    return len(name) >= MIN_TYPO_CHARS and not _one_edit(name).isdisjoint(words)


@functools.lru_cache(maxsize=256)  # the same few articles are judged for every read sentence
def _folded_words(title: str, text: str) -> tuple[str, ...]:
    """The words of an article's title and text, lower-cased without accents, sorted."""
    return tuple(sorted(set(re.findall(r"[a-z0-9]+", _folded(f"{title} {text}")))))


_YEAR = re.compile(r"\b(?:1[6-9]|20)\d\d\b")
# Characters either side of a cited sentence that count as its neighbourhood (about a sentence).
NEARBY_CHARS = 250


# How much a common English word counts, against an uncommon one, when the words a text lacks
# are weighed: a missing "leaving" is most often a paraphrase ("withdraw"), a missing
# "Glasgow" another story.
COMMON_WORD_WEIGHT = 0.5


def _missing_share(
    terms: QuestionTerms, own: set[str], uncommon: set[str], held: set[str]
) -> float:
    """The share of the question's words (idf-weighted, common ones at COMMON_WORD_WEIGHT)
    that `held` lacks. Words carried from earlier turns count fully here: "why are they
    leaving?" is about the coalition forces the turn before named."""
    weights = {
        w: terms.idf[w]
        * (1.0 if w in uncommon else COMMON_WORD_WEIGHT)
        * (1.0 if w in own else 1.0 / CONTEXT_WEIGHT)
        for w in terms.words
    }
    total = sum(weights.values())
    return sum(v for w, v in weights.items() if w not in held) / total if total else 0.0


def cited_article_evidence(
    question: str, terms: QuestionTerms, cited: Candidate
) -> dict[str, float]:
    """How well the cited sentence's article holds what the question names (features of the
    answer decision, qa.answering.decision.DECISION_FEATURES):

    - `local_missing_idf`: the share of the question's words (idf-weighted, common ones
      counting less) that neither the sentence, the text around it nor the headline holds;
    - `article_missing_max_idf`: the rarest of the question's uncommon words (`typed_terms`: a
      missing "leaving" is a paraphrase) that the whole article lacks, its idf over the
      question's highest: a name the article never writes ("Glasgow" asked, a stabbing in
      Reading cited);
    - `year_unmatched`: the question names a year that the sentence's neighbourhood, its dates
      and the article's own date all miss ("2020" asked of the 2019 prize's article);
    - `name_unmatched`: a name the question gives (`QuestionTerms.names`) that the article never
      writes ("ohio" asked, South Carolina's primary cited).
    """
    article, sentence = cited.article, cited.sentence
    nearby = article.text[max(0, sentence.start - NEARBY_CHARS) : sentence.end + NEARBY_CHARS]
    local_text = f"{article.title} {nearby}"
    article_words = set(content_words(article.title)) | set(content_words(article.text))
    own = [w for w in dict.fromkeys(content_words(question)) if w in terms.idf]
    highest = max((terms.idf[w] for w in own), default=0.0) or 1.0
    uncommon = [w for w in content_words(" ".join(typed_terms(question))) if w in terms.idf]
    missing = [terms.idf[w] for w in uncommon if w not in article_words]
    local_words = set(content_words(local_text))
    years = set(_YEAR.findall(question))
    held_years = set(_YEAR.findall(local_text))
    if article.published is not None:
        held_years.add(str(article.published.year))
    return {
        "local_missing_idf": _missing_share(terms, set(own), set(uncommon), local_words),
        "article_missing_max_idf": max(missing, default=0.0) / highest,
        "year_unmatched": float(bool(years - held_years)),
        "name_unmatched": float(not all(holds_name(n, article) for n in terms.names)),
    }
