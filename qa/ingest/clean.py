"""Wire-service boilerplate removal: keep the story and its facts, drop the furniture.

News text as captured carries agency furniture around the story: a `Source: X| date|Editor: Y`
line, a line holding only the date ("Friday, December 25, 2020", as Wikinews opens), a dateline
("BAGHDAD, Oct. 11 (Xinhua) -- "), bylines, "Related:" lists, an end mark ("Enditem", "(END)",
"-30-"), keyword footers and tracking numbers. The rules below are written for the shapes
agencies share, not for one file; the facts they carry (source, publication date, dateline
place) are returned as metadata instead of being lost.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# C0 control characters other than tab and line breaks, and DEL: invisible in an article or a
# question, and PostgreSQL refuses a NUL in a text column (an ingest holding one failed there).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ANY_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_SOURCE_LINE = re.compile(r"^\s*Source:\s*(?P<source>[^|]+?)\s*\|(?P<rest>.*)$", re.IGNORECASE)
_ISO_DATE = re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})")
_MONTH_NAMES = (
    "January February March April May June July August September October November December".split()
)
# A month's number by its first three letters ("sep" of "Sept." and "September" alike).
_MONTH_NUMBERS = {name[:3].lower(): number for number, name in enumerate(_MONTH_NAMES, start=1)}
_MONTH = (
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
    r"|January|February|March|April|June|July|August|September|October|November|December"
)
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
# A line that is only a date, as a site prints above the story: "Friday, December 25, 2020",
# "25 December 2020", "2020-12-25". Without this it joins the story's first sentence, which
# the reader then cites with the date glued in front.
_DATE_LINE = re.compile(
    rf"^(?:{_WEEKDAY},?\s+)?(?:(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}}),?"
    rf"|(?P<day_first>\d{{1,2}})\s+(?P<month_second>{_MONTH}),?)\s+(?P<year>\d{{4}})$"
    r"|^(?P<iso>\d{4}-\d{2}-\d{2})$"
)
# PLACE[, Region][, Month Day] (Agency) -- ; PLACE is upper case, as agencies write it.
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'\- ]{1,40}[A-Z.](?:,\s+[A-Z][A-Za-z.]+(?:\s[A-Z][A-Za-z.]+)?)?)"
    rf"(?:,\s+(?P<date>(?:{_MONTH})\s+\d{{1,2}}))?"
    r"\s*\((?P<agency>[A-Za-z][A-Za-z .&'-]{0,30})\)\s*(?:--|—|–|-)\s*"
)
_BYLINE = re.compile(r"^\s*(?:By|BY)\s+[A-Z][\w.'\- ]+(?:,\s*[\w.'\- ]+)?\s*$")
_END_MARK = re.compile(r"\s*(?:\bEnditem\b|\(END\)|\bENDS?\b|-30-|###)\s*$")
_TRACKING_NUMBER = re.compile(r"\d{12,}")
# Labelled furniture lines. A word that can also open a sentence of the story ("Copyright
# infringement is...", "Editor John Smith said...") counts only as a label: before a colon, or
# for Copyright before a year or a copyright sign.
_LABEL_LINE = re.compile(
    r"^\s*(?:(?:KEY\s*WORDS|Keywords|Tags|Editors?|Related(?: Stories| Articles| News)?"
    r"|Photo(?: taken)?)\s*:|(?:Editing|Reporting|Writing) by\b|©|Copyright\s*(?:©|\(c\)|\d{4}|:)"
    r"|(?:Read more|Also read|See also|Follow us|Share this)\b|Advertisement\s*$).*$",
    re.IGNORECASE,
)
_LIST_HEADINGS = re.compile(
    r"^\s*(?:Related(?: Stories| Articles| News)?|Read more|Also read|See also)\s*:?\s*$",
    re.IGNORECASE,
)
_SHOUTED_FOOTER = re.compile(r"^[A-Z0-9 &'.-]{3,40}$")


@dataclass(frozen=True)
class CleanedText:
    """The story's paragraphs joined by blank lines, and the facts taken from its furniture."""

    text: str
    source: str | None = None
    published: dt.date | None = None
    dateline: str | None = None


def _date_from_iso(text: str) -> dt.date | None:
    match = _ISO_DATE.search(text)
    if not match:
        return None
    try:
        return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None


def _date_from_date_line(match: re.Match[str]) -> dt.date | None:
    if match["iso"]:
        return _date_from_iso(match["iso"])
    month = _MONTH_NUMBERS[(match["month"] or match["month_second"])[:3].lower()]
    try:
        return dt.date(int(match["year"]), month, int(match["day"] or match["day_first"]))
    except ValueError:
        return None


def _blocks(raw: str) -> list[list[str]]:
    """Blank-line separated blocks, each a list of its non-empty stripped lines."""
    blocks = re.split(r"\n\s*\n", raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines = ([line.strip() for line in block.split("\n") if line.strip()] for block in blocks)
    return [block for block in lines if block]


def _is_furniture(paragraph: str) -> bool:
    if _LABEL_LINE.match(paragraph) or _BYLINE.match(paragraph):
        return True
    if _TRACKING_NUMBER.fullmatch(paragraph.replace(" ", "")):
        return True
    # A short shouted line with no sentence punctuation is a section label or site footer
    # ("EXPLORE XINHUANET", "ADVERTISEMENT"), never story text.
    words = paragraph.split()
    return bool(_SHOUTED_FOOTER.match(paragraph)) and len(words) <= 5 and paragraph.isupper()


def clean_wire_text(raw: str) -> CleanedText:
    """Strip agency furniture from plain article text (headline already removed).

    Paragraphs are kept in order and separated by one blank line in the result. A line after an
    end mark ("Enditem") is footer and is dropped.
    """
    source: str | None = None
    published: dt.date | None = None
    dateline: str | None = None
    kept: list[str] = []
    for block in _blocks(raw):
        lines: list[str] = []
        in_list = False
        ended = False
        for line in block:
            # Footers are sometimes glued to the last word of the story by a lost newline.
            line = _TRACKING_NUMBER.sub("", line).strip()
            source_line = _SOURCE_LINE.match(line)
            if source_line:
                source = source_line["source"].strip() or None
                published = _date_from_iso(source_line["rest"])
                continue
            if _LIST_HEADINGS.match(line):
                in_list = True
                continue
            if in_list and not re.search(r"[.!?\"”]$", line):
                continue  # headline items of a "Related:" list
            in_list = False
            if not line or _is_furniture(line):
                continue
            date_line = None if kept or lines else _DATE_LINE.match(line)
            if date_line:
                published = published or _date_from_date_line(date_line)
                continue
            if not kept and not lines and dateline is None:
                match = _DATELINE.match(line)
                if match:
                    dateline = ", ".join(p for p in (match["place"].strip(), match["date"]) if p)
                    source = source or match["agency"].strip()
                    line = line[match.end() :]
            end_mark = _END_MARK.search(line)
            if end_mark:
                line, ended = line[: end_mark.start()].rstrip(), True
            if line:
                lines.append(line)
            if ended:
                break
        if lines:
            kept.append(" ".join(lines))
        if ended:
            break
    return CleanedText("\n\n".join(kept), source=source, published=published, dateline=dateline)


def without_control_characters(text: str) -> str:
    """`text` with each control character (tab and line breaks kept) replaced by a space."""
    return _CONTROL_CHARACTERS.sub(" ", text)


def one_line(text: str) -> str:
    """`text` as one line: control characters blanked and every run of whitespace one space
    (a title, a source name, a question)."""
    return " ".join(without_control_characters(text).split())


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character, tabs and line breaks included: an identifier
    holding one cannot go into a URL, a header or a log line intact, so it is refused, not
    blanked (blanking would make it another identifier)."""
    return _ANY_CONTROL_CHARACTER.search(text) is not None
