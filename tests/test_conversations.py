"""Conversations: key terms, follow-up detection, expiry, the size cap and thread safety, on
SQLite and PostgreSQL; and conversations that outlive an app and are shared by apps on one store
(as `qa serve` workers and replicas are)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from backends import DATABASES, backend_settings, empty_database
from conftest import SEED_ARTICLE, SEED_QUESTION, Clock
from qa.config import Settings
from qa.ingest.sentences import SpacySplitter
from qa.models.embedder import SentenceTransformerEmbedder
from qa.models.reader import SpanReader
from qa.service.app import create_app
from qa.service.conversations import ConversationStore, key_terms, needs_context
from qa.store.database import Database
from qa.wiring import Components, open_components


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with empty_database(request.param, tmp_path / "store") as opened:
        yield opened


def test_key_terms_drop_stop_words_and_repeats() -> None:
    assert key_terms("When will the coalition forces withdraw?") == [
        "coalition",
        "forces",
        "withdraw",
    ]
    # Split as keyword search splits them, so a carried term matches what the index holds.
    assert key_terms("What did the U.S. say, and what did the U.S. do?") == ["u", "s"]
    assert key_terms("") == []


def test_follow_ups_are_recognised() -> None:
    assert needs_context("why are they leaving?")
    assert needs_context("what did the spokesman say about it?")
    assert needs_context("and why?")
    assert not needs_context("when will coalition forces withdraw?")
    assert not needs_context("what happened in the 1973 oil crisis?")


def test_follow_up_gets_the_earlier_question_terms(database: Database) -> None:
    store = ConversationStore(database, ttl_seconds=60, max_conversations=10)
    conversation_id, terms = store.terms_for(None, "when will coalition forces withdraw?")
    assert terms == ""
    store.record(conversation_id, "when will coalition forces withdraw?")
    same_id, terms = store.terms_for(conversation_id, "why are they leaving?")
    assert same_id == conversation_id
    assert terms == "coalition forces withdraw"
    # A question that stands on its own is not pulled back to the old subject.
    assert store.terms_for(conversation_id, "what caused the 1973 oil crisis?")[1] == ""


def test_newest_turn_comes_first_and_old_turns_fall_away(database: Database) -> None:
    store = ConversationStore(database, ttl_seconds=60, max_conversations=10)
    conversation_id, _ = store.terms_for(None, "x")
    for question in ("oil embargo prices", "coalition forces withdraw", "Baghdad embassy attacks"):
        store.record(conversation_id, question)
    terms = store.terms_for(conversation_id, "who ordered them?")[1]
    assert terms == "baghdad embassy attacks coalition forces withdraw"


def test_conversations_expire_after_the_ttl(database: Database) -> None:
    clock = Clock()
    store = ConversationStore(database, ttl_seconds=30, max_conversations=10, clock=clock)
    conversation_id, _ = store.terms_for(None, "when will coalition forces withdraw?")
    store.record(conversation_id, "when will coalition forces withdraw?")
    clock.now += 29
    assert store.terms_for(conversation_id, "why are they leaving?")[0] == conversation_id
    store.record(conversation_id, "why are they leaving?")  # using it keeps it alive
    clock.now += 29
    assert len(store) == 1
    clock.now += 2
    new_id, terms = store.terms_for(conversation_id, "why are they leaving?")
    assert new_id != conversation_id and terms == ""
    assert len(store) == 0
    # An expired conversation's id, used again, starts afresh; starting one deletes the
    # expired rows.
    store.record(conversation_id, "what caused the 1973 oil crisis?")
    assert store.turns(conversation_id) == [["caused", "1973", "oil", "crisis"]]
    rows = database.execute("SELECT COUNT(*) AS n FROM conversations")
    assert int(rows[0]["n"]) == 1


def test_least_recently_used_conversation_goes_beyond_the_cap(database: Database) -> None:
    clock = Clock()
    store = ConversationStore(database, ttl_seconds=60, max_conversations=2, clock=clock)
    ids = []
    for question in ("oil topic words", "iraq topic words", "bridge topic words"):
        clock.now += 1
        conversation_id, _ = store.terms_for(None, question)
        store.record(conversation_id, question)
        ids.append(conversation_id)
        if len(ids) == 2:
            clock.now += 1
            store.record(ids[0], "oil again")  # the first is now used more recently
    assert len(store) == 2
    assert store.turns(ids[1]) == []
    assert store.turns(ids[0]) == [["oil", "topic", "words"], ["oil"]]
    assert store.turns(ids[2]) == [["bridge", "topic", "words"]]


def test_concurrent_turns_are_all_recorded(database: Database) -> None:
    store = ConversationStore(database, ttl_seconds=60, max_conversations=1000)
    conversation_ids = [store.terms_for(None, "x")[0] for _ in range(20)]

    def talk(conversation_id: str) -> None:
        for number in range(20):
            store.terms_for(conversation_id, "why are they leaving?")
            store.record(conversation_id, f"question number{number}")

    threads = [threading.Thread(target=talk, args=(c,)) for c in conversation_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 20
    assert all(store.turns(c)[-1] == ["question", "number19"] for c in conversation_ids)


def test_two_stores_on_one_database_share_turns_recorded_at_once(database: Database) -> None:
    """Two workers taking turns of the same conversation at the same moment lose none."""
    first = ConversationStore(database, ttl_seconds=60, max_conversations=100)
    second = ConversationStore(database, ttl_seconds=60, max_conversations=100)
    conversation_id, _ = first.terms_for(None, "x")
    barrier = threading.Barrier(2)

    def talk(store: ConversationStore, question: str) -> None:
        barrier.wait()
        store.record(conversation_id, question)

    threads = [
        threading.Thread(target=talk, args=(first, "oil embargo")),
        threading.Thread(target=talk, args=(second, "coalition forces")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(tuple, second.turns(conversation_id))) == [
        ("coalition", "forces"),
        ("oil", "embargo"),
    ]


# --- conversations of the app, kept in the store ------------------------------------------------


@contextmanager
def seeded_store(
    settings: Settings,
    kind: str,
    folder: Path,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Iterator[Settings]:
    """`settings` on a new store of this kind (SQLite, or PostgreSQL) holding the seed article."""
    with backend_settings(settings, f"{kind}+faiss", folder) as chosen:
        components = open_components(
            chosen, embedder=embedder, create=True, index_dir=folder, reader=reader
        )
        try:
            report = components.ingester(splitter).ingest_paths([SEED_ARTICLE], 10**7, False)
            assert report.ok
        finally:
            components.close()
        yield chosen


def ask(app: Flask, question: str, conversation_id: str | None = None) -> str:
    """Ask through the app's API; returns the conversation id of the answer."""
    body = {"question": question, "conversation_id": conversation_id}
    response = app.test_client().post("/api/ask", json=body)
    assert response.status_code == 200, response.get_json()
    conversation: str = response.get_json()["conversation_id"]
    return conversation


class Apps:
    """Opens apps on one index folder and store, as `qa serve` workers do; closes them all."""

    def __init__(
        self,
        settings: Settings,
        folder: Path,
        embedder: SentenceTransformerEmbedder,
        splitter: SpacySplitter,
        reader: SpanReader,
    ) -> None:
        self.settings, self.folder = settings, folder
        self.embedder, self.splitter, self.reader = embedder, splitter, reader
        self.opened: list[Components] = []

    def open(self) -> tuple[Flask, Components]:
        components = open_components(
            self.settings, embedder=self.embedder, index_dir=self.folder, reader=self.reader
        )
        self.opened.append(components)
        return create_app(components, splitter=self.splitter), components

    def close(self) -> None:
        for components in self.opened:
            components.close()


@pytest.fixture(params=DATABASES)
def apps(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    splitter: SpacySplitter,
    reader: SpanReader,
) -> Iterator[Apps]:
    folder = tmp_path / "index"
    with seeded_store(settings, request.param, folder, embedder, splitter, reader) as chosen:
        opened = Apps(chosen, folder, embedder, splitter, reader)
        try:
            yield opened
        finally:
            opened.close()


def test_a_conversation_survives_a_restart(apps: Apps) -> None:
    app, components = apps.open()
    conversation_id = ask(app, SEED_QUESTION)
    components.close()

    restarted, _ = apps.open()
    assert ask(restarted, "why are they leaving?", conversation_id) == conversation_id
    turns = restarted.extensions["qa"].conversations.turns(conversation_id)
    assert turns == [["coalition", "forces", "withdraw"], ["leaving"]]


def test_apps_open_at_once_on_one_store_share_conversations(apps: Apps) -> None:
    (first, _), (second, _) = apps.open(), apps.open()
    conversation_id = ask(first, SEED_QUESTION)
    assert ask(second, "why are they leaving?", conversation_id) == conversation_id
    assert ask(first, "what did the spokesman say about it?", conversation_id) == conversation_id
    for app in (first, second):
        turns = app.extensions["qa"].conversations.turns(conversation_id)
        assert turns == [["leaving"], ["spokesman"]]


def test_an_index_from_before_stored_conversations_gains_the_table(
    seed_components: Components, splitter: SpacySplitter
) -> None:
    """The seed index was made without an app, like a folder from before this table."""
    database = seed_components.index.store.database
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'conversations'"
    assert database.execute(tables) == []
    app = create_app(seed_components, splitter=splitter)
    conversation_id = ask(app, SEED_QUESTION)
    assert ask(app, "why are they leaving?", conversation_id) == conversation_id
    assert len(database.execute(tables)) == 1


def test_control_characters_in_a_question_are_dropped_before_it_is_stored(apps: Apps) -> None:
    """A NUL in a question used to reach the conversations table, which PostgreSQL refuses."""
    app, _ = apps.open()
    conversation_id = ask(app, SEED_QUESTION.replace("forces", "forces\x00", 1))
    assert ask(app, "why are they\x01 leaving?", conversation_id) == conversation_id
    turns = app.extensions["qa"].conversations.turns(conversation_id)
    assert turns == [["coalition", "forces", "withdraw"], ["leaving"]]
    body = {"question": SEED_QUESTION, "conversation_id": "a\x00b"}
    response = app.test_client().post("/api/ask", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_conversation_id"
