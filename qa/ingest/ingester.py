"""Ingest: files → cleaned articles → sentences and chunks → vectors → one committed batch.

An article counts as ingested only once the batch holding it is committed; a crash loses at most
the batches in flight (the one being embedded and the next, being split). Bad files are
reported by name and skipped, never fatal to the run.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from qa.ingest.loaders import ArticleError, find_article_files, load_file
from qa.ingest.sentences import Splitter, make_chunks, to_sentences
from qa.models.embedder import Embedder, mean_of_rows
from qa.store.index import Index
from qa.store.rows import ArticleRecord, content_hash
from qa.types import Article, Chunk, Sentence


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one message per bad file or record
    # A JSON field qa does not read → how many ingested records held it (see loaders.unused_fields)
    unused_fields: Counter[str] = field(default_factory=Counter)
    sentences: int = 0
    chunks: int = 0
    # Wall seconds per stage (INGEST_STAGES), summed over batches: where an ingest's time went.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.skipped


INGEST_STAGES = ("split", "encode_sentences", "chunk_vectors", "store")
# The first batch's size (see Ingester.ingest_articles): its split is the one nothing overlaps.
FIRST_BATCH_ARTICLES = 8


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started


def _chunk_rows(
    sentences: Sequence[Sequence[Sentence]], chunks: Sequence[Sequence[Chunk]]
) -> list[tuple[int, int]]:
    """Each chunk's rows (start, end) among all the articles' sentences, concatenated."""
    rows: list[tuple[int, int]] = []
    offset = 0
    for article_sentences, article_chunks in zip(sentences, chunks, strict=True):
        rows.extend(
            (offset + c.first_sentence, offset + c.last_sentence + 1) for c in article_chunks
        )
        offset += len(article_sentences)
    return rows


@dataclass(frozen=True)
class _Split:
    """A batch's articles split into sentences and chunks, ready to embed."""

    articles: Sequence[Article]
    sentences: list[list[Sentence]]
    chunks: list[list[Chunk]]


@dataclass(frozen=True)
class _Pending:
    """A batch (id → article and its state) whose split runs in the background."""

    batch: dict[str, tuple[Article, str]]
    split: Future[_Split]


class Ingester:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        splitter: Splitter,
        batch_articles: int,
    ) -> None:
        """`batch_articles`: articles embedded and committed together (ingest.batch_articles)."""
        self.index = index
        self.embedder = embedder
        self.splitter = splitter
        self.batch_articles = batch_articles

    def prepare(
        self, articles: Sequence[Article], seconds: dict[str, float] | None = None
    ) -> list[ArticleRecord]:
        """Split, chunk and embed articles; nothing is written. Each stage's wall time is added
        to `seconds` when given."""
        seconds = {} if seconds is None else seconds
        return self._embed(self._split(articles, seconds), seconds)

    def _split(self, articles: Sequence[Article], seconds: dict[str, float]) -> _Split:
        with _timed(seconds, "split"):
            manifest = self.index.manifest
            spans = self.splitter.split([a.text for a in articles])
            sentences = [
                to_sentences(a.id, a.text, s) for a, s in zip(articles, spans, strict=True)
            ]
            chunks = [
                make_chunks(s, a.text, manifest.sentences_per_chunk, manifest.overlap)
                for a, s in zip(articles, sentences, strict=True)
            ]
        return _Split(articles, sentences, chunks)

    def _embed(self, split: _Split, seconds: dict[str, float]) -> list[ArticleRecord]:
        """Each sentence is encoded once, all the batch's together; a chunk's vector is the
        normalised mean of its sentences' (`mean_of_rows`), so no text is encoded twice."""
        with _timed(seconds, "encode_sentences"):
            sentence_vectors = self.embedder.encode_documents(
                [s.text for group in split.sentences for s in group]
            )
        with _timed(seconds, "chunk_vectors"):
            chunk_vectors = mean_of_rows(
                sentence_vectors, _chunk_rows(split.sentences, split.chunks)
            )
        records = []
        sentence_offset = chunk_offset = 0
        for article, article_sentences, article_chunks in zip(
            split.articles, split.sentences, split.chunks, strict=True
        ):
            if not article_sentences:
                continue
            records.append(
                ArticleRecord(
                    article,
                    article_sentences,
                    sentence_vectors[sentence_offset : sentence_offset + len(article_sentences)],
                    article_chunks,
                    chunk_vectors[chunk_offset : chunk_offset + len(article_chunks)],
                )
            )
            sentence_offset += len(article_sentences)
            chunk_offset += len(article_chunks)
        return records

    def ingest_articles(
        self,
        articles: Iterable[Article],
        report: IngestReport | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Store new and changed articles; unchanged ones are recognised and left alone.

        Batches are committed in order, one at a time. While one is encoded (on every core),
        the next is split (spaCy, one core) in a background thread, so that splitting's time
        hides behind encoding's. The stage seconds therefore overlap and may add up to more
        than the wall time. Nothing overlaps the first batch's split, so batches start at
        FIRST_BATCH_ARTICLES and double up to `batch_articles`.
        """
        report = report or IngestReport()
        pending: _Pending | None = None
        batch: dict[str, tuple[Article, str]] = {}
        limit = min(FIRST_BATCH_ARTICLES, self.batch_articles)
        with ThreadPoolExecutor(1, thread_name_prefix="qa-split") as splitting:

            def submit(batch: dict[str, tuple[Article, str]]) -> _Pending:
                articles = [article for article, _ in batch.values()]
                return _Pending(batch, splitting.submit(self._split, articles, report.seconds))

            for article in articles:
                state = self._state(article, pending)
                if state == "same":
                    report.unchanged.append(article.id)
                    if progress:
                        progress(1)
                    continue
                batch[article.id] = (article, state or "new")  # a later duplicate id wins
                if len(batch) >= limit:
                    limit = min(2 * limit, self.batch_articles)
                    following = submit(batch)
                    if pending is not None:
                        self._commit(pending, report, progress)
                    pending, batch = following, {}
            last = submit(batch) if batch else None
            for remaining in (pending, last):
                if remaining is not None:
                    self._commit(remaining, report, progress)
        with _timed(report.seconds, "store"):
            self.index.persist()
        return report

    def _state(self, article: Article, pending: _Pending | None) -> str | None:
        """As `existing_version`, counting the batch still being embedded as stored: it is
        committed before this article's batch."""
        if pending is not None and article.id in pending.batch:
            queued, _ = pending.batch[article.id]
            return "same" if content_hash(queued) == content_hash(article) else "changed"
        return self.index.store.existing_version(article)

    def _commit(
        self,
        pending: _Pending,
        report: IngestReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        records = self._embed(pending.split.result(), report.seconds)
        with _timed(report.seconds, "store"):
            self.index.write(records)
        written = {r.article.id for r in records}
        for article_id, (article, state) in pending.batch.items():
            if article_id not in written:
                report.skipped.append(f"{article.origin or article_id}: no sentences found")
            elif state == "changed":
                report.replaced.append(article_id)
            else:
                report.added.append(article_id)
        report.sentences += sum(len(r.sentences) for r in records)
        report.chunks += sum(len(r.chunks) for r in records)
        if progress:
            progress(len(pending.batch))

    def ingest_paths(
        self, paths: Sequence[Path], max_file_bytes: int, show_progress: bool
    ) -> IngestReport:
        """Ingest files and folders (recursively); each bad file or record lands in `skipped`."""
        articles, report = read_files(paths, max_file_bytes, show_progress)
        return self.ingest_with_progress(articles, report, show_progress)

    def ingest_with_progress(
        self, articles: Sequence[Article], report: IngestReport, show_progress: bool
    ) -> IngestReport:
        """`ingest_articles` behind an "indexing" progress bar on stderr."""
        with tqdm(
            total=len(articles),
            desc="indexing",
            unit="article",
            disable=not show_progress,
            file=sys.stderr,
        ) as bar:
            return self.ingest_articles(articles, report, bar.update)


def read_files(
    paths: Sequence[Path], max_file_bytes: int, show_progress: bool
) -> tuple[list[Article], IngestReport]:
    """Read files and folders (recursively): the articles, and a report naming each missing
    path, bad file or bad record (missing paths first) and counting JSON fields not read."""
    files, skipped = find_article_files(list(paths))
    report = IngestReport(skipped=skipped)
    articles: list[Article] = []
    for path in tqdm(
        files, desc="reading", unit="file", disable=not show_progress, file=sys.stderr
    ):
        try:
            result = load_file(path, max_file_bytes)
        except ArticleError as error:
            report.skipped.append(str(error))
            continue
        articles.extend(result.articles)
        report.skipped.extend(result.errors)
        report.unused_fields.update(result.unused_fields)
    return articles, report
