"""The `redline` command: each subcommand is a thin wrapper over one library function."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Iterable, Iterator

import click

from pipeline import import_lazily
from pipeline.config import load_settings
from pipeline.errors import InputError, RedlineError
from pipeline.masking import mask_url
from pipeline.models import ARTICLE_SORTS, ArticleQuery, to_dict
from pipeline.output import (EXPORTS, FORMATS, describe_change, diff_as_record, print_diff, print_report, printable,
                             render_report, to_json_line)
from pipeline.values import parse_duration

storage = import_lazily("storage")
archive = import_lazily("pipeline.archive")
cycle = import_lazily("pipeline.cycle")
maintenance = import_lazily("pipeline.maintenance")
stages_diff = import_lazily("pipeline.diff")
stages_extract = import_lazily("pipeline.extract")

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
        except Exception as exc:
            # A fault open_db could not foresee (a disk that filled up, a server gone), from either driver;
            # named by module so that psycopg is not imported to recognise its errors.
            if type(exc).__module__.partition(".")[0] not in ("sqlite3", "psycopg"):
                raise
            raise click.ClickException(f"the database failed: {type(exc).__name__}: {exc}") from None


@click.group(cls=RedlineGroup)
@click.version_option(package_name="redline")
def cli():
    """Redline: track how news stories change after they are published."""


def _open(config_path, create: bool = False):
    # Only init and run make a database: a mistyped path for a reading command is an error, not a new file.
    # A reading command sends nothing: it does not ask Apprise about the alert rules' channels.
    settings = load_settings(config_path, channels=create)
    return settings, storage.open_archive(settings, create=create)


def _emit(record: dict, as_json: bool, text: str) -> None:
    click.echo(to_json_line(record) if as_json else printable(text))


@cli.command()
@config_option
def init(config_path):
    """Create or migrate the database and register the configured sources."""
    settings, db = _open(config_path, create=True)
    storage.sync_sources(db, settings.sources)
    click.echo(f"{settings.archive}: ready, {len(settings.sources)} source(s)")


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
    click.echo("alerts: " + ", ".join(f"{value} {key}" for key, value in summary["alerts"].items()
                                      if value or key in ("sent", "failed")))


@cli.command()
@click.argument("url")
@config_option
@json_option
def history(url, config_path, as_json):
    """The versions of the article at URL (or with this id)."""
    _, db = _open(config_path)
    article = archive.locate_article(db, url)
    for version in storage.list_versions(db, article.id):
        record = {"url": article.canonical_url, **to_dict(version)}
        record.pop("text")
        revert = f" (reverts to v{version.revert_of})" if version.revert_of else ""
        _emit(record, as_json, f"v{version.number}  {version.fetched_at}  {version.word_count:>5} words  "
                               f"{version.title or ''}{revert}")
    if not as_json:
        for issue in storage.list_issues(db, article_id=article.id):
            click.echo(printable(f"linked by the newsletter '{issue.subject}' ({issue.source}, "
                                 f"{issue.sent_at or issue.received_at})"))


@cli.command()
@click.option("--source", help="Only the issues of this newsletter source.")
@config_option
@json_option
def newsletters(source, config_path, as_json):
    """Newsletter issues, oldest first, with the stories each linked (canonical URLs, in order)."""
    _, db = _open(config_path)
    for entry in archive.list_newsletters(db, source):
        issue, earlier = entry.issue, entry.corrects
        lines = [f"{issue.sent_at or issue.received_at}  {issue.source}  {issue.subject or '(no subject)'}  "
                 f"({len(issue.links)} stor{'y' if len(issue.links) == 1 else 'ies'})"]
        if earlier:
            lines.append(f"  v{issue.version}: corrects {earlier.message_id}")
            lines += [f"    {describe_change(change)}" for change in entry.changes]
        lines += [f"    {url}  {anchor or ''}" for url, anchor, _ in issue.links]
        record = archive.newsletter_as_record(entry)
        _emit(record, as_json, "\n".join(lines))


@cli.command()
@click.argument("url")
@click.option("--from", "from_number", type=int, help="Older version (default: the one before --to).")
@click.option("--to", "to_number", type=int, help="Newer version (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="terminal", show_default=True)
@config_option
def diff(url, from_number, to_number, fmt, config_path):
    """What changed between two versions of the article at URL: words, sentences, changes, disclosure."""
    _show(cycle.diff_versions(load_settings(config_path, channels=False), url, from_number, to_number), fmt)


def _show(report, fmt: str) -> None:
    if fmt == "terminal":
        print_report(report)
    else:
        click.echo(render_report(report, fmt), nl=fmt == "json")


@cli.command()
@click.argument("url", required=False)
@config_option
@json_option
def reextract(url, config_path, as_json):
    """Read every stored page (of URL, or of all articles) again with today's extractor; flag drift."""
    results = cycle.reextract(load_settings(config_path, channels=False), url)
    for result in results:
        state = result.error or ("drift only: the page reads like the version before it" if result.drift_only
                                 else result.status)
        _emit({**to_dict(result), "status": result.status}, as_json, f"{result.url}  v{result.number}  {state}")
    if not as_json:
        click.echo(f"{len(results)} version(s) read again: {sum(r.differs for r in results)} read differently, "
                   f"{sum(r.drift_only for r in results)} flagged as extractor drift, "
                   f"{sum(bool(r.error) for r in results)} failed")


@cli.command()
@click.option("--kind", help="Only changes of this kind (figure, headline, correction, gone, ...).")
@config_option
@json_option
def changes(kind, config_path, as_json):
    """Every detected change, oldest first."""
    _, db = _open(config_path)
    for change in storage.stream_changes(db, kind=archive.check_kind(kind)):
        # A change seen in a feed or in a fetch (gone, redirected) belongs to no pair of versions.
        where = (f"v{change.from_number}→v{change.to_number}" if change.from_number is not None
                 else f"({change.origin})")
        # None: no diff, or stored before disclosure was recorded
        stealth = "  [stealth]" if change.stealth else "  [timestamp only]" if change.bumped else ""
        _emit(to_dict(change), as_json,
              f"{change.detected_at}  {change.url}  {where}  {describe_change(change)}{stealth}")


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if path.endswith(".gz"):
        import gzip  # as csv below: loaded by the one command that needs it, not by every start

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
    page = stages_extract.extract_article(_read_input(path), url)  # the built-in noise rules; no config is read
    record = {"title": page.title, "byline": page.byline, "published": page.published,
              "modified": page.modified, "notices": list(page.notices), "banner": page.banner,
              "text": page.text, "extractor": page.extractor}
    _emit(record, as_json, f"{page.title}\n{page.byline or ''} {page.published or ''}\n\n{page.text}")


def _read_text(path: str) -> str:
    try:
        return stages_extract.normalize_text(_read_input(path).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})") from None


@cli.command()
@click.argument("old", required=False)
@click.argument("new", required=False)
@json_option
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help='Compare many pairs: one {"old": ..., "new": ...} object per line on stdin, one result per line.')
@click.option("--language", callback=lambda ctx, param, value: _read_language(value),
              help="Read sentences and figures in this language (en, de, fr, es); default: guessed from NEW.")
def compare(old, new, as_json, as_jsonl, language):
    """The word diff and changes between two plain-text files (or many pairs with --jsonl)."""
    if as_jsonl:
        if old or new:
            raise InputError("compare --jsonl reads its pairs from stdin: give no OLD or NEW file")
        _compare_many(language)
        return
    if not (old and new):
        raise InputError("compare needs two files, OLD and NEW (or --jsonl to read pairs from stdin)")
    result = stages_diff.compare_versions(_read_text(old), _read_text(new), language=language)
    if as_json:
        click.echo(to_json_line(diff_as_record(result)))
        return
    for change in result.changes:
        click.echo(printable(describe_change(change)))
    print_diff(result.ops)


def _read_language(value: str | None) -> str | None:
    from pipeline.values import language  # the figure tables load only when a language is asked for

    try:
        return language(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: expected {exc}") from None


def compare_lines(lines: Iterable[str], language: str | None = None) -> Iterator[dict]:
    """The compare --json record for each {"old": ..., "new": ...} JSON line (optional "id", "old_title",
    "new_title", "language"; else language, else guessed); a line that cannot be read yields
    {"line": n, "error": ...} and the others go on."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
        except json.JSONDecodeError as exc:
            yield {"line": number, "error": f"stdin line {number}: not a JSON object ({exc})"}
            continue
        if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in ("old", "new")):
            yield {"line": number, "error": f"stdin line {number}: expected an object with string fields "
                                            "\"old\" and \"new\""}
            continue
        titles = [pair.get(k) if isinstance(pair.get(k), str) else None for k in ("old_title", "new_title")]
        try:
            read_in = _read_language(pair["language"]) if "language" in pair else language
        except click.BadParameter as exc:
            yield {"line": number, "error": f"stdin line {number}: \"language\" {exc.message}"}
            continue
        record = diff_as_record(stages_diff.compare_versions(stages_extract.normalize_text(pair["old"]),
                                                            stages_extract.normalize_text(pair["new"]), *titles,
                                                            language=read_in))
        yield {"id": pair["id"], **record} if "id" in pair else record


def _compare_many(language: str | None) -> None:
    lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict")
    failed = total = 0
    try:
        for record in compare_lines(lines, language):
            total += 1
            failed += "error" in record
            click.echo(to_json_line(record))
    except UnicodeDecodeError as exc:
        raise InputError(f"stdin: not UTF-8 text ({exc})") from None
    if failed:
        raise click.ClickException(f"{failed} of {total} line(s) could not be compared (see their \"error\")")


ALERT_STATUSES = ("pending", "sending", "sent", "failed", "abandoned", "uncertain")


@cli.command("alerts")
@click.option("--status", type=click.Choice(ALERT_STATUSES), help="Only alerts in this state.")
@click.option("--uncertain", is_flag=True,
              help="Only the alerts a run died while sending, with what is known of each (--status uncertain).")
@click.option("--newest", type=click.IntRange(min=1), help="Only the newest N alerts.")
@config_option
@json_option
def list_alerts(status, uncertain, newest, config_path, as_json):
    """Alerts and their delivery: sent, waiting, failed with the error, given up, or uncertain."""
    if uncertain and status not in (None, "uncertain"):
        raise InputError("alerts: --uncertain lists uncertain alerts; give no other --status with it")
    _, db = _open(config_path)
    shown = storage.list_alerts(db, status="uncertain" if uncertain else status, newest=newest)
    for alert in shown:
        state = alert.status + (f", next try {alert.next_attempt_at}" if alert.status == "failed" else "")
        text = (f"#{alert.id}  {state}  attempt(s) {alert.attempts}  {alert.rule} → {alert.channel}\n"
                f"    {describe_change(alert)}  ({alert.url})")
        if alert.status == "uncertain":
            text += (f"\n    claimed {alert.claimed_at} by {alert.claimed_by or 'an unknown process'}; "
                     "no answer from the channel was recorded")
        elif alert.last_error:
            text += f"\n    error: {alert.last_error}"
        _emit(to_dict(alert), as_json, text)
    if uncertain and shown and not as_json:
        click.echo(f"\n{len(shown)} alert(s) may or may not have arrived. Check the channel (the message's "
                   "title names the article); then `redline resend ID...` those that did not arrive.")


@cli.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@config_option
def resend(ids, config_path):
    """Send failed, abandoned or uncertain alerts again (sent ones never are)."""
    requeued = cycle.resend_alerts(load_settings(config_path), list(ids))
    click.echo(f"requeued {len(requeued)} alert(s): {' '.join(map(str, requeued)) or '-'}; "
               "the next delivery run sends them")
    left = sorted(set(ids) - set(requeued))
    if left:
        raise click.ClickException(f"not requeued (unknown, sent or being sent): {' '.join(map(str, left))}")


@cli.command()
@click.option("--source", help="Only the changes of this configured source.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the feed to this file (default: stdout).")
@click.option("--dir", "folder", type=click.Path(file_okay=False),
              help="Write changes.xml and changes-<source>.xml for every source into this folder.")
@click.option("--self-url", help="The URL the feed will be served at (its rel=self link).")
@config_option
def feed(source, output, folder, self_url, config_path):
    """An Atom feed of the detected changes, of every source or of one."""
    settings = load_settings(config_path, channels=False)
    if folder:
        if source or output:
            raise InputError("feed --dir writes every feed: give no --source or --output with it")
        for path in cycle.write_feeds(settings, folder):
            click.echo(str(path))
        return
    document = cycle.changes_feed(settings, source, self_url=self_url)
    if output:
        Path(output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "newsedits"]), default="jsonl", show_default=True,
              help="newsedits: the NewsEdits corpus layout, a row per version and per sentence (JSON lines).")
@click.option("--what", type=click.Choice(EXPORTS), default="versions", show_default=True)
@click.option("--raw", "raw_url", metavar="URL", help="Write the raw page stored for a version of this article instead.")
@click.option("--version", "number", type=click.IntRange(min=1), help="With --raw: which version (default: the latest).")
@config_option
def export(fmt, what, raw_url, number, config_path):
    """Every stored version, change or alert on stdout, one record each, with its article's URL and source."""
    _, db = _open(config_path)
    if raw_url:
        sys.stdout.buffer.write(archive.raw_page(db, raw_url, number))
        return
    if number:
        raise InputError("--version goes with --raw URL")
    if fmt == "newsedits":
        for row in archive.newsedits_rows(db):
            click.echo(to_json_line(row))
        return
    records = archive.export_records(db, what)
    if fmt == "jsonl":
        for record in records:
            click.echo(to_json_line(record))
        return
    import csv

    writer = csv.DictWriter(sys.stdout, fieldnames=archive.export_fields(what), extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, tuple, dict)) else v
                         for k, v in record.items()})


@cli.command()
@click.option("--source", help="Only the articles of this source.")
@click.option("--sort", type=click.Choice(ARTICLE_SORTS), default="latest", show_default=True)
@click.option("--since", help="Only articles with a change detected on or after this date (2026-12-01).")
@click.option("--until", help="... and on or before this date.")
@click.option("--figure", is_flag=True, help="Only articles with a figure change.")
@click.option("--stealth", is_flag=True, help="Only articles with an undisclosed edit.")
@click.option("--gone", is_flag=True, help="Only articles whose page went away.")
@click.option("--text", help='Only articles with these words (or "a phrase") in some version.')
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array for scripts.")
def articles(source, sort, since, until, figure, stealth, gone, text, limit, offset, config_path, as_json):
    """Tracked articles, most recently changed first (or by --sort), with their versions and changes."""
    _, db = _open(config_path)
    query = ArticleQuery(source=source, since=archive.read_day(since, "--since"),
                         until=archive.read_day(until, "--until", end=True), figure=figure, stealth=stealth,
                         gone=gone, text=text, sort=sort, limit=limit, offset=offset)
    rows = storage.list_article_summaries(db, query)
    if as_json:
        click.echo(json.dumps([archive.summary_as_record(row) for row in rows], ensure_ascii=False))
        return
    for row in rows:
        flags = "".join(f"  [{flag}]" for flag, on in (("stealth", row.stealth_edits), (row.status, row.status != "active"))
                        if on)
        click.echo(printable(f"{row.id:>6}  v{row.versions:<3} {row.changes:>4} changes  {row.last_changed_at or '-':<29}"
                             f"  {row.source or '-'}  {row.title or row.url}{flags}"))


@cli.command()
@click.argument("query")
@click.option("--source", help="Only versions of this source's articles.")
@click.option("--since", help="Only versions stored on or after this date (2026-12-01).")
@click.option("--until", help="... and on or before this date.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array for scripts.")
def search(query, source, since, until, limit, config_path, as_json):
    """Full-text search over every stored version: words, or "a phrase"; each article once, with the first
    version that held them and the one where they disappeared."""
    _, db = _open(config_path)
    hits = storage.search_versions(db, query, source=source, since=archive.read_day(since, "--since"),
                                   until=archive.read_day(until, "--until", end=True), limit=limit)
    if as_json:
        click.echo(json.dumps([archive.hit_as_record(hit) for hit in hits], ensure_ascii=False))
        return
    for hit in hits:
        record = archive.hit_as_record(hit)
        first = f"first in v{hit.first_version}" if hit.first_version else ""
        gone = f", gone from v{hit.disappeared_at}" if hit.disappeared_at else ""
        click.echo(printable(f"{hit.url}  v{hit.version}  ({first}{gone})  {hit.title or ''}"))
        click.echo(printable(f"    {record['snippet']}"))


@cli.command()
@click.option("--source", help="Only this source.")
@config_option
@json_option
def stats(source, config_path, as_json):
    """Per source and overall: articles, versions, changes by kind, stealth share, median time to first update."""
    _, db = _open(config_path)
    result = storage.summarise_sources(db, source)
    if as_json:
        click.echo(to_json_line(archive.stats_as_record(result)))
        return
    for one in [*result.sources, *([] if source else [result.totals])]:
        name = one.source or ("(all sources)" if one is result.totals else "(no source)")
        share = f"{one.stealth_share:.0%}" if one.stealth_share is not None else "-"
        wait = f"{one.median_hours_to_first_update:.1f} h" if one.median_hours_to_first_update is not None else "-"
        click.echo(printable(f"{name}: {one.articles} articles, {one.versions} versions, {one.changes} changes; "
                             f"stealth {share} of {one.updates} updates ({one.bumped} timestamp only); "
                             f"median to first update {wait}"))
        if one.changes_by_kind:
            click.echo("    " + ", ".join(f"{kind} {count}" for kind, count in sorted(one.changes_by_kind.items())))


@cli.command()
@config_option
@click.option("--host", help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port, 8050).")
def serve(config_path, host, port):
    """Serve the researcher's workspace over the archive (read-only) until interrupted."""
    from pipeline.web import serve as serve_workspace  # FastAPI and uvicorn load only here

    settings = load_settings(config_path, channels=False)
    click.echo(f"Redline's workspace on http://{host or settings.web.host}:{port or settings.web.port}/ "
               f"over {settings.archive} (Ctrl-C stops it)")
    serve_workspace(settings, host, port)


@cli.command("check-db")
@click.option("--database", type=click.Path(dir_okay=False), help="Check this database file (a backup, say).")
@config_option
def check_db(database, config_path):
    """Check the archive: integrity, raw pages, version numbers and every text's hash. Exit 0 and 'ok' when sound."""
    faults = maintenance.check_db(load_settings(config_path, channels=False), database)
    for fault in faults:
        click.echo(fault)
    if faults:
        raise click.ClickException(f"{len(faults)} problem(s) found")
    click.echo("ok")


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
@config_option
def backup(path, config_path):
    """Copy the archive to PATH, consistently, even while a run is writing."""
    click.echo(f"backed up to {maintenance.backup(load_settings(config_path, channels=False), path)}")


@cli.command("migrate-archive")
@click.argument("source")
@click.argument("target")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1), help="Rows per transaction.")
def migrate_archive(source, target, batch_size):
    """Copy the archive at SOURCE into TARGET: each an SQLite file or a postgresql:// URL. Resumes an interrupted
    copy; verifies every version's text against its hash."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        tasks: dict[str, int] = {}
        for step in maintenance.migrate_archive(source, target, batch_size):
            if step.table not in tasks:
                tasks[step.table] = progress.add_task(step.table, total=step.total)
            progress.update(tasks[step.table], completed=step.copied)
    click.echo(f"copied {mask_url(source)} into {mask_url(target)}; `redline check-db` checks the copy")


@cli.command()
@click.option("--older-than", default="30d", show_default=True, help="Last checked longer ago than this (90, 12h, 30d).")
@config_option
def prune(older_than, config_path):
    """Drop the raw pages of articles no longer checked (retired, gone, redirected); texts and diffs stay."""
    try:
        seconds = parse_duration(older_than)
    except ValueError:
        raise InputError(f"--older-than {older_than!r}: expected a duration such as 90, 12h or 30d") from None
    touched, deleted = maintenance.prune(load_settings(config_path, channels=False), seconds)
    click.echo(f"{deleted} raw page(s) deleted ({touched} version(s) no longer keep theirs); "
               "`redline vacuum` gives the space back")


@cli.command()
@config_option
def vacuum(config_path):
    """Compact the archive's file (best when no run is writing)."""
    before, after = maintenance.vacuum(load_settings(config_path, channels=False))
    click.echo(f"{before:,} → {after:,} bytes")


@cli.command()
@click.option("--rounds", default=4, show_default=True, help="How many times the newsroom publishes new versions.")
@click.option("--workdir", type=click.Path(file_okay=False), help="Where the demo keeps its config and database.")
def demo(rounds, workdir):
    """Run Redline's DAGs through Airflow against a local demo newsroom and show what changed."""
    from demo.run import run_demo  # imports Airflow, which only the demo needs

    run_demo(rounds=rounds, workdir=workdir)


if __name__ == "__main__":
    cli()
