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

  function citationList(citations, label) {
    const list = el("ol", { className: "citations", attrs: { "aria-label": label } });
    for (const citation of citations) {
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
            el("span", { className: "sentence", text: citation.sentence }),
            el("span", { className: "source" }, [
              el("span", { className: "title", text: citation.title }),
              metaLine(citation) ? el("span", { className: "meta", text: metaLine(citation) }) : null,
            ]),
          ]),
        ],
      );
      button.addEventListener("click", () => openArticle(citation, button));
      list.append(el("li", {}, [button]));
    }
    return list;
  }

  function renderAnswer(data) {
    const children = [];
    if (data.answerable) {
      const refs = data.citations.map((c) => el("sup", { className: "ref", text: `[${c.rank}]` }));
      children.push(el("p", { className: "answer" }, [el("strong", { text: data.answer }), " ", ...refs]));
      children.push(el("p", { className: "confidence", text: `Confidence ${Math.round(data.confidence * 100)}%` }));
      children.push(el("h3", { className: "citations-heading", text: "Sources" }));
      children.push(citationList(data.citations, "Sources"));
      return addTurn("assistant", "answered", children);
    }
    children.push(el("p", { className: "abstain-title", text: "The articles don’t say." }));
    children.push(
      el("p", {
        className: "abstain-note",
        text: "Nothing in the indexed articles answers this with confidence.",
      }),
    );
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
    addTurn("user", "", [el("p", { text: question })]);
    const pending = addTurn("assistant", "pending", [
      el("span", { className: "dots", attrs: { "aria-label": "Looking through the articles" } }, [
        el("span"), el("span"), el("span"),
      ]),
    ]);
    setBusy(true);
    try {
      const body = { question };
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

  async function openArticle(citation, button) {
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
    const mark = el("mark", {
      className: "highlight",
      text: sliceByCodePoints(chars, start, end),
      attrs: { id: "highlight", tabindex: "-1" },
    });
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

  async function showLibrary() {
    try {
      const response = await fetch("/healthz");
      if (!response.ok) return;
      const health = await response.json();
      const count = health.articles === 1 ? "1 article" : `${health.articles} articles`;
      document.getElementById("library").textContent = `${count} indexed · answers cite their sentences`;
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
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !reader.hidden) closeReader();
  });
  showLibrary();
})();
