"""Conversations: what earlier turns carry into a follow-up question, kept in memory a while.

A follow-up ("why are they leaving?") names nothing the index can find; the question before it
did ("when will coalition forces withdraw?"). Each turn therefore leaves *key terms* behind: the
content words of its question, stop words dropped. A later question that leans on them (a
pronoun such as "they" or "it", or too few content words of its own) is asked with the terms of
the last turns added ("why are they leaving? coalition forces withdraw"); a self-contained
question gets none, so a change of subject is not dragged back to the old one.

The terms join the question itself, not only `Pipeline.ask`'s retrieval `context`: the answerer
weighs the question's words when it scores sentences, and with the terms in retrieval alone it
preferred a sentence of another article that happened to say "leaving". The titles of cited
articles were tried as terms too and made follow-ups worse (they pull in words like "needed").

Conversations live in process memory, expire after `ttl_seconds` idle, and beyond
`max_conversations` the least recently used is dropped. All methods are thread-safe.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from spacy.lang.en.stop_words import STOP_WORDS

# Words that point back to something said before: their presence marks a follow-up.
ANAPHORS = frozenset(
    "it its they them their theirs he him his she her hers this these those there "
    "such latter former".split()
)
# A question with this many content words or fewer cannot stand on its own ("and why?").
MIN_SELF_CONTAINED_TERMS = 2
# How many earlier turns lend their terms to a follow-up, and at most how many terms in all.
TURNS_REMEMBERED = 2
MAX_CONTEXT_TERMS = 24
_WORD = re.compile(r"[\w'’.-]+")


def _words(text: str) -> list[str]:
    return [w.strip(".'’-").lower() for w in _WORD.findall(text) if w.strip(".'’-")]


def key_terms(text: str) -> list[str]:
    """Content words of `text` in order, without stop words, duplicates or bare numbers' noise.

    >>> key_terms("When will the coalition forces withdraw?")
    ['coalition', 'forces', 'withdraw']
    """
    seen: list[str] = []
    for word in _words(text):
        if word in STOP_WORDS or len(word) < 2 or word in seen:
            continue
        seen.append(word)
    return seen


def needs_context(question: str) -> bool:
    """Whether a question leans on earlier turns: it refers back, or says too little alone."""
    words = _words(question)
    if any(word in ANAPHORS for word in words):
        return True
    return len(key_terms(question)) <= MIN_SELF_CONTAINED_TERMS - 1


@dataclass
class Conversation:
    id: str
    last_used: float
    turns: list[list[str]] = field(default_factory=list)  # key terms per turn, oldest first

    def terms_for(self, question: str) -> str:
        """Earlier turns' key terms that `question` needs, newest turn first; "" when the
        question stands on its own or nothing came before."""
        if not self.turns or not needs_context(question):
            return ""
        own = set(key_terms(question))
        terms: list[str] = []
        for turn in reversed(self.turns[-TURNS_REMEMBERED:]):
            terms += [t for t in turn if t not in terms and t not in own]
        return " ".join(terms[:MAX_CONTEXT_TERMS])


class ConversationStore:
    """In-memory conversations by id, with idle expiry and a size cap."""

    def __init__(
        self,
        ttl_seconds: float,
        max_conversations: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_conversations = max_conversations
        self._clock = clock
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._conversations)

    def _expire(self, now: float) -> None:
        # Least recently used first, so expiry stops at the first live conversation.
        while self._conversations:
            oldest = next(iter(self._conversations.values()))
            if now - oldest.last_used <= self.ttl_seconds:
                return
            self._conversations.popitem(last=False)

    def terms_for(self, conversation_id: str | None, question: str) -> tuple[str, str]:
        """The id to answer under (a new one when `conversation_id` is unknown or expired)
        and the earlier turns' terms that `question` needs (see `Conversation.terms_for`)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            conversation = self._conversations.get(conversation_id or "")
            if conversation is None:
                return secrets.token_urlsafe(16), ""
            return conversation.id, conversation.terms_for(question)

    def record(self, conversation_id: str, question: str) -> None:
        """Remember an answered turn (starting the conversation if it is new)."""
        with self._lock:
            now = self._clock()
            conversation = self._conversations.pop(conversation_id, None)
            if conversation is None:
                conversation = Conversation(conversation_id, now)
            conversation.last_used = now
            conversation.turns = [*conversation.turns, key_terms(question)][-TURNS_REMEMBERED:]
            self._conversations[conversation_id] = conversation
            while len(self._conversations) > self.max_conversations:
                self._conversations.popitem(last=False)

    def turns(self, conversation_id: str) -> Sequence[list[str]]:
        """Key terms of the remembered turns (for inspection and tests)."""
        with self._lock:
            conversation = self._conversations.get(conversation_id)
            return list(conversation.turns) if conversation else []
