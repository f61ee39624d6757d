"""Sentence ranking, short answers and abstention, on the seed article with the real model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from conftest import SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START
from qa.answering.answerer import NearestSentenceAnswerer, SentenceAnswerer
from qa.answering.ranker import Candidate, expected_labels
from qa.answering.spans import bounded_span
from qa.ingest.sentences import SpacySplitter, to_sentences
from qa.models.reader import AbstentionModel, ReaderCalibration, Reading, SpanReader
from qa.types import Article, ResolvedDate, Sentence
from qa.wiring import Components

SEED_SENTENCE = (
    "On Aug. 20, U.S. President Donald Trump confirmed to Iraqi Prime Minister Mustafa "
    "al-Kadhimi during the latter's official visit to the United States that the U.S.-led "
    "coalition forces will rapidly withdraw from Iraq within three years."
)


@pytest.mark.parametrize(
    ("question", "labels"),
    [
        (SEED_QUESTION, {"DATE", "TIME"}),
        ("In what year did the crisis start?", {"DATE", "TIME"}),
        ("How many troops remain?", {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
        ("Who confirmed the withdrawal?", {"PERSON", "ORG", "NORP"}),
        ("Where is the embassy?", {"GPE", "LOC", "FAC"}),
        ("Why did prices rise?", set()),
    ],
)
def test_expected_labels(question: str, labels: set[str]) -> None:
    assert expected_labels(question) == labels


def test_seed_question_cites_the_time_sentence(seed_components: Components) -> None:
    """The "timetable" sentence shares the question's words; only the seed sentence says when."""
    answer = seed_components.pipeline.ask(SEED_QUESTION, top_k=3)
    top = answer.citations[0]
    assert top.sentence.text.startswith(SEED_SENTENCE_START)
    assert top.sentence.text.endswith(SEED_SENTENCE_END)
    assert answer.answerable and answer.answer == "within three years"
    assert ResolvedDate("within three years", "2023-08-20", "by") in top.resolved_dates
    assert 0.0 <= answer.confidence <= 1.0


def test_unrelated_question_abstains_with_closest_matches(seed_components: Components) -> None:
    answer = seed_components.pipeline.ask("What is the boiling point of mercury in kelvin?", 2)
    assert not answer.answerable and answer.answer is None
    assert len(answer.citations) == 2  # still shown, as closest matches


def test_a_time_span_keeps_its_bounding_preposition_only(splitter: SpacySplitter) -> None:
    [spans] = splitter.split([SEED_SENTENCE])
    [sentence] = to_sentences("seed", SEED_SENTENCE, spans)
    three_years = SEED_SENTENCE.index("three years")
    assert bounded_span(sentence, three_years, three_years + len("three years")) == (
        "within three years"
    )
    # "on Aug. 20" means the day itself; a name is not a time.
    aug = SEED_SENTENCE.index("Aug. 20")
    assert bounded_span(sentence, aug, aug + len("Aug. 20")) == "Aug. 20"
    trump = SEED_SENTENCE.index("Donald Trump")
    assert bounded_span(sentence, trump, trump + len("Donald Trump")) == "Donald Trump"


def test_nearest_sentence_baseline_rejects_unknown_signal() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        NearestSentenceAnswerer("tfidf")


class ScriptedReader(SpanReader):
    """A SpanReader whose model is a script: a sentence scores +5 if it contains `favourite`,
    else -5, as one whole-sentence span; the calibration lets that score decide. `batches`
    records what each read was given."""

    def __init__(
        self, favourite: str, rank_weight: float = 0.0, first_depth: int = 0, depth: int = 8
    ) -> None:
        super().__init__(
            calibration=ReaderCalibration(depth, rank_weight, 1.0, 0.0, 0.0, first_depth, 1.0)
        )
        self.favourite = favourite
        self.batches: list[list[str]] = []

    def warm_up(self) -> None:
        pass

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        self.batches.append(list(sentences))
        return [
            Reading(
                np.asarray([5.0 if self.favourite and self.favourite in s else -5.0]),
                np.zeros(1, dtype=np.float32),
                np.asarray([[0, len(s)]]),
                0.0,
            )
            for s in sentences
        ]


def with_reader(components: Components, reader: ScriptedReader) -> None:
    components.pipeline.answerer = SentenceAnswerer(0.5, reader=reader)


def test_the_reader_reorders_the_best_sentences(seed_components: Components) -> None:
    with_reader(seed_components, ScriptedReader("timetable"))
    answer = seed_components.pipeline.ask(SEED_QUESTION, top_k=3)
    assert "timetable" in answer.citations[0].sentence.text
    assert answer.answerable and answer.confidence > 0.99  # logistic(5), the reader's say

    # Weighted heavily, the ranker's order wins again.
    with_reader(seed_components, ScriptedReader("timetable", rank_weight=100.0))
    assert (
        seed_components.pipeline.ask(SEED_QUESTION, 3)
        .citations[0]
        .sentence.text.startswith(SEED_SENTENCE_START)
    )


def candidates(texts: Sequence[str]) -> list[Candidate]:
    """The sentences `texts` of one article, as the ranker hands them on, in order."""
    article = Article("a", "A headline", " ".join(texts))
    found, start = [], 0
    for position, text in enumerate(texts):
        sentence = Sentence("a", position, start, start + len(text), text)
        found.append(Candidate(article, sentence, {}, 0.0))
        start += len(text) + 1
    return found


def test_reading_stops_after_the_first_sentences_when_one_of_them_answers() -> None:
    ranked = candidates(["one", "two", "three", "four", "five"])
    reader = ScriptedReader("two", first_depth=2, depth=4)
    assert len(SentenceAnswerer(0.5, reader=reader).read("q", ranked)[0]) == 2
    assert reader.batches == [["one", "two"]]

    reader = ScriptedReader("three", first_depth=2, depth=4)
    read, _ = SentenceAnswerer(0.5, reader=reader).read("q", ranked)
    assert reader.batches == [["one", "two"], ["three", "four"]]
    assert read[0].candidate.sentence.text == "three" and len(read) == 4

    reader = ScriptedReader("two", depth=4)  # first_depth 0: all at once
    SentenceAnswerer(0.5, reader=reader).read("q", ranked)
    assert reader.batches == [["one", "two", "three", "four"]]


class SpanReaderScript(SpanReader):
    """A SpanReader whose model is a script: in each sentence, the span `spans[sentence]`
    scores its value, every other span far less."""

    def __init__(self, spans: dict[str, tuple[str, float]], type_penalty: float) -> None:
        super().__init__(calibration=ReaderCalibration(8, 0.0, 1.0, 0.0, 0.0, 0, 0.0, type_penalty))
        self.spans = spans

    def warm_up(self) -> None:
        pass

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        readings = []
        for sentence in sentences:
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence)]
            span, score = self.spans[sentence]
            start, end = sentence.index(span), sentence.index(span) + len(span)
            starts = np.asarray([score / 2 if a == start else -20.0 for a, _ in words])
            ends = np.asarray([score / 2 if b == end else -20.0 for _, b in words])
            readings.append(Reading(starts, ends, np.asarray(words), 0.0))
        return readings


def test_the_kind_of_answer_picks_the_time_over_the_year() -> None:
    texts = [
        "Yesterday Brigid Kosgei won the 2019 Chicago Marathon.",
        "Kosgei completed the race in 2:14:04 on Sunday.",
    ]
    ranked = candidates(texts)
    spans = {texts[0]: ("2019", 5.0), texts[1]: ("2:14:04", 2.0)}
    question = "what time did Kosgei run in Chicago?"

    def cited(type_penalty: float) -> str:
        answerer = SentenceAnswerer(0.5, reader=SpanReaderScript(spans, type_penalty))
        top = answerer.read(question, ranked)[0][0]
        return top.candidate.sentence.text[top.start : top.end]

    assert cited(type_penalty=0.0) == "2019"  # the reader's own choice
    assert cited(type_penalty=6.0) == "2:14:04"  # a year is not a time of day


def test_a_name_the_cited_article_lacks_is_an_abstention(dated_components: Components) -> None:
    """ "Biden" is in the archive (so no missing term), but not in the northern bases' article."""
    reader = ScriptedReader("northern bases")
    model = AbstentionModel({"reader": 1.0, "article_missing_max_idf": -10.0}, 0.0, 0.5)
    reader._calibration = replace(reader.calibration, abstention=model)
    dated_components.pipeline.answerer = SentenceAnswerer(
        None, dated_components.lexical, reader=reader
    )
    question = "when will coalition forces withdraw from the northern bases"
    answer = dated_components.pipeline.ask(f"{question}?", 3)
    assert answer.answerable and answer.abstain_reason is None
    answer = dated_components.pipeline.ask(f"{question}, according to Biden?", 3)
    assert "northern bases" in answer.citations[0].sentence.text
    assert not answer.answerable and answer.abstain_reason == "not_in_cited_article"
    assert answer.missing_terms == ()


def test_a_name_the_archive_writes_but_the_cited_article_lacks_abstains(
    dated_components: Components,
) -> None:
    """ "Iraqi" is written as a name in the retrieved passages, but not in the undated notes
    that the reader likes best: another story, whatever the decision's model says."""
    reader = ScriptedReader("within two years")
    reader._calibration = replace(
        reader.calibration, abstention=AbstentionModel({"reader": 1.0}, 0.0, 0.5)
    )
    dated_components.pipeline.answerer = SentenceAnswerer(
        None, dated_components.lexical, reader=reader
    )
    answer = dated_components.pipeline.ask("when will coalition forces withdraw from iraq?", 3)
    assert answer.answerable and "within two years" in (answer.answer or "")
    asked = "when will coalition forces withdraw, said an iraqi diplomat?"
    answer = dated_components.pipeline.ask(asked, 3)
    assert "within two years" in answer.citations[0].sentence.text
    assert not answer.answerable and answer.abstain_reason == "not_in_cited_article"
    assert answer.missing_terms == ()  # the archive holds it


def test_a_term_no_article_holds_abstains_before_reading(seed_components: Components) -> None:
    reader = ScriptedReader("within three years")
    seed_components.pipeline.answerer = SentenceAnswerer(
        None, seed_components.lexical, reader=reader
    )
    answer = seed_components.pipeline.ask("when will coalition forces leave Wimbledon?", 2)
    assert not answer.answerable and answer.abstain_reason == "not_in_archive"
    assert answer.missing_terms == ("Wimbledon",)
    assert len(answer.citations) == 2 and reader.batches == []  # closest matches, nothing read


def test_the_reader_can_make_the_answerer_abstain(seed_components: Components) -> None:
    with_reader(seed_components, ScriptedReader(""))
    answer = seed_components.pipeline.ask(SEED_QUESTION, top_k=3)
    assert not answer.answerable and answer.answer is None
    assert answer.confidence < 0.01
    assert len(answer.citations) == 3
