"""
### orders_elt_daily: the platform's daily ELT run

One data interval `[data_interval_start, data_interval_end)` travels from the generator API to
validated, published snapshots:

1. **extract + load raw**: customers, products and orders into Postgres `raw` (exactly once per
   interval; invalid records quarantined with their reason; each batch archived to the object store);
2. **transform**: one `dbt build` of staging and marts in DuckDB (Cosmos watcher mode: one dbt
   process, a sensor per model and test, so DuckDB's single writer is never contended);
3. **quality gate**: Great Expectations suites; a critical failure stops the run here;
4. **publish**: each mart as Parquet under `analytics/<model>/snapshot_date=YYYY-MM-DD/` plus a manifest.

Every task and the run itself are written to `ops.pipeline_flow_audit`; a failed run alerts the
configured webhook. Trigger-form params: `full_refresh`, an interval override, and generator
`faults` (for drills). All logic lives in `include/drp/`; this file only wires it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode

from drp import tasks
from drp.intervals import resolve_interval
from drp.monitoring import flow_audit
from drp.pools import WAREHOUSE_POOL
from drp.transform.dbt_runner import (
    DBT_MANIFEST_PATH,
    DBT_PROFILE_NAME,
    DBT_PROFILES_DIR,
    DBT_PROJECT_DIR,
    dbt_executable,
)
from drp_domain import ENTITIES

RAW_ASSETS = {
    e: Asset(f"postgres://postgres:5432/drp/raw/{e}_raw", extra={"layer": "raw"}) for e in ENTITIES
}
MART_ASSETS = [
    Asset(f"s3://drp-analytics/analytics/{m}", extra={"layer": "published"})
    for m in (
        "daily_order_metrics",
        "fct_orders",
        "fct_order_lines",
        "dim_customers",
        "dim_products",
        "dim_date",
    )
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


def _interval() -> tuple[pendulum.DateTime, pendulum.DateTime]:
    ctx = get_current_context()
    return resolve_interval(ctx["data_interval_start"], ctx["data_interval_end"], dict(ctx["params"]))  # type: ignore[return-value]


def _wire_watcher(group: DbtTaskGroup) -> None:
    """Put the single `dbt build` in the warehouse pool and start the per-model sensors after it.

    The UI still shows one task per model and test, with its own status and log. A sensor that
    starts before the build would only poll (each poll a task process), and under `dag.test()`,
    which runs tasks one at a time, an early sensor wedges the run.
    """
    tasks_in_group = list(group.iter_tasks())
    producer = next(t for t in tasks_in_group if t.task_id.endswith(".dbt_producer_watcher"))
    producer.pool = WAREHOUSE_POOL  # the one DuckDB writer
    producer.callback = tasks.push_dbt_summary  # dbt's results outlive Cosmos's temporary copy
    for sensor in tasks_in_group:
        if sensor is not producer and producer.task_id not in sensor.get_flat_relative_ids(upstream=True):
            producer >> sensor


@dag(
    dag_id="orders_elt_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 2, tz="UTC"),  # the generator serves data from 2024-01-01
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    on_success_callback=flow_audit.on_dag_success,
    on_failure_callback=flow_audit.on_dag_failure,
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
    @task(outlets=[RAW_ASSETS["customers"]])
    def load_customers() -> dict[str, Any]:
        start, end = _interval()
        return tasks.ingest("customers", start, end, faults=get_current_context()["params"]["faults"])

    @task(outlets=[RAW_ASSETS["products"]])
    def load_products() -> dict[str, Any]:
        start, end = _interval()
        return tasks.ingest("products", start, end, faults=get_current_context()["params"]["faults"])

    @task(outlets=[RAW_ASSETS["orders"]])
    def load_orders() -> dict[str, Any]:
        start, end = _interval()
        return tasks.ingest("orders", start, end, faults=get_current_context()["params"]["faults"])

    @task(pool=WAREHOUSE_POOL)  # reads the warehouse's high-water mark
    def prepare_warehouse(*loads: dict[str, Any]) -> dict[str, Any]:
        start, end = _interval()
        return tasks.prepare_warehouse(start, end, list(loads))

    transform = DbtTaskGroup(
        group_id="transform",
        project_config=ProjectConfig(
            manifest_path=DBT_MANIFEST_PATH, project_name="drp", dbt_project_path=DBT_PROJECT_DIR
        ),
        profile_config=ProfileConfig(
            profile_name=DBT_PROFILE_NAME,
            target_name="duckdb",
            profiles_yml_filepath=DBT_PROFILES_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            # The environment's own dbt, whatever PATH the Airflow worker was started with.
            dbt_executable_path=dbt_executable()[0],
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
        operator_args={
            "vars": {"data_interval_start": DBT_INTERVAL_START, "data_interval_end": DBT_INTERVAL_END},
            "full_refresh": "{{ params.full_refresh }}",
            # Sensors start after the build (see _wire_watcher), so the first poke almost
            # always finds the node's status; a node dbt never ran defers to the triggerer, which
            # settles it. No reschedule loop: it races the scheduler (apache/airflow#71172).
            "deferrable": True,
            "poke_interval": 5,
        },
        default_args={**default_args, "retries": 0},
    )

    _wire_watcher(transform)

    # Runs when the build was skipped too (a cleared run), to fail loudly instead of publishing nothing.
    @task(pool=WAREHOUSE_POOL, trigger_rule="none_failed")
    def dbt_results() -> dict[str, Any]:
        summary = get_current_context()["ti"].xcom_pull(
            task_ids="transform.dbt_producer_watcher", key=tasks.DBT_SUMMARY_XCOM_KEY
        )
        try:
            return tasks.dbt_run_results(summary)
        except tasks.DbtBuildMissingError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(pool=WAREHOUSE_POOL)
    def quality_gate() -> dict[str, Any]:
        from drp.quality.errors import QualityGateError

        start, end = _interval()
        try:
            return tasks.quality_gate(get_current_context()["run_id"], start, end)
        except QualityGateError as exc:
            # Data that broke a critical expectation will break it again: fail now, no retries.
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=MART_ASSETS, pool=WAREHOUSE_POOL)
    def publish(dbt_summary: dict[str, Any], quality: dict[str, Any]) -> dict[str, Any]:
        start, _end = _interval()
        extra = {"dbt": dbt_summary, "quality": quality}
        return tasks.publish(get_current_context()["run_id"], start, manifest_extra=extra)

    loads = [load_customers(), load_products(), load_orders()]
    warehouse = prepare_warehouse(*loads)
    dbt_summary = dbt_results()
    gate = quality_gate()
    warehouse >> transform >> dbt_summary >> gate
    publish(dbt_summary, gate)


orders_elt_daily()
