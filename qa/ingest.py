"""Ingest: files → cleaned articles → sentences and chunks → vectors → one committed batch.

An article counts as ingested only once the batch holding it is committed; a crash loses at most
the batch in flight. Bad files are reported by name and skipped, never fatal to the run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from qa.embed import Embedder
from qa.index import Index
from qa.loaders import ArticleError, find_article_files, load_file
from qa.store import ArticleRecord
from qa.text import Splitter, chunk_passage, make_chunks, to_sentences
from qa.types import Article


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one message per bad file or record
    sentences: int = 0
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.skipped


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

    def prepare(self, articles: Sequence[Article]) -> list[ArticleRecord]:
        """Split, chunk and embed articles; nothing is written."""
        manifest = self.index.manifest
        spans = self.splitter.split([a.text for a in articles])
        sentences = [to_sentences(a.id, a.text, s) for a, s in zip(articles, spans, strict=True)]
        chunks = [
            make_chunks(s, a.text, manifest.sentences_per_chunk, manifest.overlap)
            for a, s in zip(articles, sentences, strict=True)
        ]
        sentence_vectors = self.embedder.encode_documents(
            [s.text for group in sentences for s in group]
        )
        chunk_vectors = self.embedder.encode_documents(
            [
                chunk_passage(a.title, c.text)
                for a, group in zip(articles, chunks, strict=True)
                for c in group
            ]
        )
        records = []
        sentence_offset = chunk_offset = 0
        for article, article_sentences, article_chunks in zip(
            articles, sentences, chunks, strict=True
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
        """Store new and changed articles; unchanged ones are recognised and left alone."""
        report = report or IngestReport()
        batch: dict[str, tuple[Article, str]] = {}
        for article in articles:
            state = self.index.store.existing_version(article)
            if state == "same":
                report.unchanged.append(article.id)
                if progress:
                    progress(1)
                continue
            batch[article.id] = (article, state or "new")  # a later duplicate id wins
            if len(batch) >= self.batch_articles:
                self._commit(batch, report, progress)
                batch = {}
        if batch:
            self._commit(batch, report, progress)
        self.index.persist()
        return report

    def _commit(
        self,
        batch: dict[str, tuple[Article, str]],
        report: IngestReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        records = self.prepare([article for article, _ in batch.values()])
        self.index.write(records)
        written = {r.article.id for r in records}
        for article_id, (article, state) in batch.items():
            if article_id not in written:
                report.skipped.append(f"{article.origin or article_id}: no sentences found")
            elif state == "changed":
                report.replaced.append(article_id)
            else:
                report.added.append(article_id)
        report.sentences += sum(len(r.sentences) for r in records)
        report.chunks += sum(len(r.chunks) for r in records)
        if progress:
            progress(len(batch))

    def ingest_paths(
        self, paths: Sequence[Path], max_file_bytes: int, show_progress: bool
    ) -> IngestReport:
        """Ingest files and folders (recursively); each bad file or record lands in `skipped`."""
        files, missing = find_article_files(list(paths))
        report = IngestReport(skipped=list(missing))
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
        with tqdm(
            total=len(articles),
            desc="indexing",
            unit="article",
            disable=not show_progress,
            file=sys.stderr,
        ) as bar:
            self.ingest_articles(articles, report, bar.update)
        return report
