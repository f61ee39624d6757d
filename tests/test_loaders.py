import datetime as dt
import json
import os
from pathlib import Path

import pytest

from conftest import SEED_ARTICLE, SEED_FURNITURE
from qa.ingest.loaders import (
    ArticleError,
    article_from_html,
    article_from_record,
    find_article_files,
    load_file,
    parse_json,
)

LIMIT = 10**6


def test_seed_text_file_has_headline_metadata_and_no_furniture() -> None:
    [article] = load_file(SEED_ARTICLE, LIMIT).articles
    assert article.title == "Iraq says int'l coalition forces still needed to fight IS threat"
    assert article.source == "Xinhua"
    assert article.published == dt.date(2020, 10, 11)
    assert article.dateline == "BAGHDAD, Oct. 11"
    for furniture in SEED_FURNITURE:
        assert furniture not in article.text
    assert article.text.startswith("A spokesman of the Iraqi Joint Operations Command")


def test_json_list_and_jsonl_records(tmp_path: Path) -> None:
    records = [
        {
            "id": "a1",
            "title": "One",
            "text": "First story text.",
            "published": "2021-05-04T10:00:00Z",
        },
        {"title": "Two", "text": "Second story text.", "source": "AP", "url": "https://x.test/2"},
    ]
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps(records))
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    for path in (listing, lines):
        result = load_file(path, LIMIT)
        assert [a.title for a in result.articles] == ["One", "Two"]
        assert result.articles[0].id == "a1"
        assert result.articles[0].published == dt.date(2021, 5, 4)
        assert result.articles[1].source == "AP" and result.articles[1].url == "https://x.test/2"
        assert result.errors == []


def test_bad_records_are_named_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"title": "Good", "text": "Fine text."}\n'
        "{not json\n"
        '{"title": "", "text": "No title."}\n'
        '{"title": "Bad date", "text": "x", "published": "yesterday"}\n'
        "[1, 2]\n"
    )
    result = load_file(path, LIMIT)
    assert [a.title for a in result.articles] == ["Good"]
    assert [e.split(":")[1] for e in result.errors] == ["2", "3", "4", "5"]
    assert "malformed JSON" in result.errors[0]
    assert "'title'" in result.errors[1]
    assert "published" in result.errors[2]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"  \n\n", "empty file"),
        ("broken.json", b'{"title": "x", ', "malformed JSON"),
        ("binary.txt", b"Title\n\x00\x01\x02\x81\x8d", "binary"),
        ("only-title.txt", b"Just a headline\n", "only a headline; .* first line is the headline"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type"),
        ("nothing.html", b"<html><body><script>alert(1)</script></body></html>", "no article text"),
    ],
)
def test_unusable_files_raise_errors_naming_them(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ArticleError, match=message) as raised:
        load_file(path, LIMIT)
    assert str(path) in str(raised.value)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Title\n\n" + "word " * 100)
    with pytest.raises(ArticleError, match="limit"):
        load_file(path, 50)


def test_control_characters_are_blanked_and_an_article_of_nothing_else_refused() -> None:
    article = article_from_record({"title": "A\x00B", "text": "One\x00two.\tThree\x1f."}, "r")
    assert (article.title, article.text) == ("A B", "One two.\tThree .")
    with pytest.raises(ArticleError, match="no article text"):
        article_from_record({"title": "Ctrl", "text": "\x00\x01\x02"}, "r")


def test_a_file_name_that_is_not_utf8_is_named_printably(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    for name in (b"bad\xffname.txt", b"bad\xffname.jsonl"):
        path = Path(os.fsdecode(folder + b"/" + name))
        body = b'{"title": "T", "text": "Body."}' if name.endswith(b"l") else b"Title\nBody."
        path.write_bytes(body)
        [article] = load_file(path, LIMIT).articles
        # Python keeps the byte as a lone surrogate, which the store cannot encode.
        assert "bad\ufffdname" in article.origin
        article.origin.encode("utf-8")
    [missing] = find_article_files([Path(os.fsdecode(folder + b"/gone\xfe"))])[1]
    assert "gone\ufffd: no such file" in missing


def test_an_articles_key_that_is_not_a_list_is_named(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.json"
    path.write_text('{"articles": {"title": "T", "text": "Body."}}')
    with pytest.raises(ArticleError, match="'articles' must be a list"):
        load_file(path, LIMIT)
    # An article may have a field called "articles": it is still one article.
    path.write_text('{"title": "T", "text": "Body.", "articles": 3}')
    assert [a.title for a in load_file(path, LIMIT).articles] == ["T"]


def test_metadata_with_control_characters() -> None:
    record = {"title": "T", "text": "Some text.", "source": "City\x00 Wire\n"}
    assert article_from_record(record, "r").source == "City Wire"
    with pytest.raises(ArticleError, match="'url' holds a control character"):
        article_from_record({**record, "url": "https://example.com/a\nb"}, "r")
    with pytest.raises(ArticleError, match="'id' holds a control character"):
        article_from_record({**record, "id": "a\x00b"}, "r")
    with pytest.raises(ArticleError, match="'id' is longer than 1000"):
        article_from_record({**record, "id": "x" * 1_001}, "r")
    assert article_from_record({**record, "id": "x" * 1_000}, "r").id == "x" * 1_000


@pytest.mark.parametrize("reference", ["&#x1F;", "&#31", "&#X0b;", "&#xFFFE;", "&#65535;"])
def test_a_reference_to_a_character_xml_cannot_hold_does_not_lose_the_page(
    reference: str,
) -> None:
    page = (
        "<html><head><title>Bridge</title></head><body><article><p>The council met on Monday"
        f"{reference} to approve the bridge budget of ten million dollars for the town.</p>"
        "<p>Work starts in May and lasts two years, the caf&#233; owner said.</p>"
        "</article></body></html>"
    )
    for form in (page, page.encode("utf-8")):
        article = article_from_html(form, "page.html")
        assert article.text.startswith("The council met on Monday")
        assert "café owner" in article.text


@pytest.mark.parametrize(
    "text", ['{"a": "\\ud800"}', '["x\\udfff"]', '{"\\udbff": 1}', '"\\ud83d\\u0041"']
)
def test_half_a_surrogate_pair_is_malformed_json(text: str) -> None:
    for form in (text, text.encode("utf-8"), text.encode("utf-16")):
        with pytest.raises(json.JSONDecodeError, match="half of a surrogate pair"):
            parse_json(form)


def test_escaped_characters_and_whole_surrogate_pairs_still_parse() -> None:
    text = '{"a": "\\ud83d\\ude00 caf\\u00e9 \\\\ud800"}'  # the last is a backslash and "ud800"
    assert parse_json(text) == {"a": "\U0001f600 café \\ud800"}


def test_json_nested_too_deeply_is_malformed_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ArticleError, match="malformed JSON \\(nested too deeply"):
        load_file(path, LIMIT)


def test_html_without_a_title_says_what_would_give_one() -> None:
    body = "<p>The mayor said on Monday that the bridge will reopen in May after repairs.</p>"
    with pytest.raises(ArticleError, match="no title \\(a <title>, an <h1>"):
        article_from_html(f"<html><body>{body}</body></html>", "x.html")
    titled = article_from_html(f"<html><body><h1>Bridge to reopen</h1>{body}</body></html>", "x")
    assert titled.title == "Bridge to reopen"


def test_windows_1252_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\u00e9 story\n\nThe caf\u00e9 \u2014 closed on Monday.".encode("cp1252"))
    [article] = load_file(path, LIMIT).articles
    assert article.title == "Caf\u00e9 story"
    assert article.text == "The caf\u00e9 \u2014 closed on Monday."


def test_html_main_text_metadata_and_no_script() -> None:
    html = """<html><head><title>Dam opens | Daily Planet</title>
    <meta property="og:title" content="Dam opens after years of delay">
    <meta property="og:site_name" content="Daily Planet">
    <meta name="date" content="2022-03-14">
    <script>var tracking = "evil";</script></head>
    <body><nav>Home | World | Sports</nav>
    <article><h1>Dam opens after years of delay</h1>
    <p>The new dam opened on Monday after a decade of construction, officials said.</p>
    <p>It will supply power to two million homes by 2025, the ministry said in a statement.</p>
    <p onclick="steal()">Critics said the project cost $4.5 billion more than planned.</p>
    <iframe src="https://ads.example/frame"></iframe><img src=x onerror="pwn()">
    <script>document.write("injected")</script>
    </article><footer>Copyright 2022</footer></body></html>"""
    article = article_from_html(html, "page.html")
    assert article.title == "Dam opens after years of delay"
    assert article.source == "Daily Planet"
    assert article.published == dt.date(2022, 3, 14)
    assert "The new dam opened on Monday" in article.text
    assert "two million homes" in article.text
    for junk in ("tracking", "evil", "steal", "Home | World", "<p", "iframe", "ads.example"):
        assert junk not in article.text
    for junk in ("onerror", "pwn", "injected", "<img", "<script"):
        assert junk not in article.text


def test_folders_are_read_recursively_and_missing_paths_named(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("x")
    (tmp_path / "a" / "b" / "two.HTML").write_text("x")
    (tmp_path / "a" / "b" / "skip.csv").write_text("x")
    files, missing = find_article_files([tmp_path / "a", tmp_path / "nope"])
    assert files == [
        tmp_path / "a" / "b" / "two.HTML",
        tmp_path / "a" / "one.txt",
    ]  # sorted by path
    assert missing == [f"{tmp_path / 'nope'}: no such file or folder"]
