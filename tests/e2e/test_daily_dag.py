"""The real daily DAG end to end (`dag.test()`) against the running stack: generator, Postgres,
dbt on the lake (DuckLake), Great Expectations, and publication in `ops.published_snapshots`.

The module runs the DAG's tasks on a database and a lake of its own (the stack's services, the
platform's Airflow): its bad day stays out of the platform's raw, where every later build would
pick it up, and nothing the platform's raw already holds (other drills' days) reaches its
assertions. Each test uses its own far-past days so tests never see each other's intervals.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drp.lake.connection import lake, lake_identity, sql_literal
from drp.lake.rollback import unpublished_snapshots
from drp.monitoring.data_health import Verdict, day_health
from drp.publish import registry
from drp.publish.snapshots import PublishError, export_published, publication, published_lake
from drp.settings import Settings, load_settings
from drp.transform.manifest import published_marts
from tests.drp.transform.dbt_helpers import isolated_database
from tests.e2e.dag_runs import WebhookReceiver, business_columns, dag_under_test, run_day

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e]
MARTS = published_marts()  # the models of the dbt exposure analytics_parquet_snapshots

CLEAN_DAY = date(2025, 3, 11)
BAD_DAY = date(2025, 3, 18)


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Iterator[Settings]:
    """The platform's settings with a new, migrated database and a new lake (dropped on exit)."""
    with isolated_database(settings, settings.state_dir) as own:
        yield own


@pytest.fixture(scope="module")
def daily_dag(settings: Settings, webhook: WebhookReceiver) -> Iterator[Any]:
    own = {f: getattr(settings, f) for f in ("postgres_db", "lake_catalog_db", "lake_data_prefix")}
    # The DAG stays the platform's (its Assets are named after the platform's settings: named
    # after this module's database they are Assets the scheduler never activated, and the tasks
    # refuse them); only its tasks' settings are this module's.
    with dag_under_test(load_settings(), webhook, **own) as dag:
        yield dag


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def _state(dag_run: Any) -> str:
    return str(getattr(dag_run.state, "value", dag_run.state))


def _marts_digest(con: Any) -> dict[str, tuple[int, int]]:
    """Per mart, as `con` sees the lake: row count and an order-independent sum of row hashes
    (lineage columns aside)."""
    digests = {}
    for model in MARTS:
        business = business_columns(con, f"analytics.{model}")
        row = con.execute(
            f"select count(*), sum(hash({business})::hugeint) from analytics.{model}"
        ).fetchone()
        assert row is not None
        digests[model] = (row[0], row[1])
    return digests


def _orders_on(con: Any, day: date) -> int:
    """Rows of `fct_orders` for orders of `day`, as `con` sees the lake."""
    row = con.execute("select count(*) from analytics.fct_orders where order_date = ?", [day]).fetchone()
    assert row is not None
    return int(row[0])


def _latest_publication(settings: Settings) -> registry.Publication | None:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return registry.latest(conn, lake_identity(settings))


def _audit(settings: Settings, run_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return conn.execute(
            "select task_id, status, try_number, started_at, ended_at, records_processed, metadata, error_message "
            "from ops.pipeline_flow_audit where flow_name = 'orders_elt_daily' and flow_run_id = %s order by id",
            (run_id,),
        ).fetchall()


def _export_differs_from_mart(con: Any, path: str, model: str) -> tuple[int, int, int]:
    """(rows in the exported Parquet file, rows only in it, rows only in the mart as `con` sees it)."""
    # No hive partitioning: the file's own columns, not a `snapshot_date` taken from its folder.
    exported = f"read_parquet({sql_literal(path)}, hive_partitioning = false)"
    row = con.execute(
        f"select (select count(*) from {exported}), "
        f"(select count(*) from (select * from {exported} except all select * from analytics.{model})), "
        f"(select count(*) from (select * from analytics.{model} except all select * from {exported}))"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.fixture(scope="module")
def clean_run(daily_dag: Any) -> Any:
    """One clean day, run once for the tests below."""
    return run_day(daily_dag, CLEAN_DAY)


@dataclass
class BadRun:
    dag_run: Any
    published_before: registry.Publication | None  # the latest publication when it started
    alerts: list[dict[str, Any]]  # the webhook messages it sent


@pytest.fixture(scope="module")
def bad_run(daily_dag: Any, settings: Settings, webhook: WebhookReceiver) -> BadRun:
    """A day whose orders break a critical expectation, run once for the tests below."""
    published_before = _latest_publication(settings)
    before = len(webhook.messages)
    dag_run = run_day(daily_dag, BAD_DAY, faults={"fault_future": "0.05"})
    return BadRun(dag_run, published_before, webhook.messages[before:])


def test_clean_day_publishes_the_snapshot_it_validated(
    clean_run: Any, daily_dag: Any, settings: Settings
) -> None:
    dag_run = clean_run
    states = _states(dag_run)
    assert _state(dag_run) == "success", states
    assert states["publish"] == "success"

    # The day's publication is this run's, and names every mart.
    pub = publication(settings, CLEAN_DAY)
    assert pub.run_id == dag_run.run_id
    assert set(pub.marts) == set(MARTS)
    # Every mart exported from the publication (Parquet, as `drp export` writes it) equals the mart
    # at the published lake snapshot row for row, with the rows the publication records.
    with tempfile.TemporaryDirectory() as tmp, lake(settings, version=pub.lake_snapshot_id) as con:
        files = export_published(settings, CLEAN_DAY, tmp)
        assert set(files) == set(MARTS)
        for model in MARTS:
            assert Path(files[model]).is_file(), files[model]
            exported, only_in_export, only_in_mart = _export_differs_from_mart(con, files[model], model)
            assert exported == pub.marts[model]["rows"] > 0, model
            assert only_in_export == 0 and only_in_mart == 0, model

    # Audit: one row per task (all succeeded) and one for the run, with counts per layer.
    rows = _audit(settings, dag_run.run_id)
    task_rows = {r[0]: r for r in rows if r[0] is not None}
    assert set(task_rows) == set(daily_dag.task_ids)
    assert all(r[1] == "success" for r in task_rows.values())
    assert task_rows["load_orders"][5] > 0 and task_rows["load_orders"][6]["loaded"] > 0
    dbt = task_rows["dbt_results"][6]  # the build's own results, read from its run_results.json
    assert dbt["models_built"] >= 14 and dbt["tests_passed"] > 50 and dbt["tests_failed"] == 0, dbt
    assert pub.details["dbt"]["models_built"] == dbt["models_built"]
    # The gate validated the snapshot that was published, and publish reported that publication.
    assert task_rows["quality_gate"][6]["lake_snapshot_id"] == pub.lake_snapshot_id
    assert pub.details["quality"]["lake_snapshot_id"] == pub.lake_snapshot_id
    published = task_rows["publish"][6]
    assert published["snapshot_date"] == CLEAN_DAY.isoformat()
    assert published["lake_snapshot_id"] == pub.lake_snapshot_id
    assert published["rows"] == {model: mart["rows"] for model, mart in pub.marts.items()}
    assert task_rows["publish"][5] == sum(published["rows"].values())
    run_rows = [r for r in rows if r[0] is None]
    assert [r[1] for r in run_rows] == ["success"]
    assert run_rows[0][3] is not None and run_rows[0][4] >= run_rows[0][3]
    # The run's span is when it ran (dag.test() stamps start_date with the logical date).
    assert run_rows[0][4] - run_rows[0][3] < timedelta(hours=1), run_rows[0][3:5]
    assert run_rows[0][3] >= min(r[3] for r in task_rows.values()) - timedelta(minutes=1)

    # The operator's answer (`drp status --data`) for the day: complete and correct.
    health = day_health(settings, CLEAN_DAY)
    assert health.complete_and_correct, [(layer.name, layer.verdict, layer.line) for layer in health.layers()]
    assert health.published is not None and health.published.run_id == dag_run.run_id
    assert health.run is not None and health.run.run_id == dag_run.run_id


def test_critical_violation_fails_at_the_gate_publishes_nothing_and_alerts_once(
    bad_run: BadRun, settings: Settings
) -> None:
    dag_run = bad_run.dag_run
    states = _states(dag_run)
    assert _state(dag_run) == "failed"
    assert states["load_orders"] == "success"
    assert states["quality_gate"] == "failed", states
    assert states["publish"] == "upstream_failed"

    # Nothing published for the day; what consumers read (the latest publication) is unchanged.
    with pytest.raises(PublishError):
        publication(settings, BAD_DAY)
    published = _latest_publication(settings)
    assert published is not None and published == bad_run.published_before
    # The run's writes stay at the lake's head, unpublished (the next run restores the head), and
    # the day's orders are there but not in the published snapshot.
    with lake(settings, read_only=True) as head:
        assert unpublished_snapshots(head, published.lake_snapshot_id)
        assert _orders_on(head, BAD_DAY) > 0
    with published_lake(settings) as (_, con):
        assert _orders_on(con, BAD_DAY) == 0

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

    alerts = [m for m in bad_run.alerts if m["drp"]["level"] == "error"]
    assert len(alerts) == 1
    assert dag_run.run_id in alerts[0]["text"] and "quality_gate" in alerts[0]["text"]

    # The operator's answer: not complete and correct, the gate's violation named, nothing published.
    health = day_health(settings, BAD_DAY)
    layers = {layer.name: layer for layer in health.layers()}
    assert not health.complete_and_correct
    assert layers["quality"].verdict is Verdict.FAIL
    assert "order_created_at_not_in_future" in layers["quality"].line
    assert layers["published"].verdict is Verdict.FAIL and layers["raw"].verdict is not Verdict.FAIL


def test_rerun_of_a_day_changes_nothing_and_leaves_a_failed_runs_writes_out(
    clean_run: Any, bad_run: BadRun, daily_dag: Any, settings: Settings
) -> None:
    """Rerun the clean day after the failed one: the same marts are published again, without the
    rows the failed run left at the head."""
    assert _state(clean_run) == "success", _states(clean_run)
    assert _state(bad_run.dag_run) == "failed", _states(bad_run.dag_run)
    with published_lake(settings, CLEAN_DAY) as (first, con):
        marts_before = _marts_digest(con)
    raw_before = _raw_orders(settings, CLEAN_DAY)
    with lake(settings, read_only=True) as head:
        assert _orders_on(head, BAD_DAY) > 0  # the failed run's writes, still at the head

    again = run_day(daily_dag, CLEAN_DAY)
    assert _state(again) == "success", _states(again)
    with published_lake(settings, CLEAN_DAY) as (pub, con):
        assert pub.run_id == again.run_id and pub.id != first.id
        assert _marts_digest(con) == marts_before
        assert _orders_on(con, BAD_DAY) == 0
    assert _raw_orders(settings, CLEAN_DAY) == raw_before and raw_before[0] > 0
    with psycopg.connect(settings.postgres_conninfo()) as conn:  # the rerun appended, nothing deleted
        batches = conn.execute(
            "select status, count(*) from ops.ingest_batches where entity = 'orders' "
            "and data_interval_start = %s group by status",
            (str(CLEAN_DAY),),
        ).fetchall()
    assert dict(batches).get("succeeded") == 1 and dict(batches).get("replaced", 0) >= 1, batches


def _raw_orders(settings: Settings, day: date) -> tuple[Any, ...]:
    """The day's live orders in raw: rows and amount (a rerun appends a batch and replaces the
    previous one; raw keeps both)."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        row = conn.execute(
            "select count(*), sum(o.amount) from raw.orders_raw as o "
            "join ops.ingest_batches as b on b.batch_id = o.batch_id and b.status = 'succeeded' "
            "where o.data_interval_start = %s",
            (str(day),),
        ).fetchone()
    assert row is not None
    return tuple(row)
