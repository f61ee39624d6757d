"""A small news site on 127.0.0.1 (an ephemeral port, a thread) for the fetching tests: an RSS
feed and an Atom feed linking three article pages and a dead link, an oversized page, an
endless page, a binary file, redirects and a page that answers too late. Nothing leaves the
machine.

Pages and feeds were written for these tests. Two pages leave their title or date to the feed
(`harvest` has neither; `port` has no date), and both feeds write dates in a time zone ahead of
UTC, so that the day as written and feedparser's UTC day differ.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OVERSIZE_LIMIT = 50_000  # the ingest.max_file_bytes the tests use; big.html is larger

BRIDGE_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Harbour Bridge to reopen in March | Harbour City Gazette</title>
<meta property="og:title" content="Harbour Bridge to reopen in March">
<meta property="og:site_name" content="Harbour City Gazette">
<meta name="date" content="2024-11-05">
<script>var tracker = "ignore me";</script>
</head><body><nav>Home | City | Sport | Weather</nav>
<article><h1>Harbour Bridge to reopen in March</h1>
<p>The Harbour Bridge will reopen to traffic on March 3, 2025, after two years of repairs, the
city council said on Tuesday.</p>
<p>Engineers replaced the steel cables and resurfaced the deck, council spokeswoman Maria Lopez
said.</p>
<p>Ferries will keep running extra services until the bridge reopens.</p>
</article><footer>Copyright 2024 Harbour City Gazette</footer></body></html>
"""

HARVEST_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"></head><body>
<article>
<p>Farmers in the northern provinces brought in a record wheat harvest this season, the
agriculture ministry said.</p>
<p>Good spring rains and new seed varieties lifted yields by a fifth, the ministry said.</p>
<p>Grain prices fell slightly after the figures were published.</p>
</article></body></html>
"""

PORT_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8">
<title>Dockworkers end strike at the container port</title></head><body>
<article><h1>Dockworkers end strike at the container port</h1>
<p>Dockworkers at the container port ended a nine-day strike on Monday after the port authority
agreed to a six percent pay rise, the union said.</p>
<p>Ships that had waited offshore began unloading within hours.</p>
</article></body></html>
"""

# Windows-1252 without a <meta charset>: only the Content-Type header names the encoding.
CAFE_HTML = """<html><head><title>Caf\u00e9 on the quay reopens</title></head><body>
<article><p>The caf\u00e9 on the quay reopened on Saturday after the flood, its owner said.</p>
<p>Its cr\u00e8me br\u00fbl\u00e9e is back on the menu \u2014 at the old price.</p>
</article></body></html>
""".encode("cp1252")

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Harbour City Gazette</title><link>/</link><description>Local news</description>
<item><title>Bridge reopening date set</title><link>{site}/news/bridge.html</link>
  <pubDate>Wed, 06 Nov 2024 09:00:00 +0000</pubDate></item>
<item><title>Record wheat harvest in the north</title><link>{site}/news/harvest.html</link>
  <pubDate>Tue, 05 Nov 2024 06:30:00 +1000</pubDate></item>
<item><title>Story that was taken down</title><link>{site}/news/gone.html</link>
  <pubDate>Mon, 04 Nov 2024 12:00:00 +0000</pubDate></item>
</channel></rss>
"""

# Served as plain application/xml: only its first element says it is a feed. The link is
# relative to the feed's own address.
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<!-- Harbour City Gazette, business desk -->
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Harbour City Gazette: Business</title><id>urn:gazette:business</id>
<updated>2024-10-30T01:00:00+02:00</updated>
<entry><title>Port strike over</title><id>urn:gazette:port</id>
  <link href="../news/port.html"/>
  <published>2024-10-30T01:00:00+02:00</published>
  <updated>2024-10-31T01:00:00+02:00</updated></entry>
</feed>
"""

BIG_HTML = (
    b"<html><head><title>Big</title></head><body><p>"
    + b"word " * (OVERSIZE_LIMIT // 4)
    + b"</p></body></html>"
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4

# path: (status, headers, body); "{site}" in a body becomes the site's address.
_PAGES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/feeds/rss.xml": (200, {"Content-Type": "application/rss+xml; charset=utf-8"}, RSS),
    "/feeds/atom.xml": (200, {"Content-Type": "application/xml"}, ATOM),
    "/news/bridge.html": (200, {"Content-Type": "text/html; charset=utf-8"}, BRIDGE_HTML),
    "/news/harvest.html": (200, {"Content-Type": "text/html"}, HARVEST_HTML),
    "/news/port.html": (200, {"Content-Type": "text/html; charset=utf-8"}, PORT_HTML),
    "/news/cafe.html": (200, {"Content-Type": "text/html; charset=windows-1252"}, CAFE_HTML),
    "/big.html": (200, {"Content-Type": "text/html"}, BIG_HTML),
    "/files/photo.png": (200, {"Content-Type": "application/octet-stream"}, PNG),
    "/old/bridge.html": (301, {"Location": "/news/bridge.html"}, b""),
    "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
}


class NewsSite(ThreadingHTTPServer):
    """The server, the User-Agent of every request it saw, and an event that lets /slow.html
    answer (set when the site closes, so no thread is left waiting)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.user_agents: list[str] = []
        self.release = threading.Event()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: NewsSite

    def do_GET(self) -> None:
        self.server.user_agents.append(self.headers.get("User-Agent", ""))
        try:
            if self.path == "/endless.html":
                self._endless()
            elif self.path == "/slow.html":
                self.server.release.wait(10)
                self._send(200, {"Content-Type": "text/html"}, PORT_HTML)
            else:
                status, headers, body = _PAGES.get(self.path, (404, {}, b"not found"))
                self._send(status, headers, body.replace(b"{site}", self.server.address.encode()))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should past a size limit

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _endless(self) -> None:
        """An HTML page without a Content-Length that never ends (up to 100 MB)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><head><title>Endless</title></head><body><p>")
        for _ in range(100_000_000 // 8_192):
            self.wfile.write(b"more " * 1_638 + b"xx")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what the client reports."""


@contextmanager
def serving() -> Iterator[NewsSite]:
    site = NewsSite()
    thread = threading.Thread(target=site.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.release.set()
        site.shutdown()
        site.server_close()
        thread.join()
