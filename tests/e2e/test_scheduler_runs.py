"""`drp run` and `drp backfill` (what `make run` and `make backfill` call) drive real runs under the
Airflow scheduler through the REST API.

`drp run` uses its default day, yesterday: the latest interval, so unpausing the DAG does not make
the scheduler start a second, scheduled run next to it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drp.publish.snapshots import publication, published_lake
from drp.settings import Settings
from drp.transform.manifest import published_marts
from drpctl.driver.airflow_api import AirflowClient
from drpctl.driver.run import DAG_ID
from tests.drp.transform.dbt_helpers import isolated_database
from tests.e2e.dag_runs import LINEAGE, WebhookReceiver, business_columns, dag_under_test, run_day
from tests.e2e.process_env import assert_holds_no_drp_secret

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e]
MARTS = published_marts()  # the models of the dbt exposure analytics_parquet_snapshots
DRP = str(Path(sys.executable).parent / "drp")
BACKFILL_DAYS = [date(2025, 5, 6), date(2025, 5, 7), date(2025, 5, 8)]
LATER_KNOWLEDGE = ("valid_to", "is_current")  # a dimension version closes when a later one arrives


def test_drp_run_triggers_watches_and_summarizes_yesterday(settings: Settings) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    result = subprocess.run([DRP, "run"], capture_output=True, text=True, timeout=1200, check=False)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    triggered = re.search(r"triggered orders_elt_daily run (\S+)", out)
    assert triggered and triggered.group(1).startswith(f"manual__{yesterday.isoformat()}"), out[:3000]
    assert ": success in" in out
    for layer in ("raw (API → Postgres):", "quality gate: passed"):
        assert layer in out, layer
    assert "dbt: 0 models" not in out and " models built, " in out
    # The summary reports the day's publication: this run's, with each mart's rows.
    pub = publication(settings, yesterday)
    assert pub.run_id == triggered.group(1)
    assert f"published {yesterday.isoformat()}: lake snapshot {pub.lake_snapshot_id} " in out
    for model in MARTS:
        rows = pub.marts[model]["rows"]
        assert rows > 0 and re.search(rf"^  {model} +{rows:,} rows$", out, re.MULTILINE), model
    assert "Airflow UI: http://" in out
    # The run's tasks (children of the scheduler under LocalExecutor) had no DRP_* secret and no
    # `.env`: their credentials came from the platform's Airflow Connections.
    assert_holds_no_drp_secret(settings, "airflow-scheduler")


def _slices(settings: Settings, days: list[date]) -> dict[str, str]:
    """A digest per mart of the rows those days produced (lineage columns aside), as published
    for the last day.

    For the SCD2 customers: the versions of the days' customers that had begun by the end of the
    last day, without `valid_to`/`is_current`, which later runs legitimately change.
    """
    first, last = days[0], days[-1]
    queries = {
        "fct_orders": "select {cols} from analytics.fct_orders where order_date between ? and ?",
        "fct_order_lines": "select {cols} from analytics.fct_order_lines where order_date between ? and ?",
        "daily_order_metrics": "select {cols} from analytics.daily_order_metrics where order_date between ? and ?",
        "dim_customers": (
            "select {cols} from analytics.dim_customers where valid_from < ? + interval 1 day "
            "and customer_id in (select customer_id from analytics.fct_orders where order_date between ? and ?)"
        ),
    }
    digests = {}
    with published_lake(settings, last) as (_, con):
        for model, query in queries.items():
            dropped = LINEAGE + (LATER_KNOWLEDGE if model == "dim_customers" else ())
            cols = business_columns(con, f"analytics.{model}", dropped)
            params = [last, first, last] if model == "dim_customers" else [first, last]
            rows = con.execute(query.format(cols=cols) + " order by all", params).fetchall()
            assert rows, (model, settings.postgres_db, settings.lake_catalog_db)
            digests[model] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


# The singles start from an empty database: their first run loads ~500 days of dimension history.
@pytest.mark.timeout(1800)
def test_a_three_day_backfill_equals_three_single_runs(settings: Settings, webhook: WebhookReceiver) -> None:
    first, last = BACKFILL_DAYS[0], BACKFILL_DAYS[-1]
    result = subprocess.run(
        [DRP, "backfill", "--start", first.isoformat(), "--end", last.isoformat()],
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert out.count(": success in") == 3 and "backfill done: 3 days succeeded" in out

    # Airflow recorded a backfill of the range, and three successful backfill runs, one per day.
    lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
    hi = datetime(last.year, last.month, last.day, tzinfo=UTC)
    client = AirflowClient(settings)
    try:
        runs = client.runs_between(DAG_ID, lo, hi)
        backfills = client.call("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"]
    finally:
        client.close()
    assert [(r["run_type"], r["state"]) for r in runs] == [("backfill", "success")] * 3
    assert [r["logical_date"][:10] for r in runs] == [d.isoformat() for d in BACKFILL_DAYS]
    assert any(datetime.fromisoformat(b["from_date"]) == lo for b in backfills)
    # Each day's publication is its backfill run's.
    assert [publication(settings, d).run_id for d in BACKFILL_DAYS] == [r["dag_run_id"] for r in runs]
    backfilled = _slices(settings, BACKFILL_DAYS)

    # The same days as three single runs, built into a warehouse of their own: a Postgres database
    # (raw, and the publications of its lake) and a lake. The singles run in this process
    # (`dag.test()`), so the overrides reach their tasks; the scheduler's workers never see them.
    with isolated_database(settings, settings.state_dir) as own:
        overrides = {
            "postgres_db": own.postgres_db,
            "lake_catalog_db": own.lake_catalog_db,
            "lake_data_prefix": own.lake_data_prefix,
        }
        with dag_under_test(settings, webhook, **overrides) as dag:
            for day in BACKFILL_DAYS:
                run = run_day(dag, day)
                state: Any = getattr(run.state, "value", run.state)
                assert state == "success", (day, {t.task_id: t.state for t in run.get_task_instances()})
                assert publication(own, day).run_id == run.run_id
        assert _slices(own, BACKFILL_DAYS) == backfilled


def test_drp_run_rejects_a_bad_date_in_one_line() -> None:
    result = subprocess.run([DRP, "run", "--date", "2025-13-40"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
