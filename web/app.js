// The chat page. Every piece of data from the server is put on the page as text
// (textContent / text nodes), never parsed as HTML: an article that contains <script> or
// onerror= shows those characters and nothing runs.
"use strict";

(() => {
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const history = document.getElementById("history");
  const scroller = document.getElementById("scroller");
  const welcome = document.getElementById("welcome");
  const layout = document.getElementById("layout");
  const reader = document.getElementById("reader");
  const readerTitle = document.getElementById("reader-title");
  const readerMeta = document.getElementById("reader-meta");
  const readerText = document.getElementById("reader-text");
  const sinceInput = document.getElementById("since");
  const untilInput = document.getElementById("until");
  const sourcesInput = document.getElementById("sources");
  const clearFilters = document.getElementById("clear-filters");

  let conversationId = null;
  let busy = false;
  const articles = new Map(); // id -> Promise of the article JSON

  /** Make an element with text content and attributes; children are nodes or strings. */
  function el(tag, options = {}, children = []) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    if (options.text !== undefined && options.text !== null) node.textContent = options.text;
    for (const [name, value] of Object.entries(options.attrs || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function formatDate(iso) {
    if (!iso) return null;
    const date = new Date(`${iso}T00:00:00Z`);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleDateString(undefined, {
      year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
    });
  }

  function metaLine(item) {
    return [item.source, formatDate(item.published)].filter(Boolean).join(" · ");
  }

  /** The article's date as a <time>, or "undated". */
  function dateNode(iso) {
    if (!iso) return el("span", { className: "date undated", text: "undated" });
    return el("time", { className: "date", text: formatDate(iso), attrs: { datetime: iso } });
  }

  /** The period and sources the next question is restricted to, as the API takes them. */
  function currentFilters() {
    const filters = {};
    if (sinceInput.value) filters.since = sinceInput.value;
    if (untilInput.value) filters.until = untilInput.value;
    const sources = sourcesInput.value.split(",").map((name) => name.trim()).filter(Boolean);
    if (sources.length) filters.sources = sources;
    return filters;
  }

  function describeFilters(filters) {
    const parts = [];
    if (filters.since && filters.until) {
      parts.push(`${formatDate(filters.since)} – ${formatDate(filters.until)}`);
    } else if (filters.since) {
      parts.push(`from ${formatDate(filters.since)}`);
    } else if (filters.until) {
      parts.push(`until ${formatDate(filters.until)}`);
    }
    if (filters.sources) parts.push(filters.sources.join(", "));
    return parts.join(" · ");
  }

  function syncFilters() {
    untilInput.min = sinceInput.value;
    sinceInput.max = untilInput.value;
    clearFilters.hidden = !describeFilters(currentFilters());
  }

  /**
   * The sentence as text nodes, with the short answer inside it (if found there) in a <mark>.
   * Case-insensitive only where lower-casing keeps the length, so offsets stay right.
   */
  function markedSentence(sentence, answer) {
    if (!answer || answer === sentence) return [document.createTextNode(sentence)];
    let at = sentence.indexOf(answer);
    if (at < 0) {
      const lower = sentence.toLowerCase();
      if (lower.length === sentence.length) at = lower.indexOf(answer.toLowerCase());
    }
    if (at < 0) return [document.createTextNode(sentence)];
    return [
      document.createTextNode(sentence.slice(0, at)),
      el("mark", { className: "answer-mark", text: sentence.slice(at, at + answer.length) }),
      document.createTextNode(sentence.slice(at + answer.length)),
    ];
  }

  /**
   * The first citation's dates that the answer speaks of ("within three years" → by Aug 20,
   * 2023); all of them when none overlaps the answer's words.
   */
  function answerDates(data) {
    const dates = (data.citations[0] && data.citations[0].resolved_dates) || [];
    const answer = (data.answer || "").toLowerCase();
    const overlapping = dates.filter((d) => {
      const expression = d.expression.toLowerCase();
      return answer.includes(expression) || expression.includes(answer);
    });
    return overlapping.length ? overlapping : dates;
  }

  function resolvedDates(dates) {
    const list = el("ul", { className: "resolved-dates", attrs: { "aria-label": "Dates in the answer" } });
    for (const item of dates) {
      list.append(
        el("li", {}, [
          el("time", { text: `${item.relation} ${formatDate(item.date)}`, attrs: { datetime: item.date } }),
          ` — ${item.expression}`,
        ]),
      );
    }
    return list;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function setBusy(value) {
    busy = value;
    form.classList.toggle("busy", value);
    send.disabled = value;
    form.setAttribute("aria-busy", String(value));
  }

  function addTurn(role, className, children) {
    welcome.hidden = true;
    const item = el("li", { className: `turn ${role} ${className || ""}`.trim() }, children);
    history.append(item);
    scrollToBottom();
    return item;
  }

  /** The cited sentences; `answer` is marked inside the first one's sentence. */
  function citationList(citations, label, answer) {
    const list = el("ol", { className: "citations", attrs: { "aria-label": label } });
    for (const citation of citations) {
      const shortAnswer = citation.rank === 1 ? answer : null;
      const button = el(
        "button",
        {
          className: "citation",
          attrs: {
            type: "button",
            "data-rank": String(citation.rank),
            title: "Open the article at this sentence",
          },
        },
        [
          el("span", { className: "rank", text: String(citation.rank) }),
          el("span", { className: "citation-body" }, [
            el("span", { className: "sentence" }, markedSentence(citation.sentence, shortAnswer)),
            el("span", { className: "source" }, [
              el("span", { className: "title", text: citation.title }),
              el("span", { className: "meta" }, [
                citation.source ? `${citation.source} · ` : null,
                dateNode(citation.published),
              ]),
            ]),
          ]),
        ],
      );
      button.addEventListener("click", () => openArticle(citation, button, shortAnswer));
      list.append(el("li", {}, [button]));
    }
    return list;
  }

  /**
   * A developing story: each answering article's own answer, oldest first, the newest marked;
   * each entry opens its article at the sentence the answer rests on.
   */
  function timelineList(data) {
    const list = el("ol", { className: "timeline", attrs: { "aria-label": "Timeline" } });
    data.timeline.forEach((entry, index) => {
      const newest = index === data.timeline.length - 1;
      const open = el(
        "button",
        { className: "timeline-entry", attrs: { type: "button", title: `Open “${entry.title}”` } },
        [
          dateNode(entry.published),
          el("span", { className: "timeline-answer", text: entry.answer }),
          el("span", { className: "timeline-title", text: entry.title }),
        ],
      );
      open.addEventListener("click", () => openArticle(entry, open, entry.answer));
      list.append(el("li", { className: newest ? "newest" : "" }, [open]));
    });
    return list;
  }

  function asOfNode(data) {
    if (!data.as_of) return null;
    return el("span", { className: "as-of" }, ["as of ", dateNode(data.as_of)]);
  }

  function periodNode(data) {
    if (!data.period) return null;
    const { since, until, named } = data.period;
    return el("p", { className: "period-used" }, [
      "Articles published ",
      since ? dateNode(since) : "any time",
      " to ",
      until ? dateNode(until) : "now",
      ` (“${named}”)`,
    ]);
  }

  // Why the articles don't say, worded as `qa ask` words it (qa.service.serialize.abstention_note).
  const ABSTENTION_NOTES = {
    not_in_cited_article: "The closest articles do not mention everything the question names.",
    no_fitting_answer: "No sentence found holds the kind of answer the question asks for.",
    low_confidence: "Nothing in the indexed articles answers this with confidence.",
  };

  function quoted(terms) {
    const each = terms.map((t) => `“${t}”`);
    return each.length < 2 ? each.join("") : `${each.slice(0, -1).join(", ")} or ${each[each.length - 1]}`;
  }

  function abstentionNote(data) {
    if (data.missing_terms && data.missing_terms.length) {
      return `No article mentions ${quoted(data.missing_terms)}.`;
    }
    return ABSTENTION_NOTES[data.abstain_reason] || ABSTENTION_NOTES.low_confidence;
  }

  function renderAnswer(data) {
    const children = [];
    if (data.answerable) {
      const refs = data.citations.map((c) => el("sup", { className: "ref", text: `[${c.rank}]` }));
      const period = periodNode(data);
      if (period) children.push(period);
      children.push(
        el("p", { className: "answer" }, [el("strong", { text: data.answer }), " ", asOfNode(data), " ", ...refs]),
      );
      const dates = answerDates(data);
      if (dates.length) children.push(resolvedDates(dates));
      children.push(el("p", { className: "confidence", text: `Confidence ${Math.round(data.confidence * 100)}%` }));
      const sources = citationList(data.citations, "Sources", data.answer);
      if (data.timeline && data.timeline.length) {
        children.push(el("h3", { className: "citations-heading", text: "How it changed" }));
        children.push(timelineList(data));
      }
      children.push(el("h3", { className: "citations-heading", text: "Sources" }));
      children.push(sources);
      return addTurn("assistant", "answered", children);
    }
    children.push(el("p", { className: "abstain-title", text: "The articles don’t say." }));
    children.push(el("p", { className: "abstain-note", text: abstentionNote(data) }));
    if (data.citations.length) {
      children.push(el("h3", { className: "citations-heading", text: "Closest matches" }));
      children.push(citationList(data.citations, "Closest matches"));
    }
    return addTurn("assistant", "abstained", children);
  }

  function renderError(message) {
    return addTurn("assistant", "error", [el("p", { text: message })]);
  }

  async function ask(question) {
    if (busy) return;
    const filters = currentFilters();
    const restricted = describeFilters(filters);
    addTurn("user", "", [
      el("p", { text: question }),
      restricted ? el("p", { className: "turn-filters", text: `Only ${restricted}` }) : null,
    ]);
    const pending = addTurn("assistant", "pending", [
      el("span", { className: "dots", attrs: { "aria-label": "Looking through the articles" } }, [
        el("span"), el("span"), el("span"),
      ]),
    ]);
    setBusy(true);
    try {
      const body = { question, ...filters };
      if (conversationId) body.conversation_id = conversationId;
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => null);
      pending.remove();
      if (!response.ok || !data) {
        renderError((data && data.error && data.error.message) || `The server said ${response.status}.`);
        return;
      }
      conversationId = data.conversation_id || conversationId;
      renderAnswer(data);
    } catch (error) {
      pending.remove();
      renderError("Could not reach the server. Is `qa serve` running?");
    } finally {
      setBusy(false);
      input.focus();
    }
  }

  function fetchArticle(id) {
    if (!articles.has(id)) {
      const request = fetch(`/api/articles/${encodeURIComponent(id)}`, {
        headers: { Accept: "application/json" },
      }).then(async (response) => {
        const data = await response.json().catch(() => null);
        if (!response.ok || !data) {
          articles.delete(id);
          throw new Error((data && data.error && data.error.message) || "The article could not be loaded.");
        }
        return data;
      });
      articles.set(id, request);
    }
    return articles.get(id);
  }

  /** Offsets count Unicode code points (Python's str); JS strings count UTF-16 units. */
  function sliceByCodePoints(chars, start, end) {
    return chars.slice(start, end).join("");
  }

  async function openArticle(citation, button, answer) {
    for (const active of document.querySelectorAll(".citation.active")) active.classList.remove("active");
    button.classList.add("active");
    reader.hidden = false;
    layout.classList.add("reading");
    readerTitle.textContent = citation.title;
    readerMeta.textContent = "Loading…";
    readerText.replaceChildren();
    let article;
    try {
      article = await fetchArticle(citation.article_id);
    } catch (error) {
      readerMeta.textContent = error.message;
      return;
    }
    readerTitle.textContent = article.title;
    readerMeta.replaceChildren(
      ...[metaLine(article), article.dateline].filter(Boolean).map((part) => el("span", { text: part })),
    );
    if (article.url) {
      readerMeta.append(el("a", { text: "original", attrs: { href: article.url, rel: "noopener noreferrer", target: "_blank" } }));
    }
    const chars = Array.from(article.text);
    const start = Math.max(0, Math.min(citation.start, chars.length));
    const end = Math.max(start, Math.min(citation.end, chars.length));
    const mark = el(
      "mark",
      { className: "highlight", attrs: { id: "highlight", tabindex: "-1" } },
      markedSentence(sliceByCodePoints(chars, start, end), answer),
    );
    readerText.replaceChildren(
      document.createTextNode(sliceByCodePoints(chars, 0, start)),
      mark,
      document.createTextNode(sliceByCodePoints(chars, end, chars.length)),
    );
    mark.scrollIntoView({ block: "center", inline: "nearest" });
    mark.focus({ preventScroll: true });
  }

  function closeReader() {
    reader.hidden = true;
    layout.classList.remove("reading");
    for (const active of document.querySelectorAll(".citation.active")) active.classList.remove("active");
  }

  // "316 articles, Jan 4, 2019 – Dec 28, 2020 · Wikinews 291, Xinhua 1": what can be asked about.
  function libraryLine(health) {
    const count = health.articles === 1 ? "1 article" : `${health.articles} articles`;
    const coverage = health.coverage || {};
    const parts = [count];
    if (coverage.first_published && coverage.last_published) {
      const first = formatDate(coverage.first_published);
      const last = formatDate(coverage.last_published);
      parts[0] += first === last ? `, ${first}` : `, ${first} – ${last}`;
    }
    const named = (coverage.sources || []).filter((item) => item.source);
    if (named.length) {
      const shown = named.slice(0, 3).map((item) => `${item.source} ${item.articles}`);
      if (named.length > 3) shown.push(`${named.length - 3} more sources`);
      parts.push(shown.join(", "));
    }
    return parts.join(" · ");
  }

  async function showLibrary() {
    try {
      const response = await fetch("/healthz");
      if (!response.ok) return;
      const health = await response.json();
      document.getElementById("library").textContent = libraryLine(health);
      const credit = document.getElementById("credit");
      const sources = (health.coverage && health.coverage.sources) || [];
      credit.hidden = !sources.some((item) => item.source === "Wikinews");
    } catch (error) {
      // The page still works; the header keeps its default line.
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || busy) return;
    input.value = "";
    ask(question);
  });
  for (const suggestion of document.querySelectorAll(".suggestion")) {
    suggestion.addEventListener("click", () => ask(suggestion.textContent.trim()));
  }
  document.getElementById("new-conversation").addEventListener("click", () => {
    conversationId = null;
    history.replaceChildren();
    welcome.hidden = false;
    closeReader();
    input.focus();
  });
  document.getElementById("close-reader").addEventListener("click", closeReader);
  for (const control of [sinceInput, untilInput, sourcesInput]) {
    control.addEventListener("input", syncFilters);
  }
  clearFilters.addEventListener("click", () => {
    sinceInput.value = "";
    untilInput.value = "";
    sourcesInput.value = "";
    syncFilters();
    input.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !reader.hidden) closeReader();
  });
  syncFilters(); // the browser may have kept the controls' values across a reload
  showLibrary();
})();
