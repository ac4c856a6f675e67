"""The DAG files parse, and have the shape Redline relies on."""

import pytest

from conftest import ROOT

DAG_IDS = {"redline_poll_sources", "redline_check_articles", "redline_deliver_alerts"}


def test_dag_files_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_each_dag_has_tags_retries_docs_and_no_catchup(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "redline" in dag.tags
    assert "retries" in dag.default_args
    assert dag.doc_md and dag_id.split("_", 1)[1].split("_")[0] in dag.doc_md.lower()
    assert dag.description and len(dag.description) <= 120  # the one line in Airflow's list of DAGs
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert all(task.retries == dag.default_args["retries"] for task in dag.tasks)


def test_retries_default_to_two_outside_tests(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("REDLINE_TASK_RETRIES")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert {task.retries for dag in bag.dags.values() for task in dag.tasks} == {2}


def test_checks_are_mapped_over_batches_not_articles(dagbag):
    dag = dagbag.dags["redline_check_articles"]
    check = dag.get_task("check_batch")
    assert check.is_mapped
    assert dag.get_task("plan_batches") in check.upstream_list
    assert [a.uri.rstrip("/") for a in dag.get_task("announce_changes").outlets] == ["redline://changes"]
    assert dag.params["recheck_all"] is False


def test_sources_are_polled_one_mapped_task_each(dagbag):
    dag = dagbag.dags["redline_poll_sources"]
    assert dag.get_task("poll_source").is_mapped


def test_delivery_is_scheduled_on_the_changes_asset_and_a_retry_timer(dagbag):
    dag = dagbag.dags["redline_deliver_alerts"]
    assets = [asset.name for _, asset in dag.timetable.asset_condition.iter_assets()]
    assert assets == ["redline://changes"]
    assert "5 minutes" in dag.timetable.description
