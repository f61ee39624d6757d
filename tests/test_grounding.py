"""The question's terms looked up in the archive's vocabulary, and the cited article's evidence."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence

import pytest

from qa.answering.grounding import (
    cited_article_evidence,
    holds_name,
    mentioned,
    missing_terms,
    question_names,
    typed_terms,
)
from qa.answering.ranker import Candidate, QuestionTerms
from qa.types import Article, Sentence
from qa.words import content_words

ARCHIVE = [
    "U.S. President Donald Trump's visit: coalition forces will withdraw from Iraq.",
    "Refugees crossed into Gdańsk; Slovak prime minister Igor Matovič self-isolated.",
    "The al-Quaety family and the Nobel committee; 400 m hurdles; the fire was 9.6 km wide.",
    "Former Slovak leader said the 2019 Time Person of the Year was Greta Thunberg.",
]


class WordSet:
    """A vocabulary of the words `content_words` makes of `texts`, as the keyword index has."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.words = {w for text in texts for w in content_words(text)}
        self.ordered = sorted(self.words)

    def known_words(self, words: Sequence[str]) -> set[str]:
        return {w for w in words if w in self.words}

    def known_prefixes(self, prefixes: Sequence[str]) -> set[str]:
        found = set()
        for prefix in prefixes:
            at = bisect.bisect_left(self.ordered, prefix)
            if at < len(self.ordered) and self.ordered[at].startswith(prefix):
                found.add(prefix)
        return found


VOCABULARY = WordSet(ARCHIVE)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("who won the 2019 Wimbledon final?", ["Wimbledon"]),
        ("who won wimbeldon and the Nobel?", ["wimbeldon"]),
        ("when will COALITION forces withdraw?", []),  # case
        ("what did matovic say in gdansk?", []),  # accents the question left off
        ("what did Matovič say in Gdańsk?", []),  # and typed
        ("how many refugee crossed?", []),  # a plural in the archive
        ("what did trump's visit bring?", []),  # a possessive
        ("when do US forces leave iraq?", []),  # "U.S." written "US"
        ("when will coalition forces withdrew?", []),  # another ending
        ("when will coalitoin forces withdraw?", []),  # a one-letter typo
        ("who shot al-Quaety?", []),  # a hyphenated name held whole
        ("who won the 400m hurdles?", []),  # letters and digits apart in the archive
        ("谁赢了温布尔登", ["谁赢了温布尔登"]),  # no script the index keeps
        ("what is the?", []),  # stopwords only: nothing to look up
        ("🏆", []),
        ("who won the Wimbledon and Wimbledon?", ["Wimbledon"]),  # named once
    ],
)
def test_missing_terms_are_named_as_typed(question: str, missing: list[str]) -> None:
    assert missing_terms(question, VOCABULARY) == missing


def test_an_ending_that_took_a_silent_e_is_forgiven() -> None:
    """Wikinews, 2019-02-19: sixteen states "sued" over the border-wall emergency; a reader asks
    who is "suing"."""
    vocabulary = WordSet(["California and 15 other states sued the Trump administration."])
    question = "which states joined becerra and california in suing trump?"
    assert missing_terms(question, vocabulary) == ["becerra"]
    assert missing_terms("who is suing?", WordSet(["no such word here"])) == ["suing"]


def test_an_ending_that_turned_y_into_i_is_forgiven() -> None:
    """Wikinews, 2020-05-27: AB Aurigae "is more massive than the Sun"; the archive says "heavy"
    elsewhere, and a reader asks how much "heavier" it is."""
    vocabulary = WordSet(["AB Aurigae is more massive than the Sun.", "heavy rain fell"])
    assert missing_terms("how much heavier than the sun is ab aurigae", vocabulary) == []
    assert missing_terms("how much heavier is it?", WordSet(["the Sun"])) == ["heavier"]


def test_a_term_the_archive_hyphenates_to_another_is_held() -> None:
    """Wikinews, 2019-2020: a study of "ESBL-E" bacteria; a reader asks about "esbl"."""
    vocabulary = WordSet(["Researchers traced ESBL-E carriage in E. coli."])
    assert missing_terms("how does esbl e. coli spread?", vocabulary) == []
    assert missing_terms("what is esb?", vocabulary) == ["esb"]


def test_a_short_word_is_not_taken_for_a_longer_one() -> None:
    # "suga" begins "sugar", "flint" is one letter from "faint": short words must match exactly.
    vocabulary = WordSet(["sugar prices rose", "a faint light"])
    assert missing_terms("who is suga, of flint?", vocabulary) == ["suga", "flint"]


def test_typed_terms_skip_stopwords_and_short_words() -> None:
    assert typed_terms("Who is the PM of the UK in 2019?") == ["2019"]
    assert typed_terms("how many died in the Beirut blast") == ["Beirut"]  # common words left


def test_mentioned_quotes_terms() -> None:
    assert mentioned(["Wimbledon"]) == "“Wimbledon”"
    assert mentioned(["a", "b", "c"]) == "“a”, “b” or “c”"


def _candidate(text: str, title: str, published: dt.date | None) -> Candidate:
    article = Article("a", title, text, published=published)
    start = text.index("Thunberg")
    end = text.index(".", start) + 1
    return Candidate(article, Sentence("a", 0, start, end, text[start:end]), {})


def test_cited_article_evidence_names_what_the_article_lacks() -> None:
    candidate = _candidate(
        "Time's 2019 Person of the Year is Greta Thunberg. She is sixteen.",
        "Time picks Thunberg",
        dt.date(2019, 12, 11),
    )
    idf = {w: 1.0 for w in content_words("time person year 2019 2020 tonga thunberg")}
    idf["tonga"] = 5.0

    def evidence(question: str) -> dict[str, float]:
        words = content_words(question)
        weights = {w: idf.get(w, 1.0) for w in words}
        terms = QuestionTerms(tuple(words), weights, frozenset(), frozenset())
        return cited_article_evidence(question, terms, candidate)

    held = evidence("who is time's 2019 person of the year")
    assert held["year_unmatched"] == 0.0 and held["article_missing_max_idf"] == 0.0
    assert held["local_missing_idf"] == 0.0
    assert evidence("who is time's 2020 person of the year")["year_unmatched"] == 1.0
    tonga = evidence("who is the prime minister of tonga")
    assert tonga["article_missing_max_idf"] == 1.0  # the rarest word of the question
    assert tonga["local_missing_idf"] > 0.5
    # A common word the article lacks is a paraphrase, not a missing name.
    assert evidence("who left time's 2019 person of the year")["article_missing_max_idf"] == 0


def test_question_names_read_case_from_the_passages() -> None:
    passages = [
        "Voters in Ohio and Florida went to the polls; the Ohio result came late.",
        "A new poll in the city of Columbus. In New Zealand, Labour won; New Zealand's count.",
        "City officials said the city would vote.",
    ]
    question = "who won ohio's primary in the city, and new zealand's election?"
    # "city" and "new" are written in lower case too often to be names.
    assert question_names(question, passages) == {"ohio", "zealand"}
    # A capital that begins a sentence says nothing.
    assert (
        question_names("what did city officials say?", ["City officials met. City hall."]) == set()
    )
    assert question_names("who won ohio?", []) == set()


def test_a_word_the_question_capitalizes_inside_it_is_a_name() -> None:
    assert question_names("Who is the president of Bolivia?", []) == {"bolivia"}
    assert question_names("In what year did Emma's son visit Paris?", []) == {"emma", "paris"}
    # A question in capitals, or with every word capitalized, says nothing by its case.
    assert question_names("WHO IS THE PRESIDENT OF BOLIVIA?", []) == set()
    assert question_names("Who Is The President Of Bolivia?", []) == set()


def test_holds_name_forgives_accents_and_a_typo_in_a_longer_name() -> None:
    """SQuAD 2.0 dev-a: questions typed "Kucukdeveci", "Groner" and "ARPNET" of paragraphs
    writing "Kücükdeveci", "Groener" and "ARPANET"."""
    article = Article("a", "", "Ms Kücükdeveci worked. In Groener v Minister. ARPANET ran.")
    assert all(holds_name(n, article) for n in ("kucukdeveci", "groner", "arpnet"))
    # A short name must be written as it is: "Rand" is not "Band".
    assert not holds_name("band", Article("b", "", "The Rand corporation."))


def test_holds_name_forgives_only_a_longer_names_ending() -> None:
    article = Article("a", "Vote in England", "Canada and the US Congress voted.")
    assert holds_name("english", article) and holds_name("canadians", article)
    assert holds_name("congress", article)
    assert not holds_name("congo", article)  # a short name must be written whole
    assert not holds_name("ohio", article)


def test_a_name_the_cited_article_never_writes_is_unmatched() -> None:
    candidate = _candidate(
        "Time's 2019 Person of the Year is Greta Thunberg. She is sixteen.",
        "Time picks Thunberg",
        dt.date(2019, 12, 11),
    )

    def unmatched(question: str, names: set[str]) -> float:
        words = content_words(question)
        terms = QuestionTerms(
            tuple(words), dict.fromkeys(words, 1.0), frozenset(), frozenset(), frozenset(names)
        )
        return cited_article_evidence(question, terms, candidate)["name_unmatched"]

    assert unmatched("who is time's person of the year in sweden", {"sweden"}) == 1.0
    assert unmatched("who is time's person of the year", {"time"}) == 0.0
    assert unmatched("who is time's person of the year in sweden", set()) == 0.0
