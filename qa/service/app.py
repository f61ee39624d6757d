"""The Flask app factory: the chat page, the JSON API, auth and rate limits around them.

The heavy parts (model, index, pipeline) are built once by the caller (`qa serve`, tests) and
passed in; the app holds no globals, so tests build as many apps as they like.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, Response, request, send_from_directory
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.errors import ConfigurationError
from werkzeug.exceptions import RequestEntityTooLarge

from qa.config import ConfigError, ServerSettings
from qa.ingest.sentences import Splitter
from qa.service.api import STATE_KEY, ServiceState, api, health
from qa.service.conversations import ConversationStore
from qa.service.errors import register_error_handlers
from qa.service.rate_limits import limiter_storage
from qa.store.database import Database
from qa.wiring import Components

# The chat page: `web/` beside the package in a checkout (and so for `pip install -e .`), which a
# wheel ships inside it as `qa/web` (pyproject.toml maps the one to the other).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
INSTALLED_WEB_DIR = PACKAGE_DIR / "web"
REPO_WEB_DIR = PACKAGE_DIR.parent / "web"
# The page loads only its own files: even text that slipped past escaping could not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def default_web_dir() -> Path:
    """The page installed with the package, else (a checkout, an editable install) `web/`."""
    return INSTALLED_WEB_DIR if INSTALLED_WEB_DIR.is_dir() else REPO_WEB_DIR


def resolve_web_dir(configured: str) -> Path:
    """`server.web_dir` (or `QA_SERVER_WEB_DIR`) when set, else `default_web_dir()`."""
    return Path(configured).expanduser().resolve() if configured else default_web_dir()


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _add_rate_limit(app: Flask, server: ServerSettings, database: Database) -> None:
    """Limit /api/* per client address, counted where `server.rate_limit_storage` says (by
    default the store, shared by every worker); the page and /healthz are free."""
    if not server.rate_limit.strip():
        return
    storage_uri, storage_options = limiter_storage(server.rate_limit_storage, database)
    try:
        limiter = Limiter(
            get_remote_address,
            app=app,
            storage_uri=storage_uri,
            storage_options=storage_options,
            headers_enabled=True,
        )
    except ConfigurationError as error:  # an unknown scheme, or its client is not installed
        raise ConfigError(
            f"server.rate_limit_storage {server.rate_limit_storage!r}: {error}"
        ) from error
    limiter.limit(server.rate_limit)(api)


def _refuse_chunked_body_over_limit() -> None:
    """413 for a chunked body that reaches MAX_CONTENT_LENGTH. Werkzeug (3.1) reads such a
    body up to the limit and stops without an error, so an article uploaded in chunks would be
    stored cut short. The body is read here once (cached: the views and form parsing reuse it)."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    if len(request.get_data(cache=True)) >= limit:
        raise RequestEntityTooLarge()


def create_app(
    components: Components,
    *,
    server: ServerSettings | None = None,
    splitter: Splitter | None = None,
) -> Flask:
    """Build the app around opened components.

    `server` defaults to `components.settings.server`; `splitter` (a warmed-up one saves
    loading spaCy again) is used to ingest uploaded articles. Conversations and (by default)
    rate-limit counters are kept in the components' store, so apps on one store share them.
    Raises ConfigError for a rate-limit storage that cannot be used.
    """
    server = server or components.settings.server
    database = components.index.store.database
    web_dir = resolve_web_dir(server.web_dir)
    app = Flask(__name__, static_folder=str(web_dir), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the CLI's key order
    app.extensions[STATE_KEY] = ServiceState(
        components=components,
        server=server,
        ingester=components.ingester(splitter),
        conversations=ConversationStore(
            database, server.conversation_ttl_seconds, server.max_conversations
        ),
        write_lock=threading.Lock(),
    )
    register_error_handlers(app)
    _add_rate_limit(app, server, database)
    app.before_request(_refuse_chunked_body_over_limit)
    app.register_blueprint(api)
    app.register_blueprint(health)
    app.after_request(_security_headers)

    @app.get("/")
    def page() -> Response:
        return send_from_directory(web_dir, "index.html")

    return app
