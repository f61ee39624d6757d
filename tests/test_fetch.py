"""Fetching pages and feeds from a real HTTP server on 127.0.0.1 (tests/news_site.py)."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO
from fakes import HashEmbedder
from news_site import OVERSIZE_LIMIT, PNG, NewsSite, serving
from qa.ingest.fetch import USER_AGENT, Fetched, Fetcher, FetchError, is_url, read_urls
from qa.ingest.ingester import Ingester, IngestReport
from qa.ingest.sentences import SpacySplitter
from qa.store.index import Index


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[NewsSite]:
    monkeypatch.setenv("no_proxy", "*")  # a proxy in the environment must not see these
    with serving() as running:
        yield running


def fetcher(timeout_seconds: float = 5.0) -> Fetcher:
    return Fetcher(OVERSIZE_LIMIT, timeout_seconds)


def test_feed_entries_become_articles_with_their_titles_dates_and_urls(site: NewsSite) -> None:
    home = site.address
    articles, errors = read_urls(
        [f"{home}/feeds/rss.xml", f"{home}/feeds/atom.xml"], fetcher(), show_progress=False
    )
    by_url = {a.url: a for a in articles}
    assert list(by_url) == [
        f"{home}/news/bridge.html",
        f"{home}/news/harvest.html",
        f"{home}/news/port.html",  # the Atom entry's relative link, resolved
    ]
    bridge = by_url[f"{home}/news/bridge.html"]
    # The page's own title and date win over the feed's.
    assert (bridge.title, bridge.published, bridge.source) == (
        "Harbour Bridge to reopen in March",
        dt.date(2024, 11, 5),
        "Harbour City Gazette",
    )
    assert "The Harbour Bridge will reopen to traffic on March 3, 2025" in bridge.text
    assert "tracker" not in bridge.text and "Home | City" not in bridge.text
    # A page without a title or date takes the entry's, the day as the feed wrote it (in UTC
    # it would be the day before).
    harvest = by_url[f"{home}/news/harvest.html"]
    assert (harvest.title, harvest.published) == (
        "Record wheat harvest in the north",
        dt.date(2024, 11, 5),
    )
    port = by_url[f"{home}/news/port.html"]
    assert (port.title, port.published) == (
        "Dockworkers end strike at the container port",
        dt.date(2024, 10, 30),
    )
    assert errors == [
        f"{home}/news/gone.html: HTTP 404 Not Found (an entry of {home}/feeds/rss.xml)"
    ]
    assert set(site.user_agents) == {USER_AGENT} and USER_AGENT.startswith("qa/")


def test_each_failing_url_is_one_error_line_naming_it(site: NewsSite) -> None:
    home = site.address
    failing = {
        f"{home}/news/gone.html": "HTTP 404 Not Found",
        f"{home}/big.html": f"bytes is over the {OVERSIZE_LIMIT}-byte limit",
        f"{home}/endless.html": f"more than the {OVERSIZE_LIMIT}-byte limit",
        f"{home}/files/photo.png": (
            "neither an HTML page nor a feed (Content-Type application/octet-stream)"
        ),
        f"{home}/slow.html": "timed out after 0.5 s",
        f"{home}/to-file": "redirected to file:///etc/passwd; only http:// and https://",
        "file:///etc/passwd": "only http:// and https:// URLs",
        "http://127.0.0.1:1/nothing-listens-here": "cannot connect (Connection refused)",
    }
    good = f"{home}/news/bridge.html"
    articles, errors = read_urls(
        [*failing, good], fetcher(timeout_seconds=0.5), show_progress=False
    )
    assert [a.url for a in articles] == [good]
    assert len(errors) == len(failing)
    for error, (url, reason) in zip(errors, failing.items(), strict=True):
        assert error.startswith(f"{url}: ") and reason in error, error


def test_size_limit_stops_reading_past_the_limit(site: NewsSite) -> None:
    """The endless page is refused after max_bytes + 1 bytes, not read to its end."""
    with pytest.raises(FetchError, match="limit"):
        Fetcher(1_000, 5.0).fetch(f"{site.address}/endless.html")
    assert len(Fetcher(len(PNG), 5.0).fetch(f"{site.address}/files/photo.png").body) == len(PNG)
    with pytest.raises(FetchError, match=f"{len(PNG)} bytes is over the {len(PNG) - 1}-byte"):
        Fetcher(len(PNG) - 1, 5.0).fetch(f"{site.address}/files/photo.png")


def test_redirects_are_followed_and_the_asked_url_kept(site: NewsSite) -> None:
    old = f"{site.address}/old/bridge.html"
    fetched = fetcher().fetch(old)
    assert fetched.final_url == f"{site.address}/news/bridge.html"
    [article], errors = read_urls([old, old], fetcher(), show_progress=False)
    assert (article.url, errors) == (old, [])
    # Two fetches (the same URL given twice is fetched once), each a redirect and its target.
    assert site.user_agents == [USER_AGENT] * 4


def test_a_page_is_decoded_by_the_charset_its_content_type_names(site: NewsSite) -> None:
    [article], errors = read_urls([f"{site.address}/news/cafe.html"], fetcher(), False)
    assert (article.title, errors) == ("Caf\u00e9 on the quay reopens", [])
    assert "cr\u00e8me br\u00fbl\u00e9e is back on the menu \u2014 at the old price" in article.text


def test_progress_counts_every_fetch_on_stderr(
    site: NewsSite, capsys: pytest.CaptureFixture[str]
) -> None:
    read_urls([f"{site.address}/feeds/rss.xml"], fetcher(), show_progress=True)
    captured = capsys.readouterr()
    assert "fetching" in captured.err and "4/4" in captured.err  # the feed and its 3 links
    assert captured.out == ""


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http:///path"])
def test_other_schemes_are_refused_without_a_request(url: str) -> None:
    with pytest.raises(FetchError, match="only http:// and https://"):
        fetcher().fetch(url)


def test_re_fetched_articles_are_unchanged(
    site: NewsSite, tmp_path: Path, splitter: SpacySplitter
) -> None:
    """Fetched articles go into the store whole; fetching the same pages again gives the same
    articles, so a second ingest leaves them alone."""
    urls = [f"{site.address}/feeds/rss.xml", f"{site.address}/news/port.html"]
    first, _ = read_urls(urls, fetcher(), show_progress=False)
    second, _ = read_urls(urls, fetcher(), show_progress=False)
    assert first == second and len(first) == 3

    embedder = HashEmbedder()
    index = Index.open(tmp_path, embedder, 4, 1, create=True)
    ingester = Ingester(index, embedder, splitter, 8)
    try:
        added = ingester.ingest_with_progress(first, IngestReport(), show_progress=False)
        assert len(added.added) == 3 and added.ok
        for article in first:
            stored, sentences = index.store.get(article.id)
            assert (stored.url, stored.title, stored.published) == (
                article.url,
                article.title,
                article.published,
            )
            assert sentences and sentences[0].text in article.text
        again = ingester.ingest_articles(second)
        assert sorted(again.unchanged) == sorted(a.id for a in first)
        assert (again.added, again.replaced) == ([], [])
    finally:
        index.close()


@pytest.mark.parametrize(
    ("content_type", "body", "kind"),
    [
        ("application/rss+xml", b"<rss version='2.0'></rss>", "feed"),
        ("text/html", b"<?xml version='1.0'?>\n<rss version='2.0'>", "feed"),
        ("text/xml", b"\xef\xbb\xbf<?xml version='1.0'?><!-- c --><feed xmlns='x'>", "feed"),
        ("", b"<rdf:RDF xmlns:rdf='x'>", "feed"),
        ("text/html; charset=utf-8", b"<p>Hello", "page"),
        ("", b"\n<!DOCTYPE html><html>", "page"),
        ("application/octet-stream", b"<html><head>", "page"),
        ("image/png", b"<html><head>", None),
        ("application/octet-stream", PNG, None),
        ("application/xml", b"<?xml version='1.0'?><urlset>", None),
        ("application/pdf", b"%PDF-1.7", None),
    ],
)
def test_feed_or_page_is_decided_by_content(
    content_type: str, body: bytes, kind: str | None
) -> None:
    assert Fetched("http://x.test/", "http://x.test/", content_type, body).kind == kind


@pytest.mark.parametrize(
    ("argument", "url"),
    [
        ("https://news.example/feed.xml", True),
        ("HTTP://news.example/a.html", True),
        ("file:///etc/passwd", True),  # a URL, so that it is refused by name
        ("samples", False),
        ("articles/http-notes.txt", False),
        ("http:notes.txt", False),
    ],
)
def test_urls_are_told_from_paths(argument: str, url: bool) -> None:
    assert is_url(argument) is url


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ingest.fetch_timeout_seconds"):
        Fetcher(1_000, 0)


def test_only_the_command_line_fetches() -> None:
    """The HTTP API must not be able to make the server reach an address: nothing but
    qa/ingest/fetch.py speaks HTTP as a client, and only the CLI imports it."""
    clients = {
        "qa.ingest.fetch",
        "feedparser",
        "urllib.request",
        "http.client",
        "socket",
        "requests",
    }
    importers: dict[str, set[str]] = {}
    for path in sorted((REPO / "qa").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name in clients:
                    importers.setdefault(name, set()).add(path.name)
    assert importers.pop("qa.ingest.fetch") == {"cli.py"}
    assert all(files == {"fetch.py"} for files in importers.values()), importers
