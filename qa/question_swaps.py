"""Unanswerable training questions made from answerable ones by swapping one named thing.

A reader trained only on answerable questions learns that a sentence on the question's topic
holding a phrase of the asked kind is an answer. Real unanswerable questions break exactly
that: "when did Obama visit Cuba?" against a sentence about Bush's visit. Many of SQuAD 2.0's
crowd-written unanswerable questions are such edits (entity swaps, changed numbers and dates),
and the news questions no article answers are about a person or event the articles do
mention, asking something they do not say.

So: in an answerable question, one entity that its paragraph mentions is replaced by another of
the same kind that the article's other questions mention and the paragraph does not. The
paragraph cannot answer the new question, yet its answer sentence still looks like it does,
which is the no-answer pair the reader most needs to see. (Measured, it did not help: the
shipped reader is trained without them; README, Training the reader.)
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from qa.types import Entity

_QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())


def _concrete(text: str) -> bool:
    """A name, number or date ("Jay Z", "1995"), not "what year" or "a few years", which spaCy
    also tags: swapping those gives a garbled question, not an unanswerable one."""
    has_name_or_digit = any(c.isupper() or c.isdigit() for c in text)
    return has_name_or_digit and not _QUESTION_WORDS & set(text.lower().split())


def _core(question: str, entity: Entity) -> tuple[int, int]:
    """The entity's span without a leading "the" or a trailing "'s", which stay in the question
    (spaCy puts them inside some entities)."""
    start, end = entity.start, entity.end
    if question[start : start + 4].lower() == "the ":
        start += 4
    if question[end - 2 : end] in ("'s", "’s"):
        end -= 2
    return start, end


def swapped_questions(
    document: Mapping[str, Any],
    question_entities: Mapping[str, Sequence[Entity]],
    seed: int = 0,
) -> dict[str, str]:
    """Question id -> the question with one entity swapped, for every answerable question of
    the SQuAD `document` where a swap is possible.

    `question_entities` gives each question's entities (offsets into the question text). The
    replacements for an article are the entity texts of its questions, by label; one counts only
    if the paragraph does not contain it and it neither contains nor is part of the entity it
    replaces (case-insensitively), so the swapped question is about something the paragraph
    never mentions.
    """
    rng = random.Random(seed)
    swapped: dict[str, str] = {}
    for article in document["data"]:
        questions = [qa for p in article["paragraphs"] for qa in p["qas"]]
        pool: dict[str, list[str]] = {}
        for qa in questions:
            for entity in question_entities.get(qa["id"], ()):
                start, end = _core(qa["question"], entity)
                text = qa["question"][start:end]
                if _concrete(text) and text not in pool.setdefault(entity.label, []):
                    pool[entity.label].append(text)
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].lower()
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                question = qa["question"]
                mentioned = [
                    (e.label, *_core(question, e)) for e in question_entities.get(qa["id"], ())
                ]
                mentioned = [
                    m
                    for m in mentioned
                    if _concrete(question[m[1] : m[2]]) and question[m[1] : m[2]].lower() in context
                ]
                rng.shuffle(mentioned)
                for label, start, end in mentioned:
                    original = question[start:end].lower()
                    others = [
                        t
                        for t in pool.get(label, ())
                        if t.lower() not in context
                        and original not in t.lower()
                        and t.lower() not in original
                    ]
                    if others:
                        replacement = rng.choice(others)
                        swapped[qa["id"]] = question[:start] + replacement + question[end:]
                        break
    return swapped
