"""Shared fixtures: the real small model loads once per session; indexes are built per test
from small corpora in temporary folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from qa.config import Settings, load_settings
from qa.embed import SentenceTransformerEmbedder
from qa.reader import SpanReader
from qa.text import SpacySplitter
from qa.wiring import Components, make_reader, open_components

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SEED_ARTICLE = REPO / "samples" / "xinhua-2020-10-11-iraq-coalition.txt"
SEED_QUESTION = "when will coalition forces withdraw?"
SEED_SENTENCE_START = "On Aug. 20, U.S. President Donald Trump confirmed"
SEED_SENTENCE_END = "within three years."
# Wire boilerplate of the seed file that no stored sentence may contain.
SEED_FURNITURE = ("Source:", "Editor:", "Enditem", "KEY WORDS", "EXPLORE XINHUANET", "0100200707")


def unavailable(message: str) -> NoReturn:
    """A test's outside requirement (chromium, a PostgreSQL server) is missing: skip on a
    developer machine, fail under CI (`CI` set) so that a missing install step cannot pass."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(REPO / "config.yaml", env={})


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The real embedding model, loaded once for the whole test session."""
    model = SentenceTransformerEmbedder(settings.embedding.model, settings.embedding.batch_size)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def reader(settings: Settings) -> SpanReader:
    """The bundled reader, loaded once for the whole test session."""
    real = make_reader(settings)
    assert real is not None, "config.yaml turns the reader off"
    real.warm_up()
    return real


@pytest.fixture(scope="session")
def splitter() -> SpacySplitter:
    """The real sentence splitter, loaded once for the whole test session."""
    real = SpacySplitter()
    real.warm_up()
    return real


@pytest.fixture(scope="session")
def seed_index_dir(
    tmp_path_factory: pytest.TempPathFactory,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Path:
    """An index of the seed article, built once; tests that write to it must copy it first."""
    folder = tmp_path_factory.mktemp("seed-index")
    components = open_components(
        settings, embedder=embedder, create=True, index_dir=folder, reader=reader
    )
    try:
        report = components.ingester(splitter).ingest_paths(
            [SEED_ARTICLE], 10**7, show_progress=False
        )
        assert report.ok and len(report.added) == 1
    finally:
        components.close()
    return folder


@pytest.fixture
def seed_components(
    tmp_path: Path,
    seed_index_dir: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    reader: SpanReader,
) -> Iterator[Components]:
    """A private, writable copy of the seed index, opened with the real models."""
    folder = tmp_path / "index"
    shutil.copytree(seed_index_dir, folder)
    components = open_components(settings, embedder=embedder, index_dir=folder, reader=reader)
    yield components
    components.close()
