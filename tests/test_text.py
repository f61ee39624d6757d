import pytest

from qa.ingest.sentences import (
    SpacySplitter,
    make_chunks,
    merge_fragments,
    paragraph_pieces,
    to_sentences,
)


def split(splitter: SpacySplitter, text: str) -> list[str]:
    return [s.text for s in to_sentences("a", text, splitter.split([text])[0])]


@pytest.mark.parametrize(
    "sentence",
    [
        "On Aug. 20, U.S. President Donald Trump confirmed that the U.S.-led coalition forces "
        "will rapidly withdraw from Iraq within three years.",
        "Iraq says int'l coalition forces are still needed, Mr. Smith said on Oct. 11.",
        "The economy grew 3.5 percent, to $1.2 trillion, the U.S. Commerce Department said.",
        'He said "We will go. Now." and left.',
        "“The coalition is still here. It works with us,” the spokesman said.",
    ],
)
def test_abbreviations_decimals_and_quotes_stay_in_one_sentence(
    splitter: SpacySplitter, sentence: str
) -> None:
    text = f"{sentence} The next sentence follows here."
    assert split(splitter, text) == [sentence, "The next sentence follows here."]


def test_offsets_point_into_the_text_and_paragraphs_break_sentences(
    splitter: SpacySplitter,
) -> None:
    text = "First paragraph ends without a stop\n\nSecond one. Third one here."
    spans = splitter.split([text])[0]
    sentences = to_sentences("a", text, spans)
    assert [s.text for s in sentences] == [
        "First paragraph ends without a stop",
        "Second one.",
        "Third one here.",
    ]
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text


def test_entities_are_kept_by_article_offsets(splitter: SpacySplitter) -> None:
    text = (
        "Filler sentence here.\n\nOn Aug. 20, the forces said they will leave within three years."
    )
    sentence = to_sentences("a", text, splitter.split([text])[0])[1]
    dates = {text[e.start : e.end] for e in sentence.entities if e.label == "DATE"}
    assert {"Aug. 20", "three years"} <= dates


def test_a_run_on_paragraph_is_split_in_pieces_spacy_accepts(splitter: SpacySplitter) -> None:
    """One paragraph longer than spaCy's million-character limit used to crash ingest (a 500
    from the API); it is cut into pieces after a sentence's end, and every offset holds."""
    text = "Headline words.\n\n" + "The council met again on Monday. " * 1000 + "x" * 25_000
    spans = splitter.split([text])[0]
    assert [text[s.start : s.end] for s in spans[1:3]] == ["The council met again on Monday."] * 2
    assert sum(text[s.start : s.end] == "The council met again on Monday." for s in spans) == 1000
    # A run with no space to cut at is cut where the piece is full.
    assert [spans[-2].end - spans[-2].start, spans[-1].end - spans[-1].start] == [20_000, 5_000]
    assert text[spans[-2].start : spans[-1].end] == "x" * 25_000
    pieces = paragraph_pieces(text, 0, len(text), limit=1_000)
    assert all(end - start <= 1_000 for start, end in pieces)
    assert "".join(text[start:end] for start, end in pieces) == text
    assert all(text[end - 2 : end] == ". " for _, end in pieces[:-26])


def test_merge_fragments_joins_open_quotes_and_lowercase_continuations() -> None:
    text = 'He said "We go. Now." and left. Done.'
    spans = [(0, 15), (16, 21), (22, 31), (32, 37)]
    assert merge_fragments(text, spans) == [(0, 31), (32, 37)]


def sentences_of(count: int) -> tuple[str, list]:
    from qa.types import Sentence

    parts, sentences, position = [], [], 0
    for i in range(count):
        words = f"Sentence number {i}."
        sentences.append(Sentence("a", i, position, position + len(words), words))
        parts.append(words)
        position += len(words) + 1
    return " ".join(parts), sentences


@pytest.mark.parametrize(
    ("count", "size", "overlap"), [(1, 4, 1), (4, 4, 1), (5, 4, 1), (10, 3, 2), (7, 2, 0)]
)
def test_chunks_are_overlapping_sentence_windows_with_exact_text(
    count: int, size: int, overlap: int
) -> None:
    text, sentences = sentences_of(count)
    chunks = make_chunks(sentences, text, size, overlap)
    covered = set()
    for previous, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.last_sentence - chunk.first_sentence + 1 <= size
        first, last = sentences[chunk.first_sentence], sentences[chunk.last_sentence]
        assert chunk.text == text[first.start : last.end]
        if previous is not None:
            assert previous.last_sentence - chunk.first_sentence + 1 == overlap
        covered.update(range(chunk.first_sentence, chunk.last_sentence + 1))
    assert covered == set(range(count))
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_chunking_rejects_overlap_not_smaller_than_window() -> None:
    text, sentences = sentences_of(3)
    with pytest.raises(ValueError, match="overlap"):
        make_chunks(sentences, text, 2, 2)


def test_the_reduced_pipeline_finds_the_entities_the_whole_model_finds(
    splitter: SpacySplitter,
) -> None:
    """Only the segmenter and the recogniser run; the shared tok2vec they do not use is left
    out, and the entities (dates for qa.answering.dates, answer types for qa.answering.ranker) must
    not change."""
    import spacy

    text = (
        "On Aug. 20, U.S. President Donald Trump confirmed that the U.S.-led coalition forces "
        "will rapidly withdraw from Iraq within three years. The deal cost $1.2 billion, "
        "Iraq's Foreign Ministry said in Baghdad on Tuesday at 3 p.m."
    )
    whole = spacy.load(splitter.model)
    expected = {(e.label_, e.start_char, e.end_char) for e in whole(text).ents}
    found = {(e.label, e.start, e.end) for s in splitter.split([text])[0] for e in s.entities}
    assert found == expected
    assert {"DATE", "GPE", "PERSON", "MONEY", "TIME"} <= {label for label, _, _ in found}
