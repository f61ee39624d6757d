import datetime as dt

from qa.ingest.clean import CleanedText, clean_wire_text

SEED_BODY = """
Source: Xinhua| 2020-10-11 22:20:20|Editor: huaxia

BAGHDAD, Oct. 11 (Xinhua) -- A spokesman said on Sunday that forces remain.

Troops will leave. Enditem

KEY WORDS:
EXPLORE XINHUANET
010020070750000000000000011100001394325961"""


def test_wire_furniture_goes_and_its_facts_stay() -> None:
    cleaned = clean_wire_text(SEED_BODY)
    assert cleaned.source == "Xinhua"
    assert cleaned.published == dt.date(2020, 10, 11)
    assert cleaned.dateline == "BAGHDAD, Oct. 11"
    assert cleaned.text == "A spokesman said on Sunday that forces remain.\n\nTroops will leave."


def test_other_agencies_datelines_bylines_and_related_lists() -> None:
    raw = """By Jane Doe

LONDON, March 3 (Reuters) - Shares fell 2.5% on Tuesday.

Related:
Markets slide as rates rise
Oil jumps on supply fears

The index closed lower. (END)
Reporting by Jane Doe; Editing by John Roe"""
    cleaned = clean_wire_text(raw)
    assert cleaned.source == "Reuters"
    assert cleaned.dateline == "LONDON, March 3"
    assert cleaned.text == "Shares fell 2.5% on Tuesday.\n\nThe index closed lower."


def test_associated_press_dateline_with_dash() -> None:
    cleaned = clean_wire_text(
        "WASHINGTON (AP) — The Senate voted on Friday.\n\nADVERTISEMENT\n\nIt passed."
    )
    assert cleaned.dateline == "WASHINGTON"
    assert cleaned.source == "AP"
    assert cleaned.text == "The Senate voted on Friday.\n\nIt passed."


def test_plain_story_is_left_alone() -> None:
    raw = "The U.S. economy grew.\nIt grew by 3.1 percent, officials said.\n\nMr. Smith agreed."
    cleaned = clean_wire_text(raw)
    assert (
        cleaned.text
        == "The U.S. economy grew. It grew by 3.1 percent, officials said.\n\nMr. Smith agreed."
    )
    assert cleaned.source is None and cleaned.published is None and cleaned.dateline is None


def test_story_sentences_opening_with_a_label_word_stay_and_the_labels_go() -> None:
    """SQuAD 1.1 holds a paragraph opening "Copyright infringement is...": a label word opens
    story text too, so only the label form (a colon, a year, a copyright sign) is furniture."""
    raw = (
        "Copyright infringement is the use of protected works without permission.\n\n"
        "Editor John Smith said the paper would appeal.\n\n"
        "Tags: courts, media\n\nCopyright 2020 Xinhua. All rights reserved.\n\n"
        "© 2020 Reuters\n\nEditor: Li Jia"
    )
    cleaned = clean_wire_text(raw)
    assert cleaned.text == (
        "Copyright infringement is the use of protected works without permission.\n\n"
        "Editor John Smith said the paper would appeal."
    )


def test_a_date_line_above_the_story_goes_and_dates_it() -> None:
    cleaned = clean_wire_text("Friday, December 25, 2020 \nIn May, a study was published.")
    assert cleaned.text == "In May, a study was published."
    assert cleaned.published == dt.date(2020, 12, 25)
    for line, day in (
        ("25 December 2020", dt.date(2020, 12, 25)),
        ("Sept. 3, 2019", dt.date(2019, 9, 3)),
        ("2020-06-01", dt.date(2020, 6, 1)),
    ):
        assert clean_wire_text(f"{line}\n\nIt rained.") == CleanedText("It rained.", published=day)
    # Only a line that is nothing but a date, and only above the story.
    for story in (
        "Friday, the House issued a subpoena.",
        "December 25, 2020 was a Friday.",
        "It rained.\n\nFriday, December 25, 2020",
    ):
        assert clean_wire_text(story) == CleanedText(story)
    # A Source line's date wins over the page's; an impossible date dates nothing.
    assert clean_wire_text("Source: X| 2020-10-11|\nMay 2, 2020\nIt rained.").published == (
        dt.date(2020, 10, 11)
    )
    assert clean_wire_text("February 30, 2020\nIt rained.") == CleanedText("It rained.")
