"""The one place where records become the JSON that the CLI and the HTTP API return."""

from __future__ import annotations

import datetime as dt
from typing import Any

from qa.answering.grounding import mentioned
from qa.types import (
    Answer,
    Article,
    ArticleSummary,
    Citation,
    Coverage,
    Period,
    Sentence,
    TimelineEntry,
)

# A timeline entry quotes at most this many characters of its answer.
TIMELINE_ANSWER_CHARS = 200


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


def shorten(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start cut at a word boundary and
    ended with "…", at most `limit` characters in all."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def timeline_to_json(entry: TimelineEntry) -> dict[str, Any]:
    """One article's own answer in a developing story, with the sentence it rests on."""
    article, sentence = entry.article, entry.sentence
    return {
        "published": article.published.isoformat() if article.published else None,
        "article_id": article.id,
        "title": article.title,
        "answer": shorten(entry.answer, TIMELINE_ANSWER_CHARS),
        "sentence": sentence.text,
        "start": sentence.start,
        "end": sentence.end,
    }


def period_to_json(period: Period | None) -> dict[str, Any] | None:
    if period is None:
        return None
    return {
        "since": period.since.isoformat() if period.since else None,
        "until": period.until.isoformat() if period.until else None,
        "named": period.named,
    }


# Why the articles do not say, as the CLI prints it (the page words it the same way).
ABSTENTION_NOTES = {
    "not_in_cited_article": "The closest articles do not mention everything the question names.",
    "no_fitting_answer": "No sentence found holds the kind of answer the question asks for.",
    "low_confidence": "Nothing in the indexed articles answers this with confidence.",
}


def abstention_note(answer: Answer) -> str:
    """One sentence saying why `answer` abstained: "No article mentions “Wimbledon”."."""
    if answer.missing_terms:
        return f"No article mentions {mentioned(answer.missing_terms)}."
    return ABSTENTION_NOTES.get(answer.abstain_reason or "", ABSTENTION_NOTES["low_confidence"])


def answer_to_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answerable": answer.answerable,
        "answer": answer.answer,
        "confidence": answer.confidence,
        "abstain_reason": None if answer.answerable else answer.abstain_reason,
        "missing_terms": list(answer.missing_terms),
        "citations": [citation_to_json(c) for c in answer.citations],
        "as_of": answer.as_of.isoformat() if answer.as_of else None,
        "timeline": [timeline_to_json(entry) for entry in answer.timeline],
        "period": period_to_json(answer.period),
        "timing_ms": dict(answer.timing_ms),
    }


def summary_to_json(summary: ArticleSummary) -> dict[str, Any]:
    return {
        "id": summary.id,
        **_article_metadata(summary),
        "sentence_count": summary.sentence_count,
    }


def coverage_to_json(coverage: Coverage) -> dict[str, Any]:
    def day(value: dt.date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "first_published": day(coverage.first_published),
        "last_published": day(coverage.last_published),
        "sources": [{"source": name, "articles": count} for name, count in coverage.sources],
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
