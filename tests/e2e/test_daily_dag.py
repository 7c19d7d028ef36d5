"""The real daily DAG end to end (`dag.test()`) against the running stack: generator, Postgres,
dbt on DuckDB, Great Expectations and the object store.

Each test uses its own far-past days so tests never see each other's intervals.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from minio.error import S3Error

from drp.publish.snapshots import manifest_key, snapshot_key
from drp.settings import Settings
from drp.storage.object_store import client
from drp.transform.manifest import published_marts
from tests.e2e.dag_runs import WebhookReceiver, business_columns, run_day

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e]
MARTS = published_marts()  # the models of the dbt exposure analytics_parquet_snapshots

CLEAN_DAY = date(2025, 3, 11)
BAD_DAY = date(2025, 3, 18)


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def _marts_digest(settings: Settings) -> dict[str, tuple[int, int]]:
    """Per mart: row count and an order-independent sum of row hashes (lineage columns aside)."""
    digests = {}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        for model in MARTS:
            business = business_columns(con, f"analytics.{model}")
            row = con.execute(
                f"select count(*), sum(hash({business})::hugeint) from analytics.{model}"
            ).fetchone()
            assert row is not None
            digests[model] = (row[0], row[1])
    return digests


def _audit(settings: Settings, run_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return conn.execute(
            "select task_id, status, try_number, started_at, ended_at, records_processed, metadata, error_message "
            "from ops.pipeline_flow_audit where flow_name = 'orders_elt_daily' and flow_run_id = %s order by id",
            (run_id,),
        ).fetchall()


def _parquet_differs_from_mart(settings: Settings, key: str, model: str) -> tuple[int, int, int]:
    """(rows in the Parquet read back through S3, rows only in it, rows only in the mart)."""
    s3 = client(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snap.parquet"
        s3.fget_object(settings.s3_bucket_analytics, key, str(path))
        with duckdb.connect() as con:
            con.execute(f"attach '{settings.duckdb_path}' as wh (read_only)")
            snap = f"read_parquet('{path}')"
            row = con.execute(
                f"select (select count(*) from {snap}), "
                f"(select count(*) from (select * from {snap} except all select * from wh.analytics.{model})), "
                f"(select count(*) from (select * from wh.analytics.{model} except all select * from {snap}))"
            ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.fixture(scope="module")
def clean_run(daily_dag: Any) -> Any:
    """One clean day, run once for the tests below."""
    return run_day(daily_dag, CLEAN_DAY)


def test_clean_day_publishes_snapshots_matching_the_marts(
    clean_run: Any, daily_dag: Any, settings: Settings
) -> None:
    dag_run = clean_run
    states = _states(dag_run)
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success", states
    assert states["publish"] == "success"

    # Every mart's Parquet snapshot, read back through the S3 API, equals the mart row for row.
    for model in MARTS:
        published, only_in_snapshot, only_in_mart = _parquet_differs_from_mart(
            settings, snapshot_key(model, CLEAN_DAY), model
        )
        assert published > 0 and only_in_snapshot == 0 and only_in_mart == 0, model
    s3 = client(settings)
    manifest = s3.get_object(settings.s3_bucket_analytics, manifest_key(CLEAN_DAY)).json()
    assert manifest["run_id"] == dag_run.run_id
    assert {s["model"] for s in manifest["snapshots"]} == set(MARTS)

    # Audit: one row per task (all succeeded) and one for the run, with counts per layer.
    rows = _audit(settings, dag_run.run_id)
    task_rows = {r[0]: r for r in rows if r[0] is not None}
    assert set(task_rows) == set(daily_dag.task_ids)
    assert all(r[1] == "success" for r in task_rows.values())
    assert task_rows["load_orders"][5] > 0 and task_rows["load_orders"][6]["loaded"] > 0
    dbt = task_rows["dbt_results"][6]  # the build's own results, read from its run_results.json
    assert dbt["models_built"] >= 14 and dbt["tests_passed"] > 50 and dbt["tests_failed"] == 0, dbt
    assert manifest["dbt"]["models_built"] == dbt["models_built"]
    run_rows = [r for r in rows if r[0] is None]
    assert [r[1] for r in run_rows] == ["success"]
    assert run_rows[0][3] is not None and run_rows[0][4] >= run_rows[0][3]
    # The run's span is when it ran (dag.test() stamps start_date with the logical date).
    assert run_rows[0][4] - run_rows[0][3] < timedelta(hours=1), run_rows[0][3:5]
    assert run_rows[0][3] >= min(r[3] for r in task_rows.values()) - timedelta(minutes=1)


def test_rerun_of_a_day_changes_nothing(clean_run: Any, daily_dag: Any, settings: Settings) -> None:
    assert str(getattr(clean_run.state, "value", clean_run.state)) == "success", _states(clean_run)
    marts_before = _marts_digest(settings)
    raw_before = _raw_orders(settings, CLEAN_DAY)
    again = run_day(daily_dag, CLEAN_DAY)
    assert str(getattr(again.state, "value", again.state)) == "success", _states(again)
    assert _marts_digest(settings) == marts_before
    assert _raw_orders(settings, CLEAN_DAY) == raw_before and raw_before[0] > 0


def _raw_orders(settings: Settings, day: date) -> tuple[Any, ...]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        row = conn.execute(
            "select count(*), sum(amount) from raw.orders_raw where data_interval_start = %s", (str(day),)
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_critical_violation_fails_at_the_gate_publishes_nothing_and_alerts_once(
    daily_dag: Any, settings: Settings, webhook: WebhookReceiver
) -> None:
    before = len(webhook.messages)
    dag_run = run_day(daily_dag, BAD_DAY, faults={"fault_future": "0.05"})
    states = _states(dag_run)
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "failed"
    assert states["load_orders"] == "success"
    assert states["quality_gate"] == "failed", states
    assert states["publish"] == "upstream_failed"

    s3 = client(settings)
    published = list(s3.list_objects(settings.s3_bucket_analytics, prefix="analytics/", recursive=True))
    assert not [o.object_name for o in published if f"snapshot_date={BAD_DAY.isoformat()}" in o.object_name]
    with pytest.raises(S3Error):
        s3.stat_object(settings.s3_bucket_analytics, manifest_key(BAD_DAY))

    rows = _audit(settings, dag_run.run_id)
    gate_rows = [r for r in rows if r[0] == "quality_gate"]
    assert gate_rows and gate_rows[-1][1] == "failed"
    gate_error = gate_rows[-1][7] or ""
    assert "quality gate failed" in gate_error
    assert "order_created_at_not_in_future" in gate_error  # the violated expectation is named
    assert len(gate_rows) == 1  # a critical failure is not retried
    run_rows = [r for r in rows if r[0] is None]
    assert [r[1] for r in run_rows] == ["failed"]
    assert "quality_gate" in run_rows[0][7]

    alerts = [m for m in webhook.messages[before:] if m["drp"]["level"] == "error"]
    assert len(alerts) == 1
    assert dag_run.run_id in alerts[0]["text"] and "quality_gate" in alerts[0]["text"]
