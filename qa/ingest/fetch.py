"""Articles from the web for `qa ingest URL`: article pages, and RSS / Atom feeds whose entries'
links are fetched as pages.

Only the command line uses this module. The HTTP API never fetches, so no request can make the
server reach an address. Fetching is plain http(s) GET with a timeout, a size limit and a
User-Agent naming qa; other schemes are refused, also as redirect targets. Every failure is a
`FetchError` (or, for a page without article text, an `ArticleError`) whose message starts with
the URL, so ingest reports it as one line and goes on with the other URLs.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException, HTTPMessage, HTTPResponse, InvalidURL
from typing import IO, Any, Literal
from urllib.parse import urljoin, urlsplit

import feedparser
from tqdm import tqdm

from qa import __version__
from qa.ingest.loaders import ArticleError, article_from_html, parse_published
from qa.types import Article

SCHEMES = ("http", "https")
USER_AGENT = f"qa/{__version__} (offline news question answering; fetches what qa ingest is given)"
_ACCEPT = (
    "text/html, application/xhtml+xml, application/rss+xml, application/atom+xml, "
    "application/xml;q=0.9, */*;q=0.1"
)
_READ_BYTES = 65_536
_SNIFF_BYTES = 4_096
_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml"}
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
# Types servers give to anything; only for these does the body decide. An image/png is never
# read as a page, whatever its bytes look like.
_GENERIC_TYPES = {"", "text/plain", "text/xml", "application/xml", "application/octet-stream"}
_SNIFFED_FOR_FEEDS = _GENERIC_TYPES | _HTML_TYPES  # feeds are sometimes served as text/html
# What may precede the first element: a byte order mark, white space, an XML declaration or
# processing instructions, comments, a doctype.
_PROLOG = rb"^(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!doctype[^>]*>)*"
_FEED_ROOT = re.compile(_PROLOG + rb"<(?:rss|feed|rdf:rdf)[\s>/]", re.IGNORECASE | re.DOTALL)
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?(?:\s+|<!--.*?-->)*<(?:!doctype\s+html|html|head|body|title|meta)[\s>/]",
    re.IGNORECASE | re.DOTALL,
)
_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# A scheme followed by "//": such an argument is a URL (http and https are fetched, the rest
# refused by name), anything else a path.
_URL_LIKE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class FetchError(Exception):
    """A URL could not be fetched, or holds neither an HTML page nor a feed; the message starts
    with the URL and says why (HTTP status, connection error, timeout, size, content)."""


def is_url(argument: str) -> bool:
    """Whether a `qa ingest` argument names a URL (`scheme://…`) rather than a file or folder."""
    return bool(_URL_LIKE.match(argument))


@dataclass(frozen=True)
class Fetched:
    """One fetched resource. `url` is the one asked for (an article's identity); `final_url`
    the one answered after redirects (relative links resolve against it)."""

    url: str
    final_url: str
    content_type: str  # the Content-Type header as sent; "" when absent
    body: bytes

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def kind(self) -> Literal["feed", "page"] | None:
        """What the content is, by its declared type and, when that is generic, its first
        element; None when it is neither an HTML page nor a feed."""
        head = self.body[:_SNIFF_BYTES]
        if self.media_type in _FEED_TYPES or (
            self.media_type in _SNIFFED_FOR_FEEDS and _FEED_ROOT.match(head)
        ):
            return "feed"
        if self.media_type in _HTML_TYPES or (
            self.media_type in _GENERIC_TYPES and _HTML_START.match(head)
        ):
            return "page"
        return None


class _RefusedRedirect(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects (up to urllib's 10) only to http and https addresses."""

    def http_error_302(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage
    ) -> Any:
        location = headers.get("Location") or headers.get("URI")
        if location:
            target = urljoin(req.full_url, location)
            if urlsplit(target).scheme.lower() not in SCHEMES:
                fp.close()
                raise _RefusedRedirect(target)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    """An opener that can speak only http and https (no file:, ftp: or data: handlers at all);
    proxies come from the environment as for any command-line tool."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        _WebOnlyRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


@dataclass(frozen=True)
class Fetcher:
    """GETs http(s) URLs. `max_bytes` (ingest.max_file_bytes): larger bodies are refused after
    reading at most `max_bytes` + 1 bytes. `timeout_seconds` (ingest.fetch_timeout_seconds): the
    longest wait to connect or for data, and the longest a whole download may take."""

    max_bytes: int
    timeout_seconds: float

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError(
                f"ingest.fetch_timeout_seconds must be more than 0, not {self.timeout_seconds}"
            )
        if self.max_bytes < 1:
            raise ValueError(f"ingest.max_file_bytes must be at least 1, not {self.max_bytes}")

    def fetch(self, url: str) -> Fetched:
        """The body of `url` (redirects followed). Raises FetchError."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES or not parts.hostname:
            raise FetchError(f"{url}: only http:// and https:// URLs with a host are fetched")
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT})
        deadline = time.monotonic() + self.timeout_seconds
        try:
            with _opener().open(request, timeout=self.timeout_seconds) as response:
                body = self._read(url, response, deadline)
                return Fetched(url, response.url, response.headers.get("Content-Type", ""), body)
        except urllib.error.HTTPError as error:
            error.close()
            raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
        except _RefusedRedirect as refused:
            raise FetchError(
                f"{url}: redirected to {refused.target}; only http:// and https:// are fetched"
            ) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise self._timed_out(url) from None
            raise FetchError(f"{url}: cannot connect ({_reason(error.reason)})") from None
        except TimeoutError:
            raise self._timed_out(url) from None
        except InvalidURL as error:
            raise FetchError(f"{url}: not a valid URL ({error})") from None
        except (HTTPException, OSError) as error:
            raise FetchError(f"{url}: the connection broke ({_reason(error)})") from None

    def _read(self, url: str, response: HTTPResponse, deadline: float) -> bytes:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise FetchError(f"{url}: {int(length)} bytes is over the {self.max_bytes}-byte limit")
        body = bytearray()
        # read1 returns what one receive brings, so a server trickling bytes still meets the
        # deadline; reading stops one byte past the limit.
        while chunk := response.read1(min(_READ_BYTES, self.max_bytes + 1 - len(body))):
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchError(f"{url}: more than the {self.max_bytes}-byte limit")
            if time.monotonic() > deadline:
                raise self._timed_out(url)
        return bytes(body)

    def _timed_out(self, url: str) -> FetchError:
        return FetchError(f"{url}: timed out after {self.timeout_seconds:g} s")


@dataclass(frozen=True)
class FeedEntry:
    """A feed item: the page it links to and what the feed says of it, used when the page does
    not say (`published` is the day as the feed wrote it, not converted to UTC)."""

    link: str
    title: str | None
    published: dt.date | None


def _entry_day(entry: Any) -> dt.date | None:
    """The entry's publication (else update) day as written: ISO 8601 (Atom) or RFC 822 (RSS);
    feedparser's own parse, which moves the day to UTC, only when neither reads it."""
    for key in ("published", "updated"):
        written = entry.get(key)
        if not written:
            continue
        try:
            return parse_published(written, key)
        except ArticleError:
            pass
        try:
            return email.utils.parsedate_to_datetime(written).date()
        except (TypeError, ValueError):
            pass
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None


def feed_entries(fetched: Fetched) -> tuple[list[FeedEntry], list[str]]:
    """The entries of an RSS or Atom feed, relative links resolved, and one message per entry
    without a link. Raises FetchError when the feed has no entries or cannot be read."""
    # A stream, never bytes or a string: feedparser would fetch or open those as a URL or path.
    parsed = feedparser.parse(
        io.BytesIO(fetched.body),
        response_headers={
            "content-location": fetched.final_url,
            "content-type": fetched.content_type or "application/xml",
        },
    )
    if not parsed.entries:
        if parsed.bozo:
            problem = parsed.get("bozo_exception") or "malformed"
            raise FetchError(f"{fetched.url}: not a readable feed ({problem})")
        raise FetchError(f"{fetched.url}: the feed has no entries")
    entries: list[FeedEntry] = []
    errors: list[str] = []
    for number, entry in enumerate(parsed.entries, start=1):
        title = " ".join(str(entry.get("title") or "").split()) or None
        link = entry.get("link")
        if not link:
            errors.append(f"{fetched.url}: entry {number} ({title or 'untitled'}) has no link")
            continue
        entries.append(FeedEntry(urljoin(fetched.final_url, link), title, _entry_day(entry)))
    return entries, errors


def article_from_page(fetched: Fetched, entry: FeedEntry | None = None) -> Article:
    """The article of a fetched HTML page, its url (hence its id) the one asked for, so a
    re-fetched identical page is the same article. Raises FetchError or ArticleError."""
    if fetched.kind != "page":
        raise _unreadable(fetched, "not an HTML page")
    return article_from_html(
        _page_markup(fetched),
        fetched.url,
        url=fetched.url,
        fallback_title=entry.title if entry else None,
        fallback_published=entry.published if entry else None,
    )


def _page_markup(fetched: Fetched) -> str | bytes:
    """The page decoded by the charset its Content-Type names; without one (or with one that
    does not decode it) the bytes, for trafilatura to detect the encoding as for a file."""
    named = _CHARSET.search(fetched.content_type)
    if named:
        try:
            return fetched.body.decode(named.group(1))
        except (LookupError, UnicodeDecodeError):
            pass
    return fetched.body


def _unreadable(fetched: Fetched, what: str) -> FetchError:
    return FetchError(f"{fetched.url}: {what} (Content-Type {fetched.content_type or 'none'})")


def read_urls(
    urls: Sequence[str], fetcher: Fetcher, show_progress: bool
) -> tuple[list[Article], list[str]]:
    """Fetch each URL: a page becomes an article; a feed's entries' links are fetched as pages.

    Returns the articles and one message per failing URL or feed entry. A URL met twice (given
    twice, or linked from two feeds) is fetched once. The progress bar on stderr counts fetches.
    """
    articles: list[Article] = []
    errors: list[str] = []
    unique = list(dict.fromkeys(urls))
    seen = set(unique)
    with tqdm(
        total=len(unique), desc="fetching", unit="url", disable=not show_progress, file=sys.stderr
    ) as bar:
        for url in unique:
            try:
                fetched = fetcher.fetch(url)
                if fetched.kind == "feed":
                    found, failed = _read_feed(fetched, fetcher, seen, bar)
                    articles.extend(found)
                    errors.extend(failed)
                elif fetched.kind == "page":
                    articles.append(article_from_page(fetched))
                else:
                    raise _unreadable(fetched, "neither an HTML page nor a feed")
            except (FetchError, ArticleError) as error:
                errors.append(str(error))
            bar.update()
    return articles, errors


def _read_feed(
    feed: Fetched, fetcher: Fetcher, seen: set[str], bar: tqdm[Any]
) -> tuple[list[Article], list[str]]:
    """The articles of a feed's entries not `seen` yet (adding them to it), and an error line
    per entry that failed, naming the entry's link and the feed."""
    entries, errors = feed_entries(feed)
    fresh = []
    for entry in entries:
        if entry.link not in seen:
            seen.add(entry.link)
            fresh.append(entry)
    bar.total += len(fresh)
    bar.refresh()
    articles = []
    for entry in fresh:
        try:
            articles.append(article_from_page(fetcher.fetch(entry.link), entry))
        except (FetchError, ArticleError) as error:
            errors.append(f"{error} (an entry of {feed.url})")
        bar.update()
    return articles, errors
