"""`make up` reuses a running stack only when it serves the data the settings name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drp.settings import Settings
from drpctl.stack.native import changed_data_settings, data_settings
from drpctl.stack.supervisor import state_paths

pytestmark = pytest.mark.unit


def _settings(state_dir: Path, **values: object) -> Settings:
    return Settings(_env_file=None, state_dir=state_dir, **values)  # type: ignore[call-arg]


def test_nothing_changed_when_the_stack_ran_with_the_same_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    state_paths(settings)["data_settings"].write_text(json.dumps(data_settings(settings)))
    assert changed_data_settings(settings) == []


def test_names_every_setting_that_differs(tmp_path: Path) -> None:
    bench = _settings(tmp_path, postgres_db="drp_bench_e2e", generator_orders_per_day=100_000)
    state_paths(bench)["data_settings"].write_text(json.dumps(data_settings(bench)))
    assert changed_data_settings(_settings(tmp_path)) == ["DRP_POSTGRES_DB", "DRP_GENERATOR_ORDERS_PER_DAY"]


def test_unknown_when_the_stack_recorded_nothing(tmp_path: Path) -> None:
    assert changed_data_settings(_settings(tmp_path)) == []


def test_the_executor_is_compared_and_a_stack_recorded_before_it_existed_ran_local(tmp_path: Path) -> None:
    recorded = data_settings(_settings(tmp_path))
    del recorded["executor"], recorded["celery_workers"]  # a stack started before these settings
    state_paths(_settings(tmp_path))["data_settings"].write_text(json.dumps(recorded))
    assert changed_data_settings(_settings(tmp_path)) == []
    assert changed_data_settings(_settings(tmp_path, executor="celery"))[0] == "DRP_EXECUTOR"


def test_celery_settings_restart_only_a_celery_stack(tmp_path: Path) -> None:
    local = _settings(tmp_path)
    state_paths(local)["data_settings"].write_text(json.dumps(data_settings(local)))
    assert changed_data_settings(_settings(tmp_path, celery_workers=5)) == []
    celery = _settings(tmp_path, executor="celery")
    state_paths(celery)["data_settings"].write_text(json.dumps(data_settings(celery)))
    assert changed_data_settings(_settings(tmp_path, executor="celery", celery_workers=5)) == [
        "DRP_CELERY_WORKERS"
    ]


def test_the_warehouse_engine_is_compared_and_a_stack_recorded_before_it_existed_ran_the_lake(
    tmp_path: Path,
) -> None:
    recorded = data_settings(_settings(tmp_path))
    del recorded["warehouse_engine"]  # a stack started before the setting
    state_paths(_settings(tmp_path))["data_settings"].write_text(json.dumps(recorded))
    assert changed_data_settings(_settings(tmp_path)) == []
    assert changed_data_settings(_settings(tmp_path, warehouse_engine="postgres")) == ["DRP_WAREHOUSE_ENGINE"]
