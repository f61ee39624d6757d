"""Questions answered while articles are added and deleted: every answer is well formed, no
write is lost, and a deleted article stops being cited at once."""

import threading
from pathlib import Path

from fakes import HashEmbedder
from qa.answering.answerer import SentenceAnswerer
from qa.answering.pipeline import Pipeline
from qa.answering.retrieve import DenseRetriever
from qa.ingest.ingester import Ingester
from qa.ingest.sentences import SpacySplitter
from qa.store.index import Index
from qa.types import Answer, Article

TOPICS = ["dam", "harbour", "railway", "airport", "stadium", "bridge", "tunnel", "school"]


def story(number: int) -> Article:
    topic = TOPICS[number % len(TOPICS)]
    text = (
        f"The {topic} project number {number} opened on Monday. "
        f"It cost {number + 1} million dollars, officials said. "
        f"Critics of the {topic} said it was late."
    )
    return Article(id=f"story-{number}", title=f"{topic.title()} {number} opens", text=text)


def check_well_formed(answer: Answer) -> None:
    assert answer.citations, "an index with articles always yields closest matches"
    for rank, citation in enumerate(answer.citations, start=1):
        assert citation.rank == rank
        text = citation.article.text
        assert text[citation.sentence.start : citation.sentence.end] == citation.sentence.text


def test_asks_during_ingest_and_delete(tmp_path: Path, splitter: SpacySplitter) -> None:
    embedder = HashEmbedder()
    index = Index.open(tmp_path, embedder, 2, 1, create=True)
    ingester = Ingester(index, embedder, splitter, 1)
    ingester.ingest_articles([story(0)])
    pipeline = Pipeline(index, embedder, DenseRetriever(index), SentenceAnswerer(0.0), 10)
    done = threading.Event()
    failures: list[BaseException] = []
    answered = [0]

    def ask_until_done(question: str) -> None:
        try:
            while not done.is_set():
                check_well_formed(pipeline.ask(question, top_k=3))
                answered[0] += 1
        except BaseException as error:  # reported to the main thread below
            failures.append(error)
            done.set()

    readers = [
        threading.Thread(target=ask_until_done, args=(q,))
        for q in ("when did the dam open?", "how much did the railway cost?", "who criticised it?")
    ]
    for reader in readers:
        reader.start()
    deleted = set()
    try:
        for number in range(1, 25):
            ingester.ingest_articles([story(number)])
            if number % 3 == 0:
                index.delete(f"story-{number}")
                deleted.add(f"story-{number}")
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert not failures, failures[0]
    assert answered[0] > 0
    kept = {f"story-{n}" for n in range(25)} - deleted
    assert {s.id for s in index.store.list_articles(limit=100)} == kept
    assert index.verify() == []
    for article_id in deleted:
        number = int(article_id.split("-")[1])
        answer = pipeline.ask(story(number).text, top_k=10)
        assert article_id not in {c.article.id for c in answer.citations}
