"""Command line: `qa ingest`, `qa ask`, `qa check`, `qa serve`.

Exit status: 0 success; 1 the command ran but something was skipped or failed (named on
stderr); 2 a usage error.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from qa.answering.pipeline import EmptyQuestionError
from qa.answering.retrieve import InvalidDateError, article_filter, parse_day
from qa.config import ConfigError, Settings, load_settings
from qa.ingest.fetch import Fetcher, is_url, read_urls
from qa.ingest.ingester import read_files
from qa.ingest.loaders import RECORD_FIELDS
from qa.models.embedder import Embedder, ModelNotFoundError
from qa.models.onnx_runtime import OnnxGraphError, cpu_has_bfloat16
from qa.models.reader import SpanReader
from qa.service.serialize import abstention_note, answer_to_json
from qa.store.articles import StoreError
from qa.store.database import DatabaseError
from qa.store.index import IndexMismatchError
from qa.store.vectors import VectorIndexError
from qa.types import Answer
from qa.wiring import Components, open_components

# Failures a user can act on: printed as one line, never as a traceback.
USER_ERRORS = (
    ConfigError,
    DatabaseError,
    FileNotFoundError,
    IndexMismatchError,
    ModelNotFoundError,
    OnnxGraphError,
    StoreError,
    VectorIndexError,
    EmptyQuestionError,
)

INDEX_OPTION = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Index folder (default: index_dir from config.yaml, or $QA_INDEX_DIR).",
)


def _day_option(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> dt.date | None:
    """A day written YYYY-MM-DD, as the API takes it; a usage error otherwise."""
    if value is None:
        return None
    try:
        return parse_day(value)
    except InvalidDateError as error:
        raise click.BadParameter(str(error), context, parameter) from error


def _settings(context: click.Context) -> Settings:
    settings: Settings = context.obj["settings"]
    return settings


def _open(context: click.Context, index_dir: Path | None, create: bool = False) -> Components:
    """Open the index with the embedder and reader the caller put in `obj` (tests), else load
    the models."""
    try:
        return open_components(
            _settings(context),
            embedder=context.obj.get("embedder"),
            reader=context.obj.get("reader"),
            create=create,
            index_dir=index_dir,
        )
    except USER_ERRORS as error:
        raise click.ClickException(str(error)) from error


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Settings file (default: $QA_CONFIG, else ./config.yaml when present).",
)
@click.pass_context
def cli(context: click.Context, config_path: Path | None) -> None:
    """Ask questions of a set of news articles; answers cite the sentences they rest on."""
    context.ensure_object(dict)
    if "settings" not in context.obj:
        try:
            context.obj["settings"] = load_settings(config_path)
        except ConfigError as error:
            raise click.ClickException(str(error)) from error


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="PATH_OR_URL...")
@INDEX_OPTION
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def ingest(
    context: click.Context, sources: tuple[str, ...], index_dir: Path | None, quiet: bool
) -> None:
    """Add articles to the index: .txt, .html, .htm, .json, .jsonl files or folders, and
    http(s) URLs of article pages or of RSS / Atom feeds (each entry's page is fetched)."""
    settings = _settings(context)
    urls = [source for source in sources if is_url(source)]
    paths = [Path(source) for source in sources if not is_url(source)]
    try:
        fetcher = Fetcher(settings.ingest.max_file_bytes, settings.ingest.fetch_timeout_seconds)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    components = _open(context, index_dir, create=True)
    try:
        articles, report = read_files(paths, settings.ingest.max_file_bytes, not quiet)
        if urls:
            fetched, failed = read_urls(urls, fetcher, show_progress=not quiet)
            articles.extend(fetched)
            report.skipped.extend(failed)
        report = components.ingester().ingest_with_progress(
            articles, report, show_progress=not quiet
        )
    finally:
        components.close()
    for message in report.skipped:
        click.echo(f"skipped: {message}", err=True)
    if report.unused_fields:
        counts = ", ".join(f"'{name}' ({n})" for name, n in sorted(report.unused_fields.items()))
        click.echo(
            f"ignored JSON fields (records holding them): {counts}; qa reads "
            f"{', '.join(sorted(RECORD_FIELDS))}",
            err=True,
        )
    click.echo(
        f"{len(report.added)} added, {len(report.replaced)} replaced, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped "
        f"({report.sentences} sentences, {report.chunks} chunks) "
        f"into {index_dir or settings.index_dir}"
    )
    if not report.ok:
        context.exit(1)


@cli.command()
@INDEX_OPTION
@click.pass_context
def check(context: click.Context, index_dir: Path | None) -> None:
    """Verify the index folder: store integrity, offsets, vectors matching chunks."""
    components = _open(context, index_dir)
    try:
        problems = components.index.verify()
        articles, vectors = components.index.store.count(), components.index.vector_count()
    finally:
        components.close()
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        context.exit(1)
    click.echo(f"index OK: {articles} articles, {vectors} chunk vectors")


def _print_timeline(answer: Answer) -> None:
    """Each answering article's own answer, oldest first, when the answer changed over time."""
    if not answer.timeline:
        return
    click.echo("Timeline:")
    for entry in answer.timeline:
        published = entry.article.published
        click.echo(f"  {published.isoformat() if published else 'undated':<10}  {entry.answer}")
        click.echo(f"              — {entry.article.title}")


def _print_answer(answer: Answer) -> None:
    if answer.period is not None:
        since, until = answer.period.since, answer.period.until
        span = f"{since.isoformat() if since else '…'} to {until.isoformat() if until else '…'}"
        click.echo(f"Asked of articles published {span} (“{answer.period.named}”)")
    if answer.answerable:
        as_of = f" (as of {answer.as_of.isoformat()})" if answer.as_of else ""
        click.echo(click.style(answer.answer or "", bold=True) + as_of)
        label = "Sources"
    else:
        click.echo(f"The articles do not say. {abstention_note(answer)}")
        if answer.citations:
            click.echo("Closest matches:")
        label = ""
    if label:
        click.echo(f"{label} (confidence {answer.confidence:.2f}):")
    for citation in answer.citations:
        article = citation.article
        meta = ", ".join(
            part
            for part in (
                article.source,
                article.published.isoformat() if article.published else None,
            )
            if part
        )
        click.echo(f"  [{citation.rank}] {citation.sentence.text}")
        click.echo(
            f"      — {article.title}{f' ({meta})' if meta else ''}, "
            f"chars {citation.sentence.start}-{citation.sentence.end}"
        )
    _print_timeline(answer)


@cli.command()
@click.argument("question")
@INDEX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option(
    "--top-k", type=click.IntRange(1, 50), default=None, help="How many sentences to cite."
)
@click.option(
    "--since",
    callback=_day_option,
    metavar="YYYY-MM-DD",
    help="Only articles published on or after this day (undated ones are left out).",
)
@click.option(
    "--until",
    callback=_day_option,
    metavar="YYYY-MM-DD",
    help="Only articles published on or before this day (undated ones are left out).",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Only articles from this source (case-insensitive; repeat for several).",
)
@click.pass_context
def ask(
    context: click.Context,
    question: str,
    index_dir: Path | None,
    as_json: bool,
    top_k: int | None,
    since: dt.date | None,
    until: dt.date | None,
    sources: tuple[str, ...],
) -> None:
    """Answer QUESTION from the indexed articles, citing sentences."""
    settings = _settings(context)
    try:
        where = article_filter(since, until, sources)
    except InvalidDateError as error:
        raise click.UsageError(str(error)) from error
    components = _open(context, index_dir)
    try:
        answer = components.pipeline.ask(question, top_k or settings.answer.top_k, where=where)
    except USER_ERRORS as error:
        raise click.ClickException(str(error)) from error
    finally:
        components.close()
    if as_json:
        click.echo(json.dumps(answer_to_json(answer), ensure_ascii=False))
    else:
        _print_answer(answer)


def _runtimes(embedder: Embedder, reader: SpanReader | None) -> str:
    """Which runtimes the models run under, as they resolved them: "auto" picks one per CPU,
    and an operator should see which, and that an openvino-bf16 asked for by name computes in
    float32 on a CPU without bfloat16 instructions."""

    def named(runtime: str) -> str:
        if runtime == "openvino-bf16" and not cpu_has_bfloat16():
            return f"{runtime} (in float32: this CPU has no bfloat16 instructions)"
        return runtime

    said = f"questions and passages run under {named(embedder.runtime)}"
    return f"{said}, the reader under {named(reader.runtime)}" if reader is not None else said


@cli.command()
@INDEX_OPTION
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default: server.port)."
)
@click.option(
    "--workers",
    type=click.IntRange(0, 256),
    default=None,
    help="Worker processes (default: server.workers; 0: one per core).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Threads per worker (default: server.threads).",
)
@click.pass_context
def serve(
    context: click.Context,
    index_dir: Path | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    threads: int | None,
) -> None:
    """Serve the chat page and the JSON API with gunicorn, one worker process per core."""
    from qa.ingest.sentences import SpacySplitter
    from qa.service.server import Models, ServeOptions, Server, check_index, worker_count
    from qa.wiring import make_embedder, make_reader

    settings = _settings(context)
    server = settings.server
    options = ServeOptions(
        host or server.host,
        server.port if port is None else port,
        worker_count(server.workers if workers is None else workers),
        threads or server.threads,
    )
    try:
        models = Models(
            context.obj.get("embedder") or make_embedder(settings),
            context.obj.get("reader") or make_reader(settings),
            SpacySplitter(),
        )
        models.prepare()  # once, here: the workers inherit the loaded models
        articles = check_index(settings, models, index_dir)
    except USER_ERRORS as error:
        raise click.ClickException(str(error)) from error
    if not server.api_token:
        click.echo("no server.api_token set: adding and deleting articles is disabled", err=True)
    click.echo(_runtimes(models.embedder, models.reader), err=True)

    def announce(url: str) -> None:
        click.echo(f"serving {articles} articles at {url}/ with {options.workers} workers")

    Server(settings, models, options, index_dir, on_ready=announce).run()


@cli.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions.")
@click.option(
    "--baselines", is_flag=True, help="Also measure dense-only and BM25-only nearest sentence."
)
@click.option(
    "--details",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    default=None,
    help="Also write each question's outcome to this file, a line of JSON each.",
)
@click.pass_context
def evaluate_command(
    context: click.Context,
    dataset: Path,
    as_json: bool,
    limit: int | None,
    baselines: bool,
    details: Path | None,
) -> None:
    """Score answers on a SQuAD 2.0 file, indexed into a temporary folder (docs/evaluation.md)."""
    from qa.evaluation.evaluate import evaluate, format_table
    from qa.evaluation.squad import SquadFormatError, load_squad
    from qa.ingest.sentences import SpacySplitter
    from qa.wiring import make_embedder

    settings = _settings(context)
    try:
        data = load_squad(dataset).limited(limit)
    except (SquadFormatError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    try:
        embedder = context.obj.get("embedder") or make_embedder(settings)
        result = evaluate(
            data,
            settings,
            embedder,
            SpacySplitter(),
            baselines=baselines,
            reader=context.obj.get("reader"),
            details=details,
        )
    except USER_ERRORS as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(result) if as_json else format_table(result))


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="qa")


if __name__ == "__main__":
    sys.exit(main())
