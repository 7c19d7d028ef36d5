"""The real daily DAG end to end (`dag.test()`) on the Postgres engine
(`DRP_WAREHOUSE_ENGINE=postgres`): the same tasks as on the lake, with Cosmos running dbt's
`postgres` target, the gate validating a snapshot it froze in Postgres, and publish recording it.

The module's database is its own (and so is its untouched lake); its day is far in the past.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from drp.lake.connection import lake
from drp.publish.snapshots import mart_fingerprints, publication, published_lake
from drp.settings import Settings, load_settings
from drp.transform.manifest import published_marts
from drp.warehouse import identity, postgres
from tests.drp.transform.dbt_helpers import isolated_database
from tests.e2e.dag_runs import WebhookReceiver, dag_under_test, run_day

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e]
DAY = date(2025, 4, 8)


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Iterator[Settings]:
    """The platform's settings on the Postgres engine, with a new, migrated database of its own."""
    with isolated_database(settings, settings.state_dir) as own:
        yield own.model_copy(update={"warehouse_engine": "postgres"})


@pytest.fixture(scope="module")
def daily_dag(settings: Settings, webhook: WebhookReceiver) -> Iterator[Any]:
    own = {f: getattr(settings, f) for f in ("postgres_db", "lake_catalog_db", "lake_data_prefix")}
    with dag_under_test(load_settings(), webhook, warehouse_engine="postgres", **own) as dag:
        yield dag


def test_a_day_runs_built_gated_and_published_on_postgres(daily_dag: Any, settings: Settings) -> None:
    producer = daily_dag.get_task("transform.dbt_producer_watcher")  # Cosmos's, which runs the build
    assert producer.profile_config.target_name == "postgres"

    dag_run = run_day(daily_dag, DAY)
    states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success", states

    pub = publication(settings, DAY)
    assert pub.run_id == dag_run.run_id and set(pub.marts) == set(published_marts())
    assert identity(settings) == f"postgres {settings.postgres_db}"
    # The gate validated a snapshot frozen in Postgres, and that one was published.
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        gate = conn.execute(
            "select metadata from ops.pipeline_flow_audit where flow_run_id = %s and task_id = 'quality_gate'",
            (dag_run.run_id,),
        ).fetchone()
        assert gate is not None and gate[0]["lake_snapshot_id"] == pub.lake_snapshot_id
        # What readers of the day get is that snapshot's copy, a Postgres schema of the database.
        frozen = postgres.snapshot_schema(pub.lake_snapshot_id, "analytics")
        orders = conn.execute(f'select count(*) from "{frozen}".fct_orders').fetchone()
        assert orders is not None and orders[0] == pub.marts["fct_orders"]["rows"] > 0
    with published_lake(settings, DAY) as (_, con):
        assert mart_fingerprints(con, list(pub.marts)) == pub.marts
    # dbt built nothing in the lake.
    with lake(settings, read_only=True) as con:
        assert con.execute(
            "select count(*) from duckdb_tables() where database_name = 'lake'"
        ).fetchone() == (0,)
