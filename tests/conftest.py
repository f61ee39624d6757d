"""Shared fixtures: the real small model loads once per session; indexes are built per test
from small corpora in temporary folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from qa.config import Settings, load_settings
from qa.ingest.loaders import article_from_record
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import SentenceTransformerEmbedder
from qa.models.onnx_runtime import cpu_has_bfloat16
from qa.models.reader import SpanReader
from qa.wiring import Components, make_reader, open_components

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SEED_ARTICLE = REPO / "samples" / "xinhua-2020-10-11-iraq-coalition.txt"
SEED_QUESTION = "when will coalition forces withdraw?"
SEED_SENTENCE_START = "On Aug. 20, U.S. President Donald Trump confirmed"
SEED_SENTENCE_END = "within three years."
# Wire boilerplate of the seed file that no stored sentence may contain.
SEED_FURNITURE = ("Source:", "Editor:", "Enditem", "KEY WORDS", "EXPLORE XINHUANET", "0100200707")

# For tests of bfloat16's arithmetic: without those instructions OpenVINO computes in float32,
# and such a test would compare float32 with float32.
needs_bfloat16 = pytest.mark.skipif(
    not cpu_has_bfloat16(),
    reason="this CPU has no bfloat16 instructions (AVX-512 BF16/AMX): "
    "openvino-bf16 would run float32",
)


def unavailable(message: str) -> NoReturn:
    """A test's outside requirement (chromium, a PostgreSQL server) is missing: skip on a
    developer machine, fail under CI (`CI` set) so that a missing install step cannot pass."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Clock:
    """Seconds on a clock the test moves by hand (`clock.now += 30`)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(REPO / "config.yaml", env={})


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The real embedding model (its float32 graph under ONNX Runtime), loaded once for the
    whole test session."""
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


# Written for these tests: three more articles on the seed's subject, each from another source
# and time (one undated), so that filters and timelines have something to tell apart.
DATED_ARTICLES: list[dict[str, Any]] = [
    {
        "id": "desert-times-2019",
        "title": "Coalition to hand northern bases to the Iraqi army",
        "text": "Coalition forces will withdraw from the northern bases in Iraq by the end of "
        "2020, a military spokesman said on Thursday.\n\nThe spokesman said the bases would be "
        "handed over to the Iraqi army in stages.\n\nAbout 5,000 coalition soldiers are "
        "stationed in the north.",
        "published": "2019-05-02",
        "source": "Desert Times",
    },
    {
        "id": "baghdad-courier-2021",
        "title": "U.S. combat mission in Iraq to end this year",
        "text": "U.S. combat forces will withdraw from Iraq by Dec. 31, 2021, President Joe Biden "
        "said on Monday after meeting Iraqi Prime Minister Mustafa al-Kadhimi.\n\nThe remaining "
        "troops will move to an advisory role.\n\nThe coalition will keep training Iraqi "
        "security forces.",
        "published": "2021-07-27",
        "source": "Baghdad Courier",
    },
    {
        "id": "field-notes-undated",
        "title": "Notes on the coalition drawdown",
        "text": "Coalition forces will withdraw from Iraq within two years, a diplomat told our "
        "correspondent.\n\nThe diplomat did not say when the talks would resume.",
        "source": "Field Notes",
    },
]


def _build_index(
    folder: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
    records: list[dict[str, Any]],
    paths: tuple[Path, ...] = (SEED_ARTICLE,),
) -> Path:
    """An index in `folder` of the files at `paths` (default: the seed article) and `records`."""
    components = open_components(
        settings, embedder=embedder, create=True, index_dir=folder, reader=reader
    )
    try:
        ingester = components.ingester(splitter)
        report = ingester.ingest_paths(list(paths), 10**8, show_progress=False)
        assert report.ok and report.added, report.skipped
        articles = [article_from_record(record, "test") for record in records]
        assert ingester.ingest_articles(articles).ok
    finally:
        components.close()
    return folder


def _copy_and_open(
    folder: Path,
    built: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    reader: SpanReader,
) -> Components:
    shutil.copytree(built, folder)
    return open_components(settings, embedder=embedder, index_dir=folder, reader=reader)


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
    return _build_index(folder, settings, embedder, splitter, reader, [])


@pytest.fixture
def seed_components(
    tmp_path: Path,
    seed_index_dir: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    reader: SpanReader,
) -> Iterator[Components]:
    """A private, writable copy of the seed index, opened with the real models."""
    components = _copy_and_open(tmp_path / "index", seed_index_dir, settings, embedder, reader)
    yield components
    components.close()


@pytest.fixture(scope="session")
def dated_index_dir(
    tmp_path_factory: pytest.TempPathFactory,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Path:
    """An index of the seed article and DATED_ARTICLES, built once; copy it to write to it."""
    folder = tmp_path_factory.mktemp("dated-index")
    return _build_index(folder, settings, embedder, splitter, reader, DATED_ARTICLES)


@pytest.fixture(scope="session")
def demo_index_dir(
    tmp_path_factory: pytest.TempPathFactory,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Path:
    """An index of every file in samples/ (the seed article, the oil crisis paragraphs and the
    291 Wikinews articles), as `scripts/demo` builds it; built once, copy it to write to it."""
    folder = tmp_path_factory.mktemp("demo-index")
    return _build_index(folder, settings, embedder, splitter, reader, [], (REPO / "samples",))


@pytest.fixture
def dated_components(
    tmp_path: Path,
    dated_index_dir: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    reader: SpanReader,
) -> Iterator[Components]:
    """A private, writable copy of the dated index, opened with the real models."""
    components = _copy_and_open(tmp_path / "index", dated_index_dir, settings, embedder, reader)
    yield components
    components.close()
