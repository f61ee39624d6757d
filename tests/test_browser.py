"""The chat page in real headless Chromium (Debian's `chromium` and `chromium-driver`), against
the app served on 127.0.0.1 from a thread of the test (werkzeug's threaded server: `qa serve`'s
gunicorn forks, and tests/test_server.py covers it): ask, read the answer, open the cited
sentence; ask of a period and see the answer placed in time; and an article full of markup
shows as text.

Selenium drives the system chromedriver only (never Selenium Manager, never a downloaded
browser). Without Chromium the tests skip, except under CI (`CI` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import SEED_QUESTION, SEED_SENTENCE_END, SEED_SENTENCE_START, unavailable
from qa.ingest.loaders import article_from_record
from qa.ingest.sentences import SpacySplitter
from qa.service.app import create_app
from qa.wiring import Components

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
WAIT_SECONDS = 30


def _require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    unavailable(f"{', '.join(missing)} missing: run `bash scripts/install --browser`")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


@contextmanager
def _served(components: Components, splitter: SpacySplitter) -> Iterator[str]:
    """The app on these components, served on a free loopback port."""
    from werkzeug.serving import make_server

    app = create_app(components, splitter=splitter)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def base_url(seed_components: Components, splitter: SpacySplitter) -> Iterator[str]:
    """The app on the seed index."""
    with _served(seed_components, splitter) as url:
        yield url


@pytest.fixture
def dated_base_url(dated_components: Components, splitter: SpacySplitter) -> Iterator[str]:
    """The app on the seed article and three more of other dates and sources."""
    with _served(dated_components, splitter) as url:
        yield url


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(condition)


def _ask(driver: Any, base_url: str, question: str, period: tuple[str, str] | None = None) -> Any:
    """Load the page, set the period (YYYY-MM-DD from, to) if given, type the question, press
    Enter; return the answer turn element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(base_url + "/")
    box = _wait(driver, ec.element_to_be_clickable((By.ID, "question")))
    if period is not None:
        # A date input's typing order follows the browser's locale; its value is ISO always.
        for element_id, value in zip(("since", "until"), period, strict=True):
            driver.execute_script(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                driver.find_element(By.ID, element_id),
                value,
            )
    box.send_keys(question, Keys.ENTER)
    return _wait(
        driver,
        ec.visibility_of_element_located(
            (By.CSS_SELECTOR, ".turn.assistant.answered, .turn.assistant.abstained")
        ),
    )


def _open_citation(driver: Any, turn: Any, rank: int) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    turn.find_element(By.CSS_SELECTOR, f'.citation[data-rank="{rank}"]').click()
    return _wait(
        driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader-text mark.highlight"))
    )


def _in_view(driver: Any, element: Any) -> bool:
    """The element lies inside the window and inside the reader's scrolled area."""
    return bool(
        driver.execute_script(
            """
            const box = arguments[0].getBoundingClientRect();
            const pane = document.getElementById("reader-body").getBoundingClientRect();
            return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight
                && box.top >= pane.top && box.bottom <= pane.bottom;
            """,
            element,
        )
    )


def test_ask_read_the_answer_and_open_the_cited_sentence(
    browser: Any, base_url: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    turn = _ask(browser, base_url, SEED_QUESTION)
    library = browser.find_element(By.ID, "library").text
    assert library.startswith("1 article, ") and "2020" in library and "Xinhua 1" in library
    assert not browser.find_element(By.ID, "credit").is_displayed()  # no Wikinews articles
    assert "within three years" in turn.find_element(By.CSS_SELECTOR, ".answer strong").text
    first = turn.find_element(By.CSS_SELECTOR, '.citation[data-rank="1"] .sentence').text
    assert first.startswith(SEED_SENTENCE_START) and first.endswith(SEED_SENTENCE_END)
    title = turn.find_element(By.CSS_SELECTOR, '.citation[data-rank="1"] .title').text
    assert title == "Iraq says int'l coalition forces still needed to fight IS threat"
    assert "Xinhua" in turn.find_element(By.CSS_SELECTOR, '.citation[data-rank="1"] .meta').text

    highlight = _open_citation(browser, turn, 1)
    assert highlight.text == first
    assert _in_view(browser, highlight)
    assert browser.find_element(By.ID, "reader-title").text == title
    screenshot = tmp_path / "chat.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    keep = os.environ.get("QA_SCREENSHOT_COPY")  # lets a person look at it after the run
    if keep:
        shutil.copyfile(screenshot, keep)


def test_ask_of_a_period_shows_dates_the_resolved_date_and_the_marked_answer(
    browser: Any, dated_base_url: str
) -> None:
    from selenium.webdriver.common.by import By

    turn = _ask(browser, dated_base_url, SEED_QUESTION, period=("2020-01-01", "2020-12-31"))
    asked = browser.find_elements(By.CSS_SELECTOR, ".turn.user .turn-filters")
    assert asked and "2020" in asked[-1].text
    assert turn.find_element(By.CSS_SELECTOR, ".answer strong").text == "within three years"
    dates = turn.find_elements(By.CSS_SELECTOR, ".citation .date")
    assert dates and len(dates) == len(turn.find_elements(By.CSS_SELECTOR, ".citation"))
    assert {d.get_attribute("datetime") for d in dates} == {"2020-10-11"}
    assert all("2020" in d.text for d in dates)
    resolved = turn.find_element(By.CSS_SELECTOR, ".resolved-dates").text
    assert "by" in resolved and "2023" in resolved and "within three years" in resolved
    sentence = turn.find_element(By.CSS_SELECTOR, '.citation[data-rank="1"] .sentence')
    assert sentence.find_element(By.CSS_SELECTOR, "mark.answer-mark").text == "within three years"
    assert sentence.text.startswith(SEED_SENTENCE_START)
    assert not turn.find_elements(By.CSS_SELECTOR, '.citation[data-rank="2"] mark')
    assert not turn.find_elements(By.CSS_SELECTOR, ".timeline")  # one article: no timeline

    highlight = _open_citation(browser, turn, 1)
    marked = highlight.find_element(By.CSS_SELECTOR, "mark.answer-mark")
    assert marked.text == "within three years" and highlight.text == sentence.text


def test_a_developing_story_shows_a_timeline_that_fits_a_phone(
    browser: Any, dated_base_url: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.set_window_size(500, 900)
    try:
        turn = _ask(browser, dated_base_url, SEED_QUESTION)
        assert "as of" in turn.find_element(By.CSS_SELECTOR, ".as-of").text
        entries = turn.find_elements(By.CSS_SELECTOR, ".timeline li")
        iso = [e.find_element(By.CSS_SELECTOR, ".date").get_attribute("datetime") for e in entries]
        assert iso == ["2019-05-02", "2020-10-11"]
        assert "newest" in (entries[-1].get_attribute("class") or "")
        # Nothing runs off the side: the conversation does not scroll sideways.
        widths = browser.execute_script(
            "const c = document.getElementById('history');"
            "return [c.scrollWidth, c.clientWidth,"
            " ...Array.from(document.querySelectorAll('.timeline li'),"
            "  e => e.getBoundingClientRect().right)];"
        )
        assert widths[0] <= widths[1] and max(widths[2:]) <= 500
        entries[0].find_element(By.CSS_SELECTOR, ".timeline-entry").click()
        # The article loads after the click: wait for its highlighted sentence.
        highlighted = (By.CSS_SELECTOR, "#reader-text mark.highlight")
        _wait(browser, ec.text_to_be_present_in_element(highlighted, "end of 2020"))
    finally:
        browser.set_window_size(1280, 900)


HOSTILE = {
    "id": "hostile",
    "title": 'Budget <script>window.__xss = "title"</script> vote',
    "text": "The town council approved the harbour budget on Monday <script>window.__xss = 1"
    "</script> after a long debate. A resident wrote <img src=x onerror=\"alert('xss')\"> "
    "in the comments about the harbour budget vote.",
}


def test_article_markup_is_shown_as_text_and_never_runs(
    browser: Any,
    base_url: str,
    seed_components: Components,
    splitter: SpacySplitter,
) -> None:
    from selenium.webdriver.common.by import By

    article = article_from_record(HOSTILE, "test")
    assert seed_components.ingester(splitter).ingest_articles([article]).ok
    turn = _ask(browser, base_url, "when did the town council approve the harbour budget?")
    first = turn.find_element(By.CSS_SELECTOR, '.citation[data-rank="1"]')
    assert "<script>window.__xss = 1</script>" in first.text
    highlight = _open_citation(browser, turn, 1)
    reader = browser.find_element(By.ID, "reader-text").text
    assert "<img src=x onerror=\"alert('xss')\">" in reader
    assert "<script>" in browser.find_element(By.ID, "reader-title").text
    assert highlight.text in reader
    injected = browser.execute_script(
        "return [window.__xss === undefined, "
        "document.querySelectorAll('main img, main script, main iframe').length];"
    )
    assert injected == [True, 0]
    assert _no_alert(browser)


def _no_alert(driver: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018 - reading it is the check
    except NoAlertPresentException:
        return True
    return False


def test_a_term_no_article_mentions_is_named_above_the_closest_matches(
    browser: Any, base_url: str
) -> None:
    from selenium.webdriver.common.by import By

    turn = _ask(browser, base_url, "when will coalition forces leave Wimbledon?")
    assert "abstained" in turn.get_attribute("class")
    note = turn.find_element(By.CSS_SELECTOR, ".abstain-note").text
    assert note == "No article mentions “Wimbledon”."
    assert turn.find_elements(By.CSS_SELECTOR, ".citation"), "closest matches are still shown"
