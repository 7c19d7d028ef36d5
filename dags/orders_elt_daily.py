"""
### orders_elt_daily: the platform's daily ELT run

One data interval `[data_interval_start, data_interval_end)` travels from the generator API to
validated, published snapshots:

1. **extract + load raw**: customers, products and orders into Postgres `raw` (exactly once per
   interval; invalid records quarantined with their reason; each batch archived to the object store);
   `source_freshness` then runs `dbt source freshness` for the interval: a source behind alerts,
   a stale one also blocks publish;
2. **transform**: `prepare_warehouse` restores the lake's head to the last published snapshot,
   then one `dbt build` of staging and marts into the lake (DuckLake: catalog in Postgres,
   Parquet in the object store; Cosmos watcher mode: one dbt process, a sensor per model and test).
   With `DRP_WAREHOUSE_ENGINE=postgres` dbt builds in Postgres instead, and the gate freezes the
   head into a snapshot of its own (`drp.warehouse`); the steps are the same.
   The build retries (a killed scheduler or worker): each retry restores the head to the published
   snapshot again and reruns the whole build (`drp.transform.retryable_build`, ADR 0004);
3. **quality gate**: Great Expectations suites on the warehouse snapshot the build made (consumers do
   not see it yet); a critical failure stops the run here;
4. **publish**: that snapshot becomes the day's published state in one insert into
   `ops.published_snapshots` (consumers read marts at it by time travel; nothing is copied).
   A day not published by `publish_deadline_utc` (06:00 UTC) after its interval alerts (a deadline alert).

Every task try and the run itself are written to `ops.pipeline_flow_audit` (a try whose process
died by the `drp_audit` listener plugin); a failed run alerts the configured webhook, naming every
failed task. Trigger-form params: `full_refresh`, an interval override, and generator
`faults` (for drills). All logic lives in `include/drp/`; this file only wires it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, TaskInstance, dag, task
from airflow.sdk.exceptions import AirflowFailException
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import PRODUCER_WATCHER_TASK_ID, ExecutionMode, InvocationMode, LoadMode

from drp import tasks
from drp.assets import published_asset_uri, raw_asset_uri
from drp.intervals import resolve_interval
from drp.monitoring import deadlines, flow_audit
from drp.monitoring.freshness import SourceStaleError
from drp.pools import WAREHOUSE_POOL
from drp.quality.errors import QualityGateError, ReconciliationError
from drp.settings import load_settings
from drp.transform.cosmos_profile import use_profile_from_settings
from drp.transform.dbt_runner import (
    DBT_MANIFEST_PATH,
    DBT_PROFILE_NAME,
    DBT_PROFILES_DIR,
    DBT_PROJECT_DIR,
    dbt_executable,
)
from drp.transform.manifest import published_marts
from drp.transform.retryable_build import use_retryable_producer
from drp_domain import ENTITIES

# Parse time: names only (hosts, buckets), no secrets and no network.
SETTINGS = load_settings(check_secrets=False)
RAW_ASSETS = {e: Asset(raw_asset_uri(SETTINGS, e), extra={"layer": "raw"}) for e in ENTITIES}
# The models of the dbt exposure `published_marts`, read from the manifest Cosmos renders.
MART_ASSETS = [
    Asset(published_asset_uri(SETTINGS, m), extra={"layer": "published"})
    for m in published_marts(DBT_MANIFEST_PATH)
]
# dbt builds the interval prepare_warehouse decided: the run's, widened to history loaded by the run.
DBT_INTERVAL_START = "{{ ti.xcom_pull(task_ids='prepare_warehouse')['dbt_interval_start'] }}"
DBT_INTERVAL_END = "{{ ti.xcom_pull(task_ids='prepare_warehouse')['dbt_interval_end'] }}"

default_args: dict[str, Any] = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
    "on_success_callback": flow_audit.on_task_success,
    "on_failure_callback": flow_audit.on_task_failure,
    "on_retry_callback": flow_audit.on_task_retry,
}


def _interval(
    params: Mapping[str, Any], data_interval_start: datetime | None, data_interval_end: datetime | None
) -> tuple[datetime, datetime]:
    """The run's interval: its data interval, unless the trigger form overrides it."""
    start = data_interval_start or params.get("interval_start")
    end = data_interval_end or params.get("interval_end")
    if start is None or end is None:  # a run triggered without a logical date has no data interval
        raise AirflowFailException("the run has no data interval: set interval_start and interval_end")
    return resolve_interval(start, end, dict(params))


def _start_sensors_after_build(group: DbtTaskGroup) -> None:
    """Make the dbt build the upstream of the per-model sensors that have no upstream in the group.

    The UI still shows one task per model and test, with its own status and log. A sensor that
    starts before the build would only poll (each poll a task process), and under `dag.test()`,
    which runs tasks one at a time, an early sensor wedges the run. It also makes the build
    retryable: while the producer is up for retry its sensors have not started, so they read the
    statuses of the try that succeeded and never fall back to running dbt themselves.

    Cosmos has no option for this: it puts the producer upstream of the root nodes only in a
    `DbtDag` (`cosmos.airflow.graph._add_watcher_dependencies`), never in a `DbtTaskGroup`.
    """
    producer = group.tasks_map[PRODUCER_WATCHER_TASK_ID]
    in_group = list(group.iter_tasks())
    ids = {t.task_id for t in in_group}
    producer >> [t for t in in_group if t is not producer and t.upstream_task_ids.isdisjoint(ids)]


@dag(
    dag_id="orders_elt_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 2, tz="UTC"),  # the generator serves data from 2024-01-01
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    on_success_callback=flow_audit.on_dag_success,
    on_failure_callback=flow_audit.on_dag_failure,
    # "Published by HH:MM UTC" (publish_deadline_utc): a run not done by then alerts.
    deadline=deadlines.publish_deadline(SETTINGS),
    tags=["drp", "elt", "daily"],
    doc_md=__doc__,
    params={
        "full_refresh": Param(False, type="boolean", description="Rebuild every model from all of raw"),
        "interval_start": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Override the data interval start (ISO timestamp)",
        ),
        "interval_end": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Override the data interval end (ISO timestamp)",
        ),
        "faults": Param(
            {}, type="object", description='Generator faults for a drill, e.g. {"fault_dupes": "0.01"}'
        ),
    },
)
def orders_elt_daily() -> None:
    # Keyword-only parameters named like context keys (params, run_id, ti, data_interval_*) are
    # filled in by TaskFlow when the task runs; at parse time the decorator leaves them out.

    @task
    def load(
        entity: str,
        *,
        params: dict[str, Any],
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
    ) -> dict[str, Any]:
        start, end = _interval(params, data_interval_start, data_interval_end)
        return tasks.ingest(entity, start, end, faults=params["faults"])

    @task(pool=WAREHOUSE_POOL)  # restores the lake's head, the one thing runs write
    def prepare_warehouse(
        *loads: dict[str, Any],
        params: dict[str, Any],
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
    ) -> dict[str, Any]:
        start, end = _interval(params, data_interval_start, data_interval_end)
        return tasks.prepare_warehouse(start, end, list(loads), full_refresh=bool(params["full_refresh"]))

    transform = DbtTaskGroup(
        group_id="transform",
        project_config=ProjectConfig(
            manifest_path=DBT_MANIFEST_PATH, project_name="drp", dbt_project_path=DBT_PROJECT_DIR
        ),
        profile_config=ProfileConfig(
            profile_name=DBT_PROFILE_NAME,
            # The warehouse engine's target (DRP_WAREHOUSE_ENGINE: the lake, or Postgres).
            target_name=SETTINGS.dbt_target,
            profiles_yml_filepath=DBT_PROFILES_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            # The environment's own dbt, whatever PATH the Airflow worker was started with.
            dbt_executable_path=dbt_executable()[0],
            # The producer's own arguments (Cosmos merges them over operator_args for it alone).
            setup_operator_args={
                # The lake head's one writer. Only the producer: the sensors wait on it, and in
                # the one-slot pool they would hold the slot it needs.
                "pool": WAREHOUSE_POOL,
                # A retry reruns the whole build on the restored head (use_retryable_producer).
                "retries": 2,
                # dbt's results outlive Cosmos's temporary copy of the project.
                "callback": tasks.push_dbt_summary,
            },
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
        operator_args={
            "vars": {"data_interval_start": DBT_INTERVAL_START, "data_interval_end": DBT_INTERVAL_END},
            "full_refresh": "{{ params.full_refresh }}",
            # Sensors start after the build (see _start_sensors_after_build), so the first poke
            # almost always finds the node's status; a node dbt never ran defers to the triggerer,
            # which settles it. No reschedule loop: it races the scheduler (apache/airflow#71172).
            "deferrable": True,
            "poke_interval": 5,
        },
        # No retries for the sensors: a retried sensor would run dbt itself, outside the
        # warehouse pool. The producer retries (setup_operator_args) and rebuilds everything.
        default_args={**default_args, "retries": 0},
    )
    # Cosmos's producer skips itself on a retry; ours restores the lake head and rebuilds.
    use_retryable_producer(transform.tasks_map[PRODUCER_WATCHER_TASK_ID])
    # dbt's profile variables (credentials included) when any of them runs dbt, not from the
    # Airflow process's environment, which holds no secret.
    use_profile_from_settings(transform.iter_tasks())
    _start_sensors_after_build(transform)

    # Runs when the build was skipped too (a cleared run), to fail loudly instead of publishing nothing.
    @task(trigger_rule="none_failed")
    def dbt_results(*, ti: TaskInstance) -> dict[str, Any]:
        summary = ti.xcom_pull(
            task_ids=f"transform.{PRODUCER_WATCHER_TASK_ID}", key=tasks.DBT_SUMMARY_XCOM_KEY
        )
        try:
            return tasks.dbt_run_results(summary)
        except tasks.DbtBuildMissingError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task  # reads a pinned lake snapshot: no writer to wait for
    def quality_gate(
        *,
        run_id: str,
        params: dict[str, Any],
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
        ti: TaskInstance,
    ) -> dict[str, Any]:
        start, end = _interval(params, data_interval_start, data_interval_end)
        try:
            # Everything the build wrote is published with this run, so all of it is gated.
            built = tasks.build_interval(ti.xcom_pull(task_ids="prepare_warehouse"))
            return tasks.quality_gate(run_id, start, end, built=built)
        except (QualityGateError, ReconciliationError, tasks.BuildIntervalMissingError) as exc:
            # Data that broke a critical expectation, or that disagrees with raw, will do so
            # again (a missing build interval needs a cleared run): fail now, no retries.
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=MART_ASSETS)
    def publish(
        dbt_summary: dict[str, Any],
        quality: dict[str, Any],
        *,
        run_id: str,
        params: dict[str, Any],
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
    ) -> dict[str, Any]:
        start, end = _interval(params, data_interval_start, data_interval_end)
        details = {"dbt": dbt_summary, "quality": quality}
        try:
            return tasks.publish(run_id, start, quality["lake_snapshot_id"], details=details, end=end)
        except ReconciliationError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def source_freshness(
        *,
        params: dict[str, Any],
        data_interval_start: datetime | None,
        data_interval_end: datetime | None,
    ) -> dict[str, Any]:
        start, end = _interval(params, data_interval_start, data_interval_end)
        try:
            return tasks.source_freshness(start, end)
        except SourceStaleError as exc:
            # The data of the interval will be as stale on a retry: fail now.
            raise AirflowFailException(str(exc)) from exc

    loads = [load.override(task_id=f"load_{e}", outlets=[RAW_ASSETS[e]])(e.value) for e in ENTITIES]
    warehouse = prepare_warehouse(*loads)
    dbt_summary = dbt_results()
    gate = quality_gate()
    warehouse >> transform >> dbt_summary >> gate
    # Alongside the transform: a stale source (error) stops the run before it publishes.
    loads >> source_freshness() >> publish(dbt_summary, gate)


orders_elt_daily()
