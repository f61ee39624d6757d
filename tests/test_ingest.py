from collections.abc import Sequence
from pathlib import Path

import numpy as np

from conftest import SEED_ARTICLE, SEED_FURNITURE
from qa.embed import HashEmbedder, Vectors
from qa.index import Index
from qa.ingest import INGEST_STAGES, Ingester
from qa.text import SpacySplitter
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
