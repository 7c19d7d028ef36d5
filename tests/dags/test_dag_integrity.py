"""The DAG folder imports cleanly, without touching a database or the network, and follows our rules."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag

from drp import tasks
from drp.assets import published_asset_uri, raw_asset_uri
from drp.pools import WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS
from drp.settings import PROJECT_ROOT, SECRET_FIELDS, load_settings
from drp.transform.dbt_runner import DBT_MANIFEST_PATH
from drp.transform.manifest import published_marts
from drp.transform.retryable_build import RetryableDbtProducer
from drp_domain import ENTITIES

pytestmark = pytest.mark.unit
DAGS = PROJECT_ROOT / "dags"


class NetworkAtParseTime(AssertionError):
    pass


@pytest.fixture(scope="module")
def dagbag() -> Iterator[Any]:
    if not DBT_MANIFEST_PATH.exists():
        pytest.fail(f"{DBT_MANIFEST_PATH} is missing: `drp prepare` (run by `make up`) writes it")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise NetworkAtParseTime("a DAG file opened a connection at parse time")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(psycopg, "connect", refuse)
        bag = DagBag(dag_folder=str(DAGS))
    yield bag


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}


def test_every_dag_has_tags_doc_and_retries(dagbag: Any) -> None:
    assert dagbag.dags, "no DAG found"
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            if task.task_id.startswith("transform.") and task.task_id != "transform.dbt_producer_watcher":
                continue  # Cosmos watcher sensors: a retried sensor would run dbt itself (ADR 0004)
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries={task.retries}"


def test_daily_dag_shape(dagbag: Any) -> None:
    dag = dagbag.dags["orders_elt_daily"]
    assert dag.max_active_runs == 1
    assert {"load_customers", "load_products", "load_orders", "quality_gate", "publish"} <= set(dag.task_ids)
    assert "transform.dbt_producer_watcher" in dag.task_ids
    # Publish is downstream of the gate, and the gate of the dbt build: nothing publishes early.
    assert "quality_gate" in dag.get_task("publish").upstream_task_ids
    gate_upstream = dag.get_task("quality_gate").get_flat_relative_ids(upstream=True)
    assert "transform.dbt_producer_watcher" in gate_upstream
    assert {"load_orders", "load_customers", "load_products"} <= gate_upstream
    # Audit callbacks on every task and on the run.
    for task in dag.tasks:
        assert task.on_failure_callback and task.on_success_callback, task.task_id
    assert dag.on_failure_callback and dag.on_success_callback
    assert set(dag.params.keys()) >= {"full_refresh", "interval_start", "interval_end", "faults"}


def test_lake_maintenance_shape(dagbag: Any) -> None:
    dag = dagbag.dags["lake_maintenance"]
    assert dag.max_active_runs == 1 and dag.catchup is False and dag.is_paused_upon_creation is False
    lake_steps = [t.task_id for t in dag.topological_sort() if t.task_id != "purge_superseded_raw"]
    assert lake_steps == ["compact", "expire_snapshots", "cleanup_files"]
    # Raw retention is independent of the lake's steps.
    assert not dag.get_task("purge_superseded_raw").get_flat_relative_ids(upstream=True)
    for task in dag.tasks:
        assert task.on_failure_callback and task.on_success_callback, task.task_id


def test_writers_of_the_lake_head_share_one_pool_and_sensors_follow_the_build(dagbag: Any) -> None:
    dag = dagbag.dags["orders_elt_daily"]
    # Every task that writes the lake's head queues on the one-slot pool (across runs and the
    # maintenance DAG); readers of pinned snapshots do not wait for a slot.
    for task_id in ("prepare_warehouse", "transform.dbt_producer_watcher"):
        assert dag.get_task(task_id).pool == WAREHOUSE_POOL, task_id
    for task_id in ("dbt_results", "quality_gate", "publish"):
        assert dag.get_task(task_id).pool != WAREHOUSE_POOL, task_id
    for task in dagbag.dags["lake_maintenance"].tasks:
        assert task.pool == WAREHOUSE_POOL, task.task_id
    assert WAREHOUSE_POOL_SLOTS == 1
    sensors = [t for t in dag.tasks if t.task_id.startswith("transform.") and hasattr(t, "poke")]
    assert sensors
    for sensor in sensors:
        assert "transform.dbt_producer_watcher" in sensor.get_flat_relative_ids(upstream=True), sensor.task_id
        # No reschedule loop (it races the scheduler, apache/airflow#71172): poke once, else defer.
        assert sensor.deferrable is True and sensor.mode == "poke", sensor.task_id
        # Only the producer holds the one-slot pool: a sensor there would wait for the build while
        # holding the slot the build needs.
        assert sensor.pool != WAREHOUSE_POOL, sensor.task_id
        assert sensor.poke_interval == 5 and sensor.retries == 0, sensor.task_id


def test_the_dbt_build_leaves_its_summary_for_dbt_results(dagbag: Any) -> None:
    producer = dagbag.dags["orders_elt_daily"].get_task("transform.dbt_producer_watcher")
    assert producer.callback is tasks.push_dbt_summary


def test_the_dbt_build_retries_by_rebuilding(dagbag: Any) -> None:
    """Finding 2 of issue 16: Cosmos's producer skips itself on a retry; ours rebuilds (ADR 0004)."""
    producer = dagbag.dags["orders_elt_daily"].get_task("transform.dbt_producer_watcher")
    assert isinstance(producer, RetryableDbtProducer)
    assert producer.retries >= 2 and producer.pool == WAREHOUSE_POOL


def test_one_load_task_per_entity_each_updating_its_raw_asset(dagbag: Any) -> None:
    dag = dagbag.dags["orders_elt_daily"]
    settings = load_settings(check_secrets=False)
    loads = [dag.get_task(f"load_{entity}") for entity in ENTITIES]
    # One task function, used once per entity.
    assert len({load.python_callable for load in loads}) == 1
    for entity, load in zip(ENTITIES, loads, strict=True):
        assert list(load.op_args) == [entity.value]
        assert [asset.uri for asset in load.outlets] == [raw_asset_uri(settings, entity)]


def test_publish_updates_one_asset_per_mart_of_the_exposure(dagbag: Any) -> None:
    publish = dagbag.dags["orders_elt_daily"].get_task("publish")
    settings = load_settings(check_secrets=False)
    assert [asset.uri for asset in publish.outlets] == [
        published_asset_uri(settings, model) for model in published_marts()
    ]
    assert {asset.extra["layer"] for asset in publish.outlets} == {"published"}


def test_every_dbt_task_builds_the_profile_variables_when_it_runs(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Airflow processes hold no DRP_* secret: the producer, and a sensor that falls back to
    running its model (cleared by hand), both get dbt's profile variables from the settings when
    they run (inside Airflow, from the connections), never from the process environment."""
    from drp.transform import cosmos_profile  # noqa: PLC0415

    secrets = {name: f"{name}-value" for name in SECRET_FIELDS}
    at_run_time = load_settings(state_dir=PROJECT_ROOT / ".drp" / "elsewhere", **secrets)
    monkeypatch.setattr(cosmos_profile, "get_settings", lambda: at_run_time)
    monkeypatch.delenv("DRP_POSTGRES_PASSWORD", raising=False)
    dag = dagbag.dags["orders_elt_daily"]
    # Every task of the group that can run dbt (Cosmos adds one EmptyOperator, which cannot).
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("transform.") and hasattr(t, "get_env")]
    assert len(dbt_tasks) > 20
    for task in dbt_tasks:
        assert isinstance(task, cosmos_profile.ProfileFromSettings), task.task_id
        assert type(task).__module__.startswith(("cosmos.", "drp.")), task.task_id
        env = task.get_env({})
        assert env["DRP_POSTGRES_PASSWORD"] == "postgres_password-value", task.task_id
        assert env["DRP_S3_SECRET_KEY"] == "s3_secret_key-value", task.task_id
        assert env["DRP_DUCKDB_EXTENSION_DIR"].startswith(str(at_run_time.state_dir)), task.task_id
    # Cosmos's task types, as the UI shows them.
    assert {type(t).__name__ for t in dbt_tasks} >= {"DbtTestWatcherOperator", "RetryableDbtProducer"}
