from collections.abc import Sequence
from pathlib import Path

import numpy as np

from conftest import SEED_ARTICLE, SEED_FURNITURE
from fakes import HashEmbedder
from qa.ingest.ingester import FIRST_BATCH_ARTICLES, INGEST_STAGES, Ingester
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import Vectors
from qa.store.index import Index
from qa.types import Article


def test_bad_files_are_skipped_by_name_and_the_rest_goes_in(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed.txt").write_bytes(SEED_ARTICLE.read_bytes())
    (corpus / "empty.txt").write_text("")
    (corpus / "broken.json").write_text("{oops")
    (corpus / "mixed.jsonl").write_text(
        '{"title": "Ok", "text": "Fine story text."}\n{"title": 3}\n'
    )
    embedder = HashEmbedder()
    index = Index.open(tmp_path / "index", embedder, 4, 1, create=True)
    report = Ingester(index, embedder, splitter, 8).ingest_paths(
        [corpus, tmp_path / "absent"], 10**6, False
    )
    assert not report.ok
    assert len(report.added) == 2
    skipped = "\n".join(report.skipped)
    for name in ("empty.txt", "broken.json", "mixed.jsonl:2", "absent"):
        assert name in skipped
    assert len(report.skipped) == 4
    assert index.store.count() == 2


def test_every_sentence_and_chunk_offset_points_into_the_stored_text(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    embedder = HashEmbedder()
    index = Index.open(tmp_path, embedder, 3, 1, create=True)
    report = Ingester(index, embedder, splitter, 8).ingest_paths([SEED_ARTICLE], 10**6, False)
    [article_id] = report.added
    article, sentences = index.store.get(article_id)
    assert len(sentences) == 9
    for sentence in sentences:
        assert article.text[sentence.start : sentence.end] == sentence.text
    for furniture in SEED_FURNITURE:
        assert not any(furniture in s.text for s in sentences)
    ids, _ = index.store.chunk_vectors()
    chunks = index.store.chunks(ids.tolist())
    assert [c.chunk.position for c in chunks] == list(range(4))
    for stored in chunks:
        assert (
            stored.chunk.text == article.text[stored.sentences[0].start : stored.sentences[-1].end]
        )


class CountingEmbedder(HashEmbedder):
    """Records every text it is asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []

    def encode_documents(self, texts: Sequence[str], progress: bool = False) -> Vectors:
        self.encoded.extend(texts)
        return super().encode_documents(texts, progress)


def test_chunk_vectors_are_the_normalised_mean_of_their_sentences_and_nothing_is_encoded_twice(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    embedder = CountingEmbedder()
    index = Index.open(tmp_path, embedder, 3, 1, create=True)
    articles = [
        Article("seed", "Seed", SEED_ARTICLE.read_text(encoding="utf-8")),
        Article("dam", "Dam", "The dam opened on Monday. It cost $4.5 billion. Power is on."),
        Article("port", "Port", "The port strike ended on Friday.\n\nShips sailed again."),
    ]
    report = Ingester(index, embedder, splitter, 8).ingest_articles(articles)  # one batch
    assert len(report.added) == 3
    sentence_texts = [s.text for a in articles for s in index.store.get(a.id)[1]]
    assert embedder.encoded == sentence_texts
    ids, vectors = index.store.chunk_vectors()
    chunks = index.store.chunks(ids.tolist())
    assert {c.article.id for c in chunks} == {"seed", "dam", "port"}
    for stored, vector in zip(chunks, vectors, strict=True):
        article, sentences = index.store.get(stored.article.id)
        own = sentences[stored.chunk.first_sentence : stored.chunk.last_sentence + 1]
        mean = embedder.encode_documents([s.text for s in own]).mean(axis=0)
        assert np.allclose(vector, mean / np.linalg.norm(mean), atol=1e-6)
    assert set(report.seconds) == set(INGEST_STAGES)


def test_batches_start_small_and_double_up_to_the_configured_size(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    """Encoding waits for the first batch's split, so the first batch is small."""
    embedder = CountingEmbedder()
    index = Index.open(tmp_path, embedder, 3, 1, create=True)
    articles = [Article(f"a{n}", f"A{n}", f"Story {n} opened. It ran.") for n in range(60)]
    batches: list[int] = []
    Ingester(index, embedder, splitter, 32).ingest_articles(articles, None, batches.append)
    assert FIRST_BATCH_ARTICLES == 8
    assert batches == [8, 16, 32, 4]
    assert index.store.count() == 60


def test_batches_commit_in_order_while_the_next_is_split_and_repeats_across_batches_are_known(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    """The next batch is formed and split before the one being embedded is committed, so an
    article repeated in it must still count as unchanged (same text) or replaced (new text)."""
    embedder = CountingEmbedder()
    index = Index.open(tmp_path, embedder, 3, 1, create=True)

    def story(number: int, text: str = "") -> Article:
        return Article(f"a{number}", f"A{number}", text or f"Story {number} opened. It ran.")

    articles = [story(n) for n in range(5)]
    articles += [story(1), story(2, "Story 2 was rewritten. It ran again."), story(5)]
    batches: list[int] = []
    report = Ingester(index, embedder, splitter, 2).ingest_articles(articles, None, batches.append)
    assert report.added == ["a0", "a1", "a2", "a3", "a4", "a5"]
    assert report.unchanged == ["a1"] and report.replaced == ["a2"]
    assert sum(batches) == len(articles)
    assert index.store.get("a2")[0].text == "Story 2 was rewritten. It ran again."
    assert index.store.count() == 6
    # Sentences were encoded batch by batch, in the order the articles came.
    first_sentences = [t for t in embedder.encoded if t.endswith("opened.")]
    assert first_sentences == [f"Story {n} opened." for n in range(6)]
    assert not index.verify()
