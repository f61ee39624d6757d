"""The one place where records become the JSON that the CLI and the HTTP API return."""

from __future__ import annotations

from typing import Any

from qa.store import ArticleSummary
from qa.types import Answer, Article, Citation, Sentence


def _article_metadata(article: Article | ArticleSummary) -> dict[str, Any]:
    """What a citation, a listed article and a whole article all say about the article."""
    return {
        "title": article.title,
        "source": article.source,
        "published": article.published.isoformat() if article.published else None,
        "url": article.url,
    }


def citation_to_json(citation: Citation) -> dict[str, Any]:
    article = citation.article
    data: dict[str, Any] = {
        "rank": citation.rank,
        "article_id": article.id,
        **_article_metadata(article),
        "sentence": citation.sentence.text,
        "start": citation.sentence.start,
        "end": citation.sentence.end,
        "score": citation.score,
    }
    if citation.resolved_dates:
        data["resolved_dates"] = [
            {"expression": d.expression, "date": d.date, "relation": d.relation}
            for d in citation.resolved_dates
        ]
    return data


def answer_to_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answerable": answer.answerable,
        "answer": answer.answer,
        "confidence": answer.confidence,
        "citations": [citation_to_json(c) for c in answer.citations],
        "timing_ms": dict(answer.timing_ms),
    }


def summary_to_json(summary: ArticleSummary) -> dict[str, Any]:
    return {
        "id": summary.id,
        **_article_metadata(summary),
        "sentence_count": summary.sentence_count,
    }


def article_to_json(article: Article, sentences: list[Sentence]) -> dict[str, Any]:
    return {
        "id": article.id,
        **_article_metadata(article),
        "dateline": article.dateline,
        "text": article.text,
        "sentences": [
            {"position": s.position, "start": s.start, "end": s.end, "text": s.text}
            for s in sentences
        ],
    }
