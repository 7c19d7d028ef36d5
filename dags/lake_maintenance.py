"""
### lake_maintenance: keep the lake small and fast

Daily, after the night's run: merge small Parquet files, expire catalog snapshots nobody may read
any more (published days stay exportable for `DRP_LAKE_SNAPSHOT_RETENTION_DAYS`), then delete the
files of expired snapshots and orphans of crashed writers. Alongside, purge the raw rows of
batches superseded or held for longer than `DRP_RAW_SUPERSEDED_RETENTION_DAYS` (their archives
stay; `ops.ingest_batches` records each purge). Each task's result is written to
`ops.pipeline_flow_audit`. Logic: `drp.lake.maintenance`, `drp.ingest.retention`; this file only
wires it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from drp.ingest import retention
from drp.lake import maintenance
from drp.monitoring import flow_audit
from drp.pools import WAREHOUSE_POOL
from drp.settings import get_settings

default_args: dict[str, Any] = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "pool": WAREHOUSE_POOL,  # each step commits to the lake's catalog, like a run's build
    "on_success_callback": flow_audit.on_task_success,
    "on_failure_callback": flow_audit.on_task_failure,
    "on_retry_callback": flow_audit.on_task_retry,
}


@dag(
    dag_id="lake_maintenance",
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2024, 1, 2, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,  # maintenance runs without anyone switching it on
    max_active_runs=1,
    default_args=default_args,
    on_success_callback=flow_audit.on_dag_success,
    on_failure_callback=flow_audit.on_dag_failure,
    tags=["drp", "lake", "maintenance"],
    doc_md=__doc__,
)
def lake_maintenance() -> None:
    @task
    def compact() -> dict[str, Any]:
        return maintenance.compact(get_settings())

    @task
    def expire_snapshots() -> dict[str, Any]:
        return maintenance.expire_snapshots(get_settings())

    @task
    def cleanup_files() -> dict[str, Any]:
        return maintenance.cleanup_files(get_settings())

    @task
    def purge_superseded_raw() -> dict[str, Any]:
        return retention.purge_superseded_raw(get_settings())

    compact() >> expire_snapshots() >> cleanup_files()
    purge_superseded_raw()


lake_maintenance()
