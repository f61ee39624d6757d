"""Conversations: what earlier turns carry into a follow-up question, kept in the store a while.

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

Conversations are rows of a `conversations` table in the article store's database (SQLite or
PostgreSQL, `store.url`), so that whichever `qa serve` worker or replica takes the next turn
continues it, and a restart loses none. They expire after `ttl_seconds` idle (wall-clock time,
comparable across processes); beyond `max_conversations` the least recently used are dropped.
Expired rows are invisible at once and deleted when a new conversation starts. All methods are
thread-safe.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.store.database import Database
from qa.words import STOPWORDS, words

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
# The longest conversation id a client may send back (ids this store makes are shorter).
MAX_CONVERSATION_ID_CHARS = 64


def key_terms(text: str) -> list[str]:
    """Content words of `text` in order (`qa.words`), without stop words or duplicates.

    >>> key_terms("When will the coalition forces withdraw?")
    ['coalition', 'forces', 'withdraw']
    """
    seen: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in seen:
            continue
        seen.append(word)
    return seen


def needs_context(question: str) -> bool:
    """Whether a question leans on earlier turns: it refers back, or says too little alone."""
    if any(word in ANAPHORS for word in words(question)):
        return True
    return len(key_terms(question)) <= MIN_SELF_CONTAINED_TERMS - 1


# An additive table: a store without it (made before conversations were kept here) gains it on
# first use, and the store's schema version stays as it is (see qa.store.articles).
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS conversations ("
    "id TEXT PRIMARY KEY, turns TEXT NOT NULL, last_used DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_last_used ON conversations (last_used)",
)


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[tuple[str, ...], ...] = ()  # key terms per turn, oldest first

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


def _turns_from_json(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(turn) for turn in json.loads(text))


class ConversationStore:
    """Conversations by id in a database table, with idle expiry and a size cap.

    `clock` gives seconds of wall-clock time (`time.time`): rows written by one process are
    read by others, so a per-process clock such as `time.monotonic` would not do.
    """

    def __init__(
        self,
        database: Database,
        ttl_seconds: float,
        max_conversations: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create the table if the store lacks it (raises qa.store.database.DatabaseError)."""
        self.database = database
        self.ttl_seconds = ttl_seconds
        self.max_conversations = max_conversations
        self._clock = clock
        with database.schema_change():
            for statement in _SCHEMA:
                database.execute(statement)

    def _live(self, conversation_id: str) -> Conversation | None:
        """The conversation if it exists and has not expired."""
        rows = self.database.execute(
            "SELECT turns FROM conversations WHERE id = ? AND last_used >= ?",
            (conversation_id, self._clock() - self.ttl_seconds),
        )
        return Conversation(conversation_id, _turns_from_json(rows[0]["turns"])) if rows else None

    def __len__(self) -> int:
        rows = self.database.execute(
            "SELECT COUNT(*) AS n FROM conversations WHERE last_used >= ?",
            (self._clock() - self.ttl_seconds,),
        )
        return int(rows[0]["n"])

    def terms_for(self, conversation_id: str | None, question: str) -> tuple[str, str]:
        """The id to answer under (a new one when `conversation_id` is unknown or expired)
        and the earlier turns' terms that `question` needs (see `Conversation.terms_for`)."""
        conversation = self._live(conversation_id) if conversation_id else None
        if conversation is None:
            return secrets.token_urlsafe(16), ""
        return conversation.id, conversation.terms_for(question)

    def record(self, conversation_id: str, question: str) -> None:
        """Remember an answered turn (starting the conversation if it is new or expired)."""
        now = self._clock()
        with self.database.transaction(write=True):
            # The upsert comes first: on PostgreSQL it locks the row, so a turn of the same
            # conversation recorded at once by another worker waits, then reads this one's turns.
            # An expired row that was not deleted yet starts afresh.
            [row] = self.database.execute(
                "INSERT INTO conversations (id, turns, last_used) VALUES (?, '[]', ?) "
                "ON CONFLICT (id) DO UPDATE SET last_used = excluded.last_used, turns = CASE "
                "WHEN conversations.last_used < ? THEN '[]' ELSE conversations.turns END "
                "RETURNING turns",
                (conversation_id, now, now - self.ttl_seconds),
            )
            earlier = json.loads(row["turns"])
            turns = [*earlier, key_terms(question)][-TURNS_REMEMBERED:]
            self.database.execute(
                "UPDATE conversations SET turns = ? WHERE id = ?",
                (json.dumps(turns), conversation_id),
            )
        if not earlier:
            self._make_room(now)

    def _make_room(self, now: float) -> None:
        """Delete expired conversations, then the least recently used beyond the cap. Only a new
        conversation adds a row, so only then is this needed; it is a transaction of its own so
        that recording a turn locks no other conversation's row."""
        with self.database.transaction(write=True):
            self.database.execute(
                "DELETE FROM conversations WHERE last_used < ?", (now - self.ttl_seconds,)
            )
            count = int(self.database.execute("SELECT COUNT(*) AS n FROM conversations")[0]["n"])
            if count > self.max_conversations:
                self.database.execute(
                    "DELETE FROM conversations WHERE id IN (SELECT id FROM conversations "
                    "ORDER BY last_used, id LIMIT ?)",
                    (count - self.max_conversations,),
                )

    def turns(self, conversation_id: str) -> Sequence[list[str]]:
        """Key terms of the remembered turns (for inspection and tests)."""
        conversation = self._live(conversation_id)
        return [list(turn) for turn in conversation.turns] if conversation else []
