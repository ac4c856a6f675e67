"""`redline demo`: Redline's DAGs, run through Airflow, against the local demo newsroom.

Each round the newsroom publishes the next version of its stories and the three
DAGs run once each with `dag.test()` (real task instances in Airflow's metadata
database, in this process). The deliver DAG is run directly rather than waiting
for the Asset trigger, which only a running scheduler acts on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

DAGS = ("redline_poll_sources", "redline_check_articles", "redline_deliver_alerts")
FOCUS = "flood-toll"


def write_config(workdir: Path, newsroom_url: str) -> Path:
    """The demo's redline.toml: the newsroom's feed, and figure alerts to its local sink."""
    host = newsroom_url.split("://", 1)[1]
    path = workdir / "redline.toml"
    path.write_text(
        '[database]\npath = "redline.db"\n\n'
        "[network]\nallow_private = true  # the demo newsroom is on 127.0.0.1\n"
        "host_delay = 0  # and it is ours: no pause between requests\n\n"
        f'[[sources]]\nname = "Demo newsroom"\nkind = "rss"\nurl = "{newsroom_url}/feed.xml"\n\n'
        '[[sources]]\nname = "Courier Brief"\nkind = "newsletter"\nurl = "mbox:newsletter.mbox"\n\n'
        '[[alerts]]\nname = "figures and corrections"\nkinds = ["figure", "headline", "correction"]\n'
        f'urls = ["json://{host}/_sink"]\n',
        encoding="utf-8",
    )
    return path


def send_newsletter(workdir: Path, room, round_number: int) -> None:
    """The newsroom's morning newsletter for this round, delivered to the demo's mailbox: its stories
    linked with tracking parameters, one behind a click tracker, and an unsubscribe link."""
    import mailbox
    from email.message import EmailMessage
    from urllib.parse import quote

    links = []
    for number, story in enumerate(room.stories):
        url = f"{room.url}/news/{story.slug}?utm_source=brief&utm_medium=email&utm_campaign=round{round_number}"
        if number == 0:
            url = f"https://click.courier-mail.example/ls/click?upn=r{round_number}&url={quote(url, safe='')}"
        links.append(f'<p><a href="{url}">{story.versions[0].title}</a></p>')
    mail = EmailMessage()
    mail["From"] = "The Harlow Bay Courier <brief@courier.example>"
    mail["Subject"] = f"The Courier Brief, round {round_number}"
    mail["Message-ID"] = f"<brief-round-{round_number}@courier.example>"
    mail["List-Id"] = "<brief.courier.example>"
    mail.set_content(f"The Courier Brief, round {round_number}: today's stories.")
    mail.add_alternative(f"<html><body><h1>The Courier Brief</h1>{''.join(links)}"
                         f'<p><a href="{room.url}/unsubscribe">Unsubscribe</a></p></body></html>', subtype="html")
    box = mailbox.mbox(workdir / "newsletter.mbox")
    box.add(mail)
    box.flush()


@contextlib.contextmanager
def redirect_output(log_path: Path):
    """Send everything written to fd 1 and 2 (Airflow's task logs) to a file while inside."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def load_dags(log_path: Path) -> dict:
    """Redline's DAGs, parsed from the DAGs folder; stops if any file fails to import."""
    with redirect_output(log_path):
        from airflow.dag_processing.dagbag import DagBag

        folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or str(Path(__file__).resolve().parent.parent / "dags")
        bag = DagBag(dag_folder=folder)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors in {folder}: {bag.import_errors}")
    return {dag_id: bag.dags[dag_id] for dag_id in DAGS}


def run_dag(dag, log_path: Path, **conf) -> str:
    """Run one DAG through Airflow and return its final state."""
    with redirect_output(log_path):
        run = dag.test(run_conf=conf or None)
    return str(getattr(run.state, "value", run.state))


def run_demo(rounds: int = 4, workdir: str | os.PathLike | None = None) -> None:
    """Run the demo and print what changed."""
    from demo.newsroom import Newsroom

    console = Console(highlight=False, soft_wrap=True)
    workdir = Path(workdir or ".airflow/demo").resolve()
    shutil.rmtree(workdir, ignore_errors=True)  # each demo starts from an empty database
    workdir.mkdir(parents=True)
    log_path = workdir / "airflow.log"
    started = time.monotonic()
    with Newsroom() as room:
        config = write_config(workdir, room.url)
        os.environ["REDLINE_CONFIG"] = str(config)
        os.environ.setdefault("REDLINE_TASK_RETRIES", "0")
        console.print(f"Demo newsroom on {room.url}; Redline config {config}")
        console.print(f"Airflow task logs go to {log_path}")
        dags = load_dags(log_path)
        for round_number in range(rounds + 1):
            send_newsletter(workdir, room, round_number)
            states = [
                run_dag(dags["redline_poll_sources"], log_path),
                run_dag(dags["redline_check_articles"], log_path, recheck_all=True),
                run_dag(dags["redline_deliver_alerts"], log_path),
            ]
            console.print(f"round {round_number}: " + ", ".join(f"{d} {s}" for d, s in zip(DAGS, states)))
            if any(state != "success" for state in states):
                raise SystemExit(f"a DAG run did not succeed; see {log_path}")
            if round_number < rounds:
                room.advance()
        alerts_received = len(room.received)
    print_report(console, config, alerts_received)
    console.print(f"\nDone in {time.monotonic() - started:.0f} s. Database: {workdir / 'redline.db'}")
    relative = os.path.relpath(config)
    console.print(f"Browse it: .venv/bin/redline serve --config {relative}  (then open http://127.0.0.1:8050/)")


def print_report(console: Console, config: Path, alerts_received: int) -> None:
    """Figure changes with their sentences, stealth edits, then the word diff of one story."""
    import storage
    from pipeline.config import load_settings
    from pipeline.diff import compare_versions
    from pipeline.output import describe_change, print_diff

    db = storage.open_archive(load_settings(config))
    counts = storage.count_rows(db)
    issues = storage.list_issues(db)
    console.print(f"\nStored: {counts['articles']} articles, {counts['versions']} versions, "
                  f"{counts['changes']} changes; {alerts_received} alert messages delivered to the local sink; "
                  f"{len(issues)} newsletter issues read from the demo mailbox, linking "
                  f"{len({url for issue in issues for url, _, _ in issue.links})} of those stories.")
    console.rule("Figure changes")
    for change in storage.list_changes(db, kind="figure"):
        console.print(f"[bold]{describe_change(change)}[/bold]  v{change.from_number}→v{change.to_number}  "
                      f"in '{change.article_title}'")
        console.print(f"    [dim]\"{change.context}\"[/dim]")
    console.rule("Stealth edits: the page showed nothing of them")
    for change in storage.list_changes(db, kind="stealth_edit"):
        console.print(f"[bold]{change.after}[/bold]  v{change.from_number}→v{change.to_number}  in '{change.article_title}'")
        console.print(f"    [dim]\"{change.context}\"[/dim]")
    article = next(a for a in storage.list_articles(db) if a.canonical_url.endswith(FOCUS))
    versions = storage.list_versions(db, article.id)
    first, last = versions[0], versions[-1]
    console.rule(f"Word diff of '{last.title}', v{first.number}→v{last.number}")
    print_diff(compare_versions(first.text, last.text, first.title, last.title).ops, console)
