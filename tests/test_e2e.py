"""End to end through Airflow: the DAGs, run with dag.test(), track the demo newsroom."""

import pytest

import storage
from demo.run import write_config
from pipeline.config import load_settings

pytestmark = pytest.mark.airflow


def run(dag, **conf):
    dag_run = dag.test(run_conf=conf or None)
    return str(getattr(dag_run.state, "value", dag_run.state))


def run_round(dagbag):
    return [
        run(dagbag.dags["redline_poll_sources"]),
        run(dagbag.dags["redline_check_articles"], recheck_all=True),
        run(dagbag.dags["redline_deliver_alerts"]),
    ]


@pytest.fixture
def tracked(airflow_db, dagbag, newsroom, tmp_path, monkeypatch):
    """Two rounds of the DAGs with a newsroom update between them; yields the database."""
    config = write_config(tmp_path, newsroom.url)
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    assert run_round(dagbag) == ["success"] * 3
    newsroom.advance()
    assert run_round(dagbag) == ["success"] * 3
    return storage.open_db(load_settings(config).database)


def flood(db):
    return next(a for a in storage.list_articles(db) if a.canonical_url.endswith("/news/flood-toll"))


def test_every_story_is_tracked_once_with_its_versions(tracked, newsroom):
    articles = storage.list_articles(tracked)
    assert len(articles) == len(newsroom.stories)
    assert all("utm_" not in a.canonical_url for a in articles)
    numbers = {a.canonical_url.rsplit("/", 1)[1]: len(storage.list_versions(tracked, a.id)) for a in articles}
    assert numbers["flood-toll"] == 2
    assert numbers["library-reopens"] == 1


def test_the_diff_and_the_figure_change_are_stored(tracked):
    article = flood(tracked)
    diff = storage.get_diff(tracked, article.id, 2)
    assert (-1, "12") in diff.ops and (1, "19") in diff.ops
    figures = storage.list_changes(tracked, kind="figure", article_id=article.id)
    assert [(c.before, c.after, c.subject) for c in figures] == [("at least 12", "at least 19", "people killed")]
    assert "at least 19 people were killed" in figures[0].context
    # The feed showed the new headline first (the poll runs before the check), then the page did.
    headlines = storage.list_changes(tracked, kind="headline", article_id=article.id)
    assert [(c.origin, c.after) for c in headlines] == [
        ("feed", "Meridian River flood kills at least 19 in Harlow Bay"),
        ("page", "Meridian River flood kills at least 19 in Harlow Bay")]


def test_alerts_reach_the_sink_once(tracked, newsroom, dagbag):
    messages = [m["message"] for m in newsroom.received]
    assert any("at least 12 → at least 19" in m for m in messages)
    sent = len(newsroom.received)
    assert run(dagbag.dags["redline_deliver_alerts"]) == "success"
    assert len(newsroom.received) == sent
    statuses = {row[0] for row in tracked.execute("SELECT status FROM alerts").fetchall()}
    assert statuses == {"sent"}


def test_a_repeated_check_run_stores_nothing_twice(tracked, dagbag):
    before = storage.count_rows(tracked)
    assert run(dagbag.dags["redline_check_articles"], recheck_all=True) == "success"
    after = storage.count_rows(tracked)
    assert {k: after[k] for k in ("versions", "diffs", "changes", "alerts")} == \
        {k: before[k] for k in ("versions", "diffs", "changes", "alerts")}
    assert after["fetches"] == before["fetches"] + before["articles"]


def test_task_logs_say_what_each_task_did(airflow_db, dagbag, newsroom, tmp_path, monkeypatch, caplog):
    # No caplog.set_level: INFO records get through only because airflow.cfg's logging_level lets them.
    monkeypatch.setenv("REDLINE_CONFIG", str(write_config(tmp_path, newsroom.url)))
    assert run_round(dagbag) == ["success"] * 3
    logged = caplog.text
    assert "source Demo newsroom: HTTP 200, 6 new article(s)" in logged
    assert "checked 6 article(s): changes 0, new_version 6" in logged
    assert "alerts: 0 sent" in logged


def test_settings_from_a_variable_and_the_archive_from_a_connection(airflow_db, dagbag, newsroom, tmp_path,
                                                                     monkeypatch, postgres_url):
    # What a distributed deployment gives its workers instead of files: the config as the Variable
    # redline_config, the archive (and its password) as the Connection redline_archive.
    config = write_config(tmp_path, newsroom.url)
    monkeypatch.delenv("REDLINE_CONFIG", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_REDLINE_CONFIG", config.read_text(encoding="utf-8"))
    monkeypatch.setenv("AIRFLOW_CONN_REDLINE_ARCHIVE", postgres_url)
    assert run_round(dagbag) == ["success"] * 3
    db = storage.open_db(postgres_url)
    assert len(storage.list_articles(db)) == len(newsroom.stories) and storage.count_rows(db)["versions"] > 0
    assert not (tmp_path / "redline.db").exists()
