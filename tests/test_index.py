"""Store and index folder: idempotent writes, replacement, persistence, rebuilds, mismatches."""

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from fakes import HashEmbedder
from qa.ingest.ingester import Ingester
from qa.ingest.sentences import SpacySplitter
from qa.store.articles import ArticleNotFoundError, StoreError
from qa.store.index import Index, IndexMismatchError
from qa.store.vectors import VectorIndexError
from qa.types import Article, ArticleFilter

EMBEDDER = HashEmbedder()


def open_index(folder: Path, create: bool = True) -> Index:
    return Index.open(folder, EMBEDDER, sentences_per_chunk=2, overlap=1, create=create)


def article(identifier: str | None, text: str, title: str = "Title") -> Article:
    from qa.ingest.loaders import article_id_for

    return Article(id=article_id_for(identifier, None, title, text), title=title, text=text)


STORY = "The dam opened on Monday. It cost $4.5 billion. Power reaches two million homes by 2025."


def test_reingesting_the_same_article_changes_nothing(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    index = open_index(tmp_path)
    ingester = Ingester(index, EMBEDDER, splitter, 8)
    first = ingester.ingest_articles([article(None, STORY)])
    generation = index.store.generation
    second = ingester.ingest_articles([article(None, STORY)])
    assert (len(first.added), len(second.added), len(second.unchanged)) == (1, 0, 1)
    assert index.store.generation == generation
    assert index.store.count() == 1
    assert index.vector_count() == 2  # three sentences in windows of two, overlapping by one


def test_changed_version_with_same_id_replaces_the_old(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    index = open_index(tmp_path)
    ingester = Ingester(index, EMBEDDER, splitter, 8)
    ingester.ingest_articles([article("dam", STORY)])
    report = ingester.ingest_articles(
        [article("dam", "The dam was delayed again. Officials gave no date.")]
    )
    assert report.replaced == ["dam"]
    stored, sentences = index.store.get("dam")
    assert stored.text.startswith("The dam was delayed")
    assert [s.text for s in sentences] == ["The dam was delayed again.", "Officials gave no date."]
    assert index.vector_count() == 1
    [(chunk_id, _)] = index.search(EMBEDDER.encode_queries(["dam delayed"])[0], 5)
    assert index.store.chunks([chunk_id])[0].article.text == stored.text


def test_index_survives_reopening_in_a_new_process_state(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    index = open_index(tmp_path)
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles([article("dam", STORY)])
    index.close()
    reopened = open_index(tmp_path, create=False)
    assert reopened.store.count() == 1
    hits = reopened.search(EMBEDDER.encode_queries(["how much did it cost"])[0], 1)
    assert hits and reopened.store.chunks([hits[0][0]])[0].article.id == "dam"


def test_missing_vector_file_is_rebuilt_from_the_store(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    """A crash between the store commit and the vector file write loses nothing."""
    index = open_index(tmp_path)
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles([article("dam", STORY)])
    index.close()
    for path in tmp_path.glob("chunks.*.faiss"):
        path.unlink()
    reopened = open_index(tmp_path, create=False)
    assert reopened.vector_count() == 2
    reopened.persist()
    assert len(list(tmp_path.glob("chunks.*.faiss"))) == 1


def test_vectors_saved_for_another_store_at_the_same_generation_are_not_loaded(
    tmp_path: Path, splitter: SpacySplitter, caplog: pytest.LogCaptureFixture
) -> None:
    # Two stores, one write each (generation 1 both); the second store's file is then copied
    # into the first folder, as a restored or recreated database would appear to a replica.
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, story in ((first, STORY), (second, "The bridge opened on Friday.")):
        index = open_index(folder)
        Ingester(index, EMBEDDER, splitter, 8).ingest_articles([article("a", story)])
        index.close()
    assert sorted(p.name for p in first.glob("chunks.*")) == ["chunks.flat.1.faiss"]
    (first / "store.sqlite").write_bytes((second / "store.sqlite").read_bytes())
    reopened = open_index(first, create=False)
    assert "served another store" in caplog.text
    query = EMBEDDER.encode_queries(["The bridge opened on Friday."])[0]
    [(chunk_id, score)] = reopened.search(query, 1)
    assert reopened.store.chunks([chunk_id])[0].article.text.startswith("The bridge")
    assert score == pytest.approx(1.0, abs=1e-5)  # this store's vector, not the old one
    reopened.close()
    open_index(first, create=False).close()  # the same store again: nothing to forget


def test_delete_removes_article_and_vectors(tmp_path: Path, splitter: SpacySplitter) -> None:
    index = open_index(tmp_path)
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles(
        [article("dam", STORY), article("b", "Other news here.")]
    )
    index.delete("dam")
    assert index.store.count() == 1 and index.vector_count() == 1
    with pytest.raises(ArticleNotFoundError):
        index.store.get("dam")
    with pytest.raises(ArticleNotFoundError):
        index.delete("dam")


def test_opening_with_another_model_is_a_clear_error(tmp_path: Path) -> None:
    open_index(tmp_path).close()
    other = HashEmbedder(dimension=32, name="other-model")
    with pytest.raises(IndexMismatchError, match="hash-embedder.*other-model.*rebuild"):
        Index.open(tmp_path, other, 2, 1)


def test_a_folder_of_an_older_format_is_refused_with_how_to_rebuild(tmp_path: Path) -> None:
    """Format 1 folders hold chunk vectors encoded from the chunk text; mixing them with this
    format's sentence means would skew retrieval, so they are refused, not opened."""
    open_index(tmp_path).close()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 1}))
    with pytest.raises(IndexMismatchError, match="index format 1.*re-ingest"):
        open_index(tmp_path, create=False)


def test_opening_an_empty_folder_says_to_ingest_first(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="qa ingest"):
        open_index(tmp_path, create=False)


def test_corrupt_files_are_named(tmp_path: Path, splitter: SpacySplitter) -> None:
    index = open_index(tmp_path)
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles([article("dam", STORY)])
    index.close()
    [vector_file] = tmp_path.glob("chunks.*.faiss")
    vector_file.write_bytes(vector_file.read_bytes()[:40])
    with pytest.raises(VectorIndexError, match=str(vector_file)):
        open_index(tmp_path, create=False)
    vector_file.unlink()
    (tmp_path / "store.sqlite").write_bytes(b"this is not a database" * 100)
    for leftover in tmp_path.glob("store.sqlite-*"):
        leftover.unlink()
    with pytest.raises(StoreError, match="store.sqlite"):
        open_index(tmp_path, create=False)


def test_verify_finds_vectors_out_of_step_and_broken_rows(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    index = open_index(tmp_path)
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles([article("dam", STORY)])
    assert index.verify() == []
    index.vectors.remove([1])  # simulate a vector lost outside the store's knowledge
    assert any("1 chunks" in p or "vectors for" in p for p in index.verify())
    index.store.database.execute("DELETE FROM sentences WHERE article_id = 'dam' AND position = 1")
    assert any(p.startswith("chunk over missing sentences: dam") for p in index.verify())


def test_filter_matches_sources_in_any_case_and_date_bounds_leave_undated_articles_out(
    tmp_path: Path, splitter: SpacySplitter
) -> None:
    index = open_index(tmp_path)
    dam = dataclasses.replace(
        article("dam", STORY), source="Xinhua", published=dt.date(2020, 10, 11)
    )
    port = dataclasses.replace(
        article("port", "The port strike ended on Friday."),
        source="Ärzte Wire",
        published=dt.date(2021, 3, 1),
    )
    undated = dataclasses.replace(article("blog", "The dam opened late."), source="Xinhua")
    Ingester(index, EMBEDDER, splitter, 8).ingest_articles([dam, port, undated])

    def articles(where: ArticleFilter) -> set[str]:
        return {c.article.id for c in index.store.chunks(index.store.chunk_ids(where))}

    assert articles(ArticleFilter(sources=frozenset({"XINHUA"}))) == {"dam", "blog"}
    assert articles(ArticleFilter(sources=frozenset({"xinhua", "Ärzte Wire"}))) == {
        "dam",
        "port",
        "blog",
    }
    assert articles(ArticleFilter(published_from=dt.date(2000, 1, 1))) == {"dam", "port"}
    assert articles(ArticleFilter(published_to=dt.date(2020, 12, 31))) == {"dam"}
    one_day = ArticleFilter(published_from=dt.date(2021, 3, 1), published_to=dt.date(2021, 3, 1))
    assert articles(one_day) == {"port"}
    query = EMBEDDER.encode_queries(["when did the dam open?"])[0]
    hits = index.search(query, 5, where=ArticleFilter(published_to=dt.date(2020, 12, 31)))
    assert {index.store.chunks([i])[0].article.id for i, _ in hits} == {"dam"}
