"""The daily DAG's alerts are wired: source freshness gates publish only, and a publish deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineReference

from drp.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def dag() -> Any:
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["orders_elt_daily"]


def test_source_freshness_runs_after_the_loads_and_gates_publish_only(dag: Any) -> None:
    freshness = dag.get_task("source_freshness")
    assert freshness.upstream_task_ids == {"load_orders", "load_customers", "load_products"}
    assert freshness.downstream_task_ids == {"publish"}  # the transform does not wait for it


def test_the_dag_has_a_publish_deadline_that_notifies(dag: Any) -> None:
    [deadline] = dag.deadline
    settings = load_settings(check_secrets=False)
    hours, minutes = map(int, settings.publish_deadline_utc.split(":"))
    assert deadline.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert deadline.interval == timedelta(days=1, hours=hours, minutes=minutes)
    assert isinstance(deadline.callback, SyncCallback)
    assert deadline.callback.path == "drp.monitoring.notifier.DrpNotifier"
    assert deadline.callback.kwargs == {"kind": "deadline", "level": "error"}
