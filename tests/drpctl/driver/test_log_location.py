"""Where `drp run` tells the operator to find a failed task's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from drp.settings import load_settings
from drpctl.driver.run import log_location

pytestmark = pytest.mark.unit
RUN = "manual__2025-07-14__20261206T134717"


def test_a_local_executor_log_is_a_file_under_the_airflow_home(tmp_path: Path) -> None:
    path = log_location(load_settings(state_dir=tmp_path, executor="local"), RUN, "load_orders", 2)
    assert path == str(
        tmp_path
        / "airflow"
        / "logs"
        / f"dag_id=orders_elt_daily/run_id={RUN}/task_id=load_orders/attempt=2.log"
    )


def test_a_celery_log_is_its_copy_in_the_object_store(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, executor="celery", s3_bucket_logs="logs-here")
    assert log_location(settings, RUN, "load_orders", 0) == (
        f"s3://logs-here/airflow/dag_id=orders_elt_daily/run_id={RUN}/task_id=load_orders/attempt=1.log"
    )
