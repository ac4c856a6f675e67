"""
Redline's DAGs: poll sources, check articles, deliver alerts.

Each task body is one call into `pipeline.cycle`; configuration is read when the task runs, never at
parse time (load_settings below): from the Airflow Variable `redline_config` or `$REDLINE_CONFIG`, the
archive's address from the Connection `redline_archive` when there is one. Tasks pass ids and counts
only, so any worker of a distributed deployment can run any of them.
Imports of the pipeline happen inside the tasks so parsing this file stays cheap.
"""

import os
from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

CHANGES = Asset("redline://changes")
START = datetime(2026, 1, 1)
# Tests and the demo set REDLINE_TASK_RETRIES=0: dag.test() really waits out retry delays.
DEFAULT_ARGS = {
    "owner": "redline",
    "retries": int(os.environ.get("REDLINE_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=int(os.environ.get("REDLINE_RETRY_DELAY", "60"))),
    "retry_exponential_backoff": True,
}
COMMON = {"start_date": START, "catchup": False, "max_active_runs": 1,
          "default_args": DEFAULT_ARGS, "tags": ["redline"]}


def load_settings():
    """Redline's settings for this task: the TOML text of the Variable redline_config if set, else the file
    $REDLINE_CONFIG names; the archive on the server the Connection redline_archive names, if it exists (its
    password stays in Airflow's secrets backend), else [database] or $REDLINE_DATABASE_URL."""
    from dataclasses import replace

    from airflow.sdk import Connection, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException
    from pipeline import config
    from pipeline.values import database_url

    text = Variable.get("redline_config", default=None)
    settings = config.settings_from_text(text, "Variable redline_config") if text else config.load_settings()
    try:
        archive = Connection.get("redline_archive")
    except AirflowNotFoundException:
        return settings
    return replace(settings, database_url=database_url(archive.get_uri()))


def connection_login(credentials: str) -> tuple[str, str] | None:
    """The login and password of the Airflow Connection that credentials = "airflow:ID" names, else None."""
    if not credentials.startswith("airflow:"):
        return None
    from airflow.sdk import Connection

    connection = Connection.get(credentials.removeprefix("airflow:"))
    return connection.login or "", connection.password or ""


@task(outlets=[CHANGES])
def announce_changes(results) -> dict:
    """Update the changes Asset (which schedules delivery) when the mapped tasks recorded changes."""
    from airflow.sdk.exceptions import AirflowSkipException
    from pipeline import cycle

    totals = cycle.sum_counts(results[:])  # one XCom read for all mapped tasks
    if not totals.get("changes"):
        raise AirflowSkipException("no new changes, so no Asset event and no delivery run")
    return totals


@dag(
    dag_id="redline_poll_sources",
    description="Poll each feed, sitemap and URL list; track the stories they name and their headline rewrites",
    schedule=timedelta(minutes=15),
    doc_md="""
### Poll sources
Every 15 minutes, fetch each configured feed, sitemap or URL list (one mapped task
per source, never per article) and start tracking the articles it names. Headlines
and summaries the feed rewrote are recorded as changes at once (and update the
`redline://changes` Asset); entries dated after their last check go to the front of
the check queue. A source that cannot be fetched or parsed is recorded on the
source; the others go on.
""",
    **COMMON,
)
def redline_poll_sources():
    @task
    def list_sources() -> list[str]:
        from pipeline import cycle

        return cycle.source_names(load_settings())

    @task(max_active_tis_per_dagrun=4)
    def poll_source(name: str) -> dict:
        from pipeline import cycle

        settings = load_settings()
        return cycle.poll_source(settings, name, login=connection_login(settings.source(name).credentials))

    # A feed that rewrote a headline is a change too: delivery need not wait for the next check.
    announce_changes(poll_source.expand(name=list_sources()))


@dag(
    dag_id="redline_check_articles",
    description="Re-fetch the due articles in batches; store each new version with its diff, changes and alerts",
    schedule=timedelta(minutes=5),
    params={"recheck_all": Param(False, type="boolean", description="Check every tracked article now.")},
    doc_md="""
### Check articles
Every 5 minutes, claim the due articles (a lease, so overlapping runs never
fetch one twice), split them into batches and check each batch in one mapped
task. Each article's new version, diff, changes and pending alerts are stored
in one transaction. A run that found changes updates the `redline://changes`
Asset, which schedules `redline_deliver_alerts`. Trigger with
`{"recheck_all": true}` to check every tracked article whatever its schedule.
""",
    **COMMON,
)
def redline_check_articles():
    @task
    def plan_batches(params=None) -> list[list[int]]:
        from pipeline import cycle

        # hand_off: the mapped check tasks, in other processes, take these claims over.
        return cycle.plan_batches(load_settings(), everything=params["recheck_all"], hand_off=True)

    @task(max_active_tis_per_dagrun=4)
    def check_batch(batch: list[int]) -> dict:
        from pipeline import cycle

        return cycle.check_batch(load_settings(), batch)

    announce_changes(check_batch.expand(batch=plan_batches()))


@dag(
    dag_id="redline_deliver_alerts",
    description="Send the due alerts through Apprise, once each, with backoff for failed channels",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/5 * * * *", timezone="UTC"), assets=[CHANGES]
    ),
    doc_md="""
### Deliver alerts
Runs whenever `redline_check_articles` stores new changes (the
`redline://changes` Asset), and every 5 minutes for what was waiting: a rule's
debounce window, or a failed delivery's next try (backoff). Sends the due
alerts through Apprise, one message per article, rule and channel, each channel
on its own thread. An alert is claimed before it is sent and marked after, so
it is never sent twice, even when this task is retried; failures are recorded
with their error (`redline alerts`).
""",
    **COMMON,
)
def redline_deliver_alerts():
    @task
    def deliver_alerts() -> dict:
        from pipeline import cycle

        return cycle.deliver_alerts(load_settings())

    deliver_alerts()


redline_poll_sources()
redline_check_articles()
redline_deliver_alerts()
