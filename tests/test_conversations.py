"""Conversations: key terms, follow-up detection, expiry, the size cap and thread safety."""

from __future__ import annotations

import threading

from qa.conversations import ConversationStore, key_terms, needs_context


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_key_terms_drop_stop_words_and_repeats() -> None:
    assert key_terms("When will the coalition forces withdraw?") == [
        "coalition",
        "forces",
        "withdraw",
    ]
    assert key_terms("What did the U.S. say, and what did the U.S. do?") == ["u.s"]
    assert key_terms("") == []


def test_follow_ups_are_recognised() -> None:
    assert needs_context("why are they leaving?")
    assert needs_context("what did the spokesman say about it?")
    assert needs_context("and why?")
    assert not needs_context("when will coalition forces withdraw?")
    assert not needs_context("what happened in the 1973 oil crisis?")


def test_follow_up_gets_the_earlier_question_terms() -> None:
    store = ConversationStore(ttl_seconds=60, max_conversations=10)
    conversation_id, terms = store.terms_for(None, "when will coalition forces withdraw?")
    assert terms == ""
    store.record(conversation_id, "when will coalition forces withdraw?")
    same_id, terms = store.terms_for(conversation_id, "why are they leaving?")
    assert same_id == conversation_id
    assert terms == "coalition forces withdraw"
    # A question that stands on its own is not pulled back to the old subject.
    assert store.terms_for(conversation_id, "what caused the 1973 oil crisis?")[1] == ""


def test_newest_turn_comes_first_and_old_turns_fall_away() -> None:
    store = ConversationStore(ttl_seconds=60, max_conversations=10)
    conversation_id, _ = store.terms_for(None, "x")
    for question in ("oil embargo prices", "coalition forces withdraw", "Baghdad embassy attacks"):
        store.record(conversation_id, question)
    terms = store.terms_for(conversation_id, "who ordered them?")[1]
    assert terms == "baghdad embassy attacks coalition forces withdraw"


def test_conversations_expire_after_the_ttl() -> None:
    clock = Clock()
    store = ConversationStore(ttl_seconds=30, max_conversations=10, clock=clock)
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


def test_least_recently_used_conversation_goes_beyond_the_cap() -> None:
    store = ConversationStore(ttl_seconds=60, max_conversations=2)
    ids = []
    for question in ("oil topic words", "iraq topic words", "bridge topic words"):
        conversation_id, _ = store.terms_for(None, question)
        store.record(conversation_id, question)
        ids.append(conversation_id)
    assert len(store) == 2
    assert store.turns(ids[0]) == []
    assert store.turns(ids[2]) == [["bridge", "topic", "words"]]


def test_concurrent_turns_are_all_recorded() -> None:
    store = ConversationStore(ttl_seconds=60, max_conversations=1000)
    conversation_ids = [store.terms_for(None, "x")[0] for _ in range(50)]

    def talk(conversation_id: str) -> None:
        for number in range(20):
            store.terms_for(conversation_id, "why are they leaving?")
            store.record(conversation_id, f"question number{number}")

    threads = [threading.Thread(target=talk, args=(c,)) for c in conversation_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50
    assert all(store.turns(c)[-1] == ["question", "number19"] for c in conversation_ids)
