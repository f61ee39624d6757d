"""Read article files (.txt, .html/.htm, .json, .jsonl) into cleaned `Article`s.

Every failure is an `ArticleError` that names the file (and the record, for JSON), so ingest can
report it and go on with the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.ingest.clean import (
    clean_wire_text,
    has_control_characters,
    one_line,
    without_control_characters,
)
from qa.types import Article

TEXT_SUFFIXES = {".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
_MAX_TITLE_CHARS = 500
# An id is a key, part of a URL (/api/articles/<id>) and of a Location header: a page of text
# is not an id.
MAX_ARTICLE_ID_CHARS = 1_000
# The fields of a JSON article that qa reads (the OpenAPI ArticleInput's properties).
RECORD_FIELDS = frozenset({"title", "text", "published", "source", "url", "id"})


class ArticleError(ValueError):
    """An article (file or record) cannot be read; the message names it and says why."""


@dataclass(frozen=True)
class LoadResult:
    """What one file yielded: good articles, and an error per record that was skipped."""

    path: Path
    articles: list[Article]
    errors: list[str]
    # A JSON field qa does not read → how many of the file's good records hold it.
    unused_fields: Counter[str] = field(default_factory=Counter)


def article_id_for(explicit_id: str | None, url: str | None, title: str, text: str) -> str:
    """Stable identity: the given id, else one derived from the URL, else from the content.

    Re-ingesting the same id or URL replaces the article; without either, the same content is
    recognised as the same article.
    """
    if explicit_id:
        return explicit_id
    basis = f"url:{url}" if url else f"content:{title}\n{text}"
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def decode_bytes(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM, or UTF-16 with BOM), else Windows-1252; else ArticleError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ArticleError(f"{name}: not valid UTF-16 text ({error})") from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as error:
        raise ArticleError(f"{name}: not UTF-8 or Windows-1252 text ({error.reason})") from error
    if "\x00" in text:
        raise ArticleError(f"{name}: binary data, not text")
    return text


def parse_published(value: Any, where: str) -> dt.date | None:
    """Accept `YYYY-MM-DD` or an ISO 8601 timestamp; None or "" means unknown."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ArticleError(f"{where}: 'published' must be a string like 2020-10-11")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as error:
        raise ArticleError(f"{where}: 'published' {value!r} is not a YYYY-MM-DD date") from error


def _optional_string(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and key == "id" and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ArticleError(f"{where}: '{key}' must be a string")
    return value.strip() or None


def _check_article_id(article_id: str, origin: str) -> None:
    if len(article_id) > MAX_ARTICLE_ID_CHARS:
        raise ArticleError(f"{origin}: 'id' is longer than {MAX_ARTICLE_ID_CHARS} characters")
    if has_control_characters(article_id):
        raise ArticleError(f"{origin}: 'id' holds a control character (a line break, tab, NUL…)")
    if article_id in {".", ".."}:
        raise ArticleError(f"{origin}: 'id' cannot be '.' or '..' (they name no URL path)")


def _finish(
    title: str,
    body: str,
    *,
    origin: str,
    explicit_id: str | None = None,
    url: str | None = None,
    source: str | None = None,
    published: dt.date | None = None,
) -> Article:
    """Clean the body, fill metadata the furniture carried, and check the result is usable."""
    if explicit_id is not None:
        _check_article_id(explicit_id, origin)
    if url is not None and has_control_characters(url):
        raise ArticleError(f"{origin}: 'url' holds a control character")
    if source is not None:
        source = one_line(source) or None
    title = one_line(title)[:_MAX_TITLE_CHARS]
    cleaned = clean_wire_text(without_control_characters(body))
    if not title:
        raise ArticleError(f"{origin}: no title")
    if not cleaned.text.strip():
        raise ArticleError(f"{origin}: no article text after cleaning")
    return Article(
        id=article_id_for(explicit_id, url, title, cleaned.text),
        title=title,
        text=cleaned.text,
        source=source or cleaned.source,
        published=published or cleaned.published,
        url=url,
        dateline=cleaned.dateline,
        origin=origin,
    )


def article_from_record(record: Any, where: str) -> Article:
    """Build an article from the JSON shape {title, text, published?, source?, url?, id?}."""
    if not isinstance(record, dict):
        raise ArticleError(f"{where}: expected a JSON object with 'title' and 'text'")
    title, text = record.get("title"), record.get("text")
    if not isinstance(title, str) or not title.strip():
        raise ArticleError(f"{where}: 'title' must be a non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError(f"{where}: 'text' must be a non-empty string")
    return _finish(
        title,
        text,
        origin=where,
        explicit_id=_optional_string(record, "id", where),
        url=_optional_string(record, "url", where),
        source=_optional_string(record, "source", where),
        published=parse_published(record.get("published"), where),
    )


def unused_fields(record: dict[str, Any]) -> list[str]:
    """The record's fields that qa does not read. They are not refused (records exported from
    other systems carry their own, such as a licence), but they are named, so that a misspelt
    "publised" does not pass unseen and leave the article undated."""
    return sorted(set(record) - RECORD_FIELDS)


def article_from_text(text: str, origin: str) -> Article:
    """Plain text: the first non-empty line is the headline, the rest is the body."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.strip():
            body = "\n".join(lines[index + 1 :])
            if not body.strip():
                # One line of text reads as a headline without an article.
                raise ArticleError(
                    f"{origin}: only a headline; in a text article the first line is the "
                    "headline and the article's text follows it"
                )
            return _finish(line, body, origin=origin)
    raise ArticleError(f"{origin}: empty file")


# A numeric character reference ("&#x1F;", "&#31", "&#xFFFE;") to a character XML cannot hold:
# a C0 control other than tab and line breaks, or U+FFFE / U+FFFF. The parser under
# trafilatura (lxml) gives up on the whole page for one of them, so they become spaces.
_CHARACTER_REFERENCE = r"&#(?:[xX](?P<hex>[0-9a-fA-F]{1,8})|(?P<decimal>[0-9]{1,10}));?"
_TEXT_REFERENCE = re.compile(_CHARACTER_REFERENCE)
_BYTES_REFERENCE = re.compile(_CHARACTER_REFERENCE.encode("ascii"))
_NOT_IN_XML = frozenset({*range(1, 9), 0xB, 0xC, *range(0xE, 0x20), 0xFFFE, 0xFFFF})


def _without_unparsable_references(html: str | bytes) -> str | bytes:
    def code_point(match: re.Match[Any]) -> int:
        return int(match["hex"], 16) if match["hex"] is not None else int(match["decimal"])

    if isinstance(html, str):
        return _TEXT_REFERENCE.sub(lambda m: " " if code_point(m) in _NOT_IN_XML else m[0], html)
    return _BYTES_REFERENCE.sub(lambda m: b" " if code_point(m) in _NOT_IN_XML else m[0], html)


def article_from_html(
    html: str | bytes,
    origin: str,
    url: str | None = None,
    *,
    fallback_title: str | None = None,
    fallback_published: dt.date | None = None,
) -> Article:
    """Main text and metadata (title, date, site name) by trafilatura; scripts never survive.

    `fallback_title` and `fallback_published` (a feed entry's) are used only when the page gives
    no title or date of its own.
    """
    import trafilatura

    if not (html.strip() if isinstance(html, str) else html.strip()):
        raise ArticleError(f"{origin}: empty file")
    extracted = trafilatura.bare_extraction(
        _without_unparsable_references(html),
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
    )
    if extracted is None or not (extracted.text or "").strip():
        raise ArticleError(f"{origin}: no article text found in the HTML")
    title = (extracted.title or "").strip() or fallback_title or ""
    if not title.strip():
        raise ArticleError(
            f"{origin}: the HTML has no title (a <title>, an <h1> or an og:title meta tag)"
        )
    published = fallback_published
    if extracted.date:
        published = parse_published(extracted.date, origin)
    body = re.sub(r"\n(?!\n)", "\n\n", extracted.text)  # trafilatura puts one paragraph a line
    return _finish(
        title,
        body,
        origin=origin,
        url=url or extracted.url,
        source=extracted.sitename,
        published=published,
    )


# A \u escape of a UTF-16 surrogate: the only way a JSON text can name one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]", re.ASCII)


def parse_json(text: str | bytes) -> Any:
    """`json.loads` for text from outside, where two more things are malformed JSON (a
    JSONDecodeError like any other, instead of an error deep inside that became a 500):
    nesting deeper than Python's recursion limit (a body of 100,000 "["), and a string holding
    half of a surrogate pair ("\\ud800" alone), which Python accepts but which is no character:
    it cannot be encoded, so the tokenizer, the store and the response would each fail on it."""
    document = text if isinstance(text, str) else ""
    try:
        value = json.loads(text)
    except RecursionError as error:
        raise json.JSONDecodeError("nested too deeply", document, 0) from error
    raw = text if isinstance(text, str) else text.decode(json.detect_encoding(text), "replace")
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise json.JSONDecodeError(
                "a \\u escape names half of a surrogate pair, not a character", document, 0
            ) from error
    return value


def display_path(path: Path) -> str:
    """The path as text that can be printed and stored: a name that is not valid UTF-8 (its
    bytes kept by Python as lone surrogates) gets U+FFFD for them, instead of failing the store
    write of the whole batch, and the terminal."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _records_from_json(text: str, name: str, lines: bool) -> Iterator[tuple[Any, str]]:
    if lines:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{name}:{number}"
            try:
                yield parse_json(line), where
            except json.JSONDecodeError as error:
                yield ArticleError(f"{where}: malformed JSON ({error.msg})"), where
        return
    try:
        data = parse_json(text)
    except json.JSONDecodeError as error:
        raise ArticleError(
            f"{name}: malformed JSON ({error.msg} at line {error.lineno})"
        ) from error
    if isinstance(data, dict) and "articles" in data and "text" not in data:
        if not isinstance(data["articles"], list):
            raise ArticleError(f"{name}: 'articles' must be a list of article objects")
        data = data["articles"]
    if isinstance(data, list):
        for number, record in enumerate(data):
            yield record, f"{name}[{number}]"
    else:
        yield data, name


def load_file(path: Path, max_bytes: int) -> LoadResult:
    """Read one file. Raises ArticleError when nothing in it can be used; a JSON file with some
    bad records returns the good ones and an error line for each bad one."""
    suffix = path.suffix.lower()
    name = display_path(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(f"{name}: unsupported file type '{suffix or '(none)'}'")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ArticleError(f"{name}: {size} bytes is over the {max_bytes}-byte limit")
        data = path.read_bytes()
    except OSError as error:
        raise ArticleError(f"{name}: cannot read ({error.strerror})") from error
    if not data.strip():
        raise ArticleError(f"{name}: empty file")
    if suffix in HTML_SUFFIXES:
        return LoadResult(path, [article_from_html(data, name)], [])
    text = decode_bytes(data, name)
    if suffix in TEXT_SUFFIXES:
        return LoadResult(path, [article_from_text(text, name)], [])
    result = LoadResult(path, [], [])
    for record, where in _records_from_json(text, name, suffix == ".jsonl"):
        try:
            if isinstance(record, ArticleError):
                raise record
            result.articles.append(article_from_record(record, where))
        except ArticleError as error:
            result.errors.append(str(error))
        else:
            result.unused_fields.update(unused_fields(record))
    if not result.articles:
        errors = result.errors
        raise ArticleError("; ".join(errors) if errors else f"{name}: no articles in the file")
    return result


def find_article_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand folders recursively (supported suffixes only, sorted); name what does not exist."""
    files: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.append(f"{display_path(path)}: no such file or folder")
    return files, missing
