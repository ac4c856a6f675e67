"""The `redline` command: each subcommand is a thin wrapper over one library function."""

from __future__ import annotations

import csv
import gzip
import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

import storage
from pipeline import cycle
from pipeline.config import load_settings
from pipeline.diff import compare_versions
from pipeline.errors import InputError, RedlineError
from pipeline.extract import extract_article, normalize_text
from pipeline.output import describe_change, print_diff, to_json_line

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False),
    help="redline.toml to use (default: $REDLINE_CONFIG, else ./redline.toml).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


class RedlineGroup(click.Group):
    """Turns Redline's own errors into one clear line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RedlineError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=RedlineGroup)
@click.version_option(package_name="redline")
def cli():
    """Redline: track how news stories change after they are published."""


def _open(config_path):
    settings = load_settings(config_path)
    return settings, storage.open_db(settings.database)


def _emit(record: dict, as_json: bool, text: str) -> None:
    click.echo(to_json_line(record) if as_json else text)


@cli.command()
@config_option
def init(config_path):
    """Create or migrate the database and register the configured sources."""
    settings, db = _open(config_path)
    storage.sync_sources(db, settings.sources)
    click.echo(f"{settings.database}: ready, {len(settings.sources)} source(s)")


@cli.command()
@config_option
@click.option("--all", "everything", is_flag=True, help="Check every tracked article, whatever its schedule.")
@json_option
def run(config_path, everything, as_json):
    """One full cycle without Airflow: poll, check what is due, deliver alerts."""
    summary = cycle.run_cycle(load_settings(config_path), everything=everything)
    if as_json:
        click.echo(to_json_line(summary))
        return
    for poll in summary["polls"]:
        state = f"error: {poll['error']}" if poll["error"] else f"{poll['new_articles']} new article(s)"
        click.echo(f"source {poll['source']}: {state}")
    click.echo("checks: " + (", ".join(f"{k} {v}" for k, v in sorted(summary["checks"].items())) or "none due"))
    click.echo(f"alerts: {summary['alerts']['sent']} sent, {summary['alerts']['failed']} failed")


@cli.command()
@click.argument("url")
@config_option
@json_option
def history(url, config_path, as_json):
    """The versions of the article at URL (or with this id)."""
    _, db = _open(config_path)
    article = storage.find_article(db, url)
    for version in storage.list_versions(db, article.id):
        record = {"url": article.canonical_url, **asdict(version)}
        record.pop("text")
        revert = f" (reverts to v{version.revert_of})" if version.revert_of else ""
        _emit(record, as_json, f"v{version.number}  {version.fetched_at}  {version.word_count:>5} words  "
                               f"{version.title or ''}{revert}")


@cli.command()
@click.argument("url")
@click.option("--from", "from_number", type=int, help="Older version (default: the one before --to).")
@click.option("--to", "to_number", type=int, help="Newer version (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["terminal", "unified", "json"]), default="terminal")
@config_option
def diff(url, from_number, to_number, fmt, config_path):
    """The word diff between two versions of the article at URL."""
    _, db = _open(config_path)
    article = storage.find_article(db, url)
    latest = storage.latest_version(db, article.id)
    if latest is None or latest.number < 2:
        raise InputError(f"{article.canonical_url}: has fewer than two versions, nothing to compare")
    to_number = to_number or latest.number
    from_number = from_number or to_number - 1
    old, new = storage.get_version(db, article.id, from_number), storage.get_version(db, article.id, to_number)
    result = compare_versions(old.text, new.text, old.title, new.title, old.byline, new.byline)
    if fmt == "json":
        click.echo(to_json_line({"url": article.canonical_url, "from": from_number, "to": to_number,
                                 "ops": result.ops, "stats": result.stats,
                                 "changes": [asdict(c) for c in result.changes]}))
        return
    click.echo(f"{article.canonical_url}  v{from_number} → v{to_number}")
    for change in result.changes:
        if change.kind in ("headline", "figure", "byline"):
            click.echo("  " + describe_change(asdict(change)))
    print_diff(result.ops, None if fmt == "terminal" else _plain_console())


def _plain_console():
    from rich.console import Console
    return Console(force_terminal=False, no_color=True, highlight=False)


@cli.command()
@click.option("--kind", help="Only changes of this kind (figure, headline, correction, gone, ...).")
@config_option
@json_option
def changes(kind, config_path, as_json):
    """Every detected change, oldest first."""
    _, db = _open(config_path)
    for change in storage.list_changes(db, kind=kind):
        # A change seen in a feed or in a fetch (gone, redirected) belongs to no pair of versions.
        where = (f"v{change['from_number']}→v{change['to_number']}" if change["from_number"] is not None
                 else f"({change['origin']})")
        _emit(change, as_json, f"{change['detected_at']}  {change['url']}  {where}  {describe_change(change)}")


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a valid gzip file ({exc})") from None
    return data


@cli.command()
@click.argument("path")
@click.option("--url", help="The page's URL, which helps metadata extraction.")
@json_option
def extract(path, url, as_json):
    """Clean text and metadata of an HTML file (.gz accepted, - for stdin)."""
    page = extract_article(_read_input(path), url)
    record = {"title": page.title, "byline": page.byline, "published": page.published,
              "modified": page.modified, "notices": list(page.notices), "text": page.text,
              "extractor": page.extractor}
    _emit(record, as_json, f"{page.title}\n{page.byline or ''} {page.published or ''}\n\n{page.text}")


def _read_text(path: str) -> str:
    try:
        return normalize_text(_read_input(path).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})") from None


@cli.command()
@click.argument("old")
@click.argument("new")
@json_option
def compare(old, new, as_json):
    """The word diff and changes between two plain-text files."""
    result = compare_versions(_read_text(old), _read_text(new))
    if as_json:
        click.echo(to_json_line({"ops": result.ops, "stats": result.stats,
                                 "changes": [asdict(c) for c in result.changes]}))
        return
    for change in result.changes:
        click.echo(describe_change(asdict(change)))
    print_diff(result.ops)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@config_option
def export(fmt, config_path):
    """Every stored version, one record per version, on stdout."""
    _, db = _open(config_path)
    rows = storage.export_versions(db)
    if fmt == "jsonl":
        for row in rows:
            click.echo(to_json_line(row))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=storage.EXPORT_FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "notices": json.dumps(row["notices"], ensure_ascii=False)})


@cli.command()
@click.option("--rounds", default=4, show_default=True, help="How many times the newsroom publishes new versions.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where the demo keeps its config and database.")
def demo(rounds, workdir):
    """Run Redline's DAGs through Airflow against a local demo newsroom and show what changed."""
    from demo.run import run_demo  # imports Airflow, which only the demo needs

    run_demo(rounds=rounds, workdir=workdir)


if __name__ == "__main__":
    cli()
