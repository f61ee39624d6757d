"""SQuAD 2.0 files as articles and questions, for evaluation and benchmarks.

Each paragraph becomes one article (id `<SQuAD title>#<paragraph number>`, title the Wikipedia
article's title with underscores as spaces), so a question's gold paragraph is an article id.
An entry's optional `published`, `source` and `url` (not SQuAD's own keys) go to its articles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.ingest.loaders import article_from_record
from qa.types import Article


class SquadFormatError(ValueError):
    """The file is not SQuAD 2.0 JSON (`{"data": [{"title", "paragraphs": [...]}]}`)."""


@dataclass(frozen=True)
class SquadQuestion:
    """One question; `answers` is empty exactly when `is_impossible` (abstaining is right)."""

    id: str
    question: str
    answers: tuple[str, ...]
    article_id: str
    is_impossible: bool


@dataclass(frozen=True)
class SquadDataset:
    articles: list[Article]
    questions: list[SquadQuestion]

    def limited(self, limit: int | None) -> SquadDataset:
        """The first `limit` questions and only the paragraphs they were asked of."""
        if not limit:
            return self
        questions = self.questions[:limit]
        wanted = {q.article_id for q in questions}
        return SquadDataset([a for a in self.articles if a.id in wanted], questions)


def paragraph_id(title: str, number: int) -> str:
    return f"{title}#{number}"


def _question(raw: dict[str, Any], article_id: str) -> SquadQuestion:
    impossible = bool(raw.get("is_impossible", False))
    answers = () if impossible else tuple(a["text"] for a in raw.get("answers", []))
    return SquadQuestion(str(raw["id"]), raw["question"], answers, article_id, impossible)


def parse_squad(document: Any, where: str) -> SquadDataset:
    """Articles and questions from an already-parsed SQuAD 2.0 object."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise SquadFormatError(f"{where}: expected a SQuAD 2.0 object with a 'data' list")
    articles: list[Article] = []
    questions: list[SquadQuestion] = []
    try:
        for entry in document["data"]:
            for number, paragraph in enumerate(entry["paragraphs"]):
                article_id = paragraph_id(entry["title"], number)
                record = {
                    "id": article_id,
                    "title": entry["title"].replace("_", " "),
                    "text": paragraph["context"],
                    # A news question set may date its articles (relative dates resolve).
                    **{key: entry[key] for key in ("published", "source", "url") if key in entry},
                }
                articles.append(article_from_record(record, f"{where}: {article_id}"))
                questions.extend(_question(raw, article_id) for raw in paragraph["qas"])
    except (KeyError, TypeError) as error:
        raise SquadFormatError(f"{where}: malformed SQuAD entry ({error!r})") from error
    return SquadDataset(articles, questions)


def load_squad(path: Path) -> SquadDataset:
    """Read a SQuAD 2.0 JSON file (raises SquadFormatError, OSError, json.JSONDecodeError)."""
    return parse_squad(json.loads(path.read_text(encoding="utf-8")), str(path))


def write_articles_jsonl(articles: list[Article], path: Path) -> None:
    """Write articles as the JSONL that `qa ingest` reads (id, title, text), so benchmarks and
    tests can feed a SQuAD file's paragraphs to a real `qa ingest` process."""
    with path.open("w", encoding="utf-8") as handle:
        for article in articles:
            record = {"id": article.id, "title": article.title, "text": article.text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
