"""Training pairs for the extractive reader (qa/models/reader.py) from SQuAD-format questions.

The reader reads one (question, sentence) pair at a time, as the answerer uses it, so it
learns from sentences: for each question the sentence holding its answer (target: the answer's
first and last token) and `negatives` sentences that do not hold it (target: [CLS], "no answer
here", as in SQuAD 2.0). Negatives are the hardest by question-word overlap: from the same
paragraph, and with `cross_paragraph` also from the article's other paragraphs, which is what
retrieval hands the reader at run time. A sentence that holds the answer text anywhere is never
a negative: SQuAD 1.1's `answer_start` is the first occurrence, which may not be the
annotator's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qa.ingest.sentences import Splitter
from qa.words import content_words


@dataclass(frozen=True)
class TrainingPair:
    """A question and one sentence; `answer` is the answer's (start, end) character offsets in
    the sentence, or None when the sentence does not answer."""

    question: str
    sentence: str
    answer: tuple[int, int] | None


@dataclass(frozen=True)
class EncodedPair:
    input_ids: list[int]
    token_type_ids: list[int]
    start: int
    end: int


def _lacks(sentence: str, answers: set[str]) -> bool:
    lowered = sentence.lower()
    return not any(answer in lowered for answer in answers)


def _hardest(question_words: set[str], sentences: Sequence[str], count: int) -> list[str]:
    """The `count` sentences sharing most words with the question (stable for ties)."""
    scored = sorted(
        range(len(sentences)),
        key=lambda i: -len(question_words & set(content_words(sentences[i]))),
    )
    return [sentences[i] for i in scored[:count]]


def paragraph_sentences(
    document: dict[str, Any], splitter: Splitter
) -> list[list[tuple[int, int]]]:
    """(start, end) of each sentence of each paragraph, paragraphs in file order."""
    contexts = [p["context"] for a in document["data"] for p in a["paragraphs"]]
    return [[(s.start, s.end) for s in found] for found in splitter.split(contexts)]


def squad_pairs(
    document: dict[str, Any],
    spans: Sequence[Sequence[tuple[int, int]]],
    negatives: int = 1,
    cross_paragraph: bool = False,
    limit: int | None = None,
    seed: int = 0,
    progress: Callable[[Iterable[Any]], Iterable[Any]] = iter,
    unanswerable: int = 0,
) -> list[TrainingPair]:
    """Training pairs from a SQuAD 1.1 / 2.0 object, its paragraphs split into sentences at
    `spans` (`paragraph_sentences`).

    A SQuAD 2.0 unanswerable question gives `unanswerable` no-answer pairs (0: none): the
    sentence holding its plausible answer first (the one written to mislead), then the hardest
    by question words. They teach the reader that a sentence on the question's topic, even one
    with a fitting phrase, may still not answer it.

    A question whose answer crosses a sentence boundary is skipped. A sentence that holds the
    answer's text anywhere is never a negative (SQuAD 1.1's `answer_start` may point at another
    occurrence than the annotator's). With `limit`, that many questions are drawn at random.
    With `cross_paragraph`, one of the negatives (when there are two or more) comes from the
    article's other paragraphs.
    """
    articles = document["data"]
    contexts = [p["context"] for a in articles for p in a["paragraphs"]]
    sentences = [
        [context[start:end] for start, end in found]
        for context, found in zip(contexts, spans, strict=True)
    ]
    questions: list[tuple[int, int, dict[str, Any]]] = []
    index = 0
    article_of: list[int] = []
    for number, article in enumerate(articles):
        for paragraph in article["paragraphs"]:
            article_of.append(number)
            for qa in paragraph["qas"]:
                answerable = not qa.get("is_impossible") and qa.get("answers")
                if answerable or unanswerable:
                    questions.append((index, number, qa))
            index += 1
    if limit is not None and limit < len(questions):
        questions = random.Random(seed).sample(questions, limit)
    by_article: dict[int, list[int]] = {}
    for paragraph_index, number in enumerate(article_of):
        by_article.setdefault(number, []).append(paragraph_index)
    pairs: list[TrainingPair] = []
    for paragraph_index, number, qa in progress(questions):
        if qa.get("is_impossible") or not qa.get("answers"):
            pairs += _unanswerable_pairs(qa, sentences[paragraph_index], unanswerable)
            continue
        answer = qa["answers"][0]
        start, text = int(answer["answer_start"]), answer["text"]
        holding = [
            (first, last)
            for first, last in spans[paragraph_index]
            if first <= start and start + len(text) <= last
        ]
        if not holding or not text.strip():
            continue
        sentence_start, sentence_end = holding[0]
        context = contexts[paragraph_index]
        sentence = context[sentence_start:sentence_end]
        pairs.append(
            TrainingPair(
                qa["question"],
                sentence,
                (start - sentence_start, start + len(text) - sentence_start),
            )
        )
        answers = {a["text"].lower() for a in qa["answers"]}
        words = set(content_words(qa["question"]))

        own = [s for s in sentences[paragraph_index] if _lacks(s, answers)]
        from_others = 1 if cross_paragraph and negatives >= 2 else 0
        chosen = _hardest(words, own, negatives - from_others)
        if from_others:
            others = [
                s
                for other in by_article[number]
                if other != paragraph_index
                for s in sentences[other]
                if _lacks(s, answers)
            ]
            chosen += _hardest(words, others, from_others)
        pairs.extend(TrainingPair(qa["question"], s, None) for s in chosen)
    return pairs


def _unanswerable_pairs(
    qa: dict[str, Any], sentences: Sequence[str], count: int
) -> list[TrainingPair]:
    plausible = {a["text"].lower() for a in qa.get("plausible_answers", []) if a["text"].strip()}
    misleading = [s for s in sentences if plausible and not _lacks(s, plausible)][:1]
    rest = [s for s in sentences if s not in misleading]
    chosen = misleading + _hardest(
        set(content_words(qa["question"])), rest, count - len(misleading)
    )
    return [TrainingPair(qa["question"], s, None) for s in chosen[:count]]


def encode_pairs(
    tokenizer: Any, pairs: Sequence[TrainingPair], max_tokens: int
) -> list[EncodedPair]:
    """Token ids and target tokens; a pair whose answer truncation cut off is dropped."""
    encoded = tokenizer(
        [p.question for p in pairs],
        [p.sentence for p in pairs],
        truncation="only_second",
        max_length=max_tokens,
        return_offsets_mapping=True,
    )
    result = []
    for row, pair in enumerate(pairs):
        target = answer_tokens(encoded, row, pair.answer)
        if target is None:
            continue
        result.append(
            EncodedPair(
                encoded["input_ids"][row], encoded["token_type_ids"][row], target[0], target[1]
            )
        )
    return result


def answer_tokens(encoded: Any, row: int, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """First and last token of `span` in the sentence side of row `row`; (0, 0), the [CLS]
    token, for no answer; None when the span is not (wholly) among the tokens."""
    if span is None:
        return 0, 0
    offsets = encoded["offset_mapping"][row]
    tokens = [i for i, side in enumerate(encoded.sequence_ids(row)) if side == 1]
    first = next((i for i in tokens if offsets[i][0] <= span[0] < offsets[i][1]), None)
    last = next((i for i in tokens if offsets[i][0] < span[1] <= offsets[i][1]), None)
    if first is None or last is None or last < first:
        return None
    return first, last
