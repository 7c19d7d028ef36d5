"""The dbt wrapper's pure parts: interval vars, environment, result parsing, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from drp.errors import PlatformError
from drp.settings import load_settings
from drp.transform import (
    DBT_PROFILES_DIR,
    DBT_PROJECT_DIR,
    DbtError,
    dbt_env,
    interval_vars,
)
from drp.transform.dbt_runner import (
    DBT_TARGET_DIR,
    _parse_results,
    dbt_executable,
    profile_env,
    work_target_dir,
)

pytestmark = pytest.mark.unit


def test_interval_vars_are_utc_iso_and_half_open() -> None:
    start = datetime(2026, 11, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert interval_vars(start, start + timedelta(days=1)) == {
        "data_interval_start": "2026-11-01T00:00:00+00:00",
        "data_interval_end": "2026-11-02T00:00:00+00:00",
    }
    assert interval_vars("2026-11-01T00:00:00Z", "2026-11-02T00:00:00+00:00")["data_interval_start"] == (
        "2026-11-01T00:00:00+00:00"
    )
    assert interval_vars(None, None) == {}


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 11, 1, tzinfo=UTC), None, "go together"),
        (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), "empty data interval"),
        (datetime(2026, 11, 1), datetime(2026, 11, 2), "must be timezone-aware"),
    ],
)
def test_interval_vars_refuse_bad_intervals(start: datetime, end: datetime | None, message: str) -> None:
    with pytest.raises(PlatformError, match=message):
        interval_vars(start, end)


def test_dbt_env_carries_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        check_secrets=False,
        postgres_db="somewhere",
        lake_catalog_db="some_catalog",
        lake_data_prefix="some/prefix",
        s3_bucket_analytics="some-bucket",
        state_dir=tmp_path,
    )
    env = dbt_env(settings, "postgres", threads=2)
    assert env["DRP_DBT_TARGET"] == "postgres"
    assert env["DRP_POSTGRES_DB"] == "somewhere"
    assert env["DRP_LAKE_CATALOG_DB"] == "some_catalog"
    assert env["DRP_LAKE_DATA_PATH"] == "s3://some-bucket/some/prefix/"
    assert env["DRP_DUCKDB_EXTENSION_DIR"].startswith(str(tmp_path))
    assert env["DRP_DBT_THREADS"] == "2"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"


@pytest.mark.parametrize(("engine", "target"), [("lake", "duckdb"), ("postgres", "postgres")])
def test_the_default_target_is_the_warehouse_engines(engine: str, target: str, tmp_path: Path) -> None:
    settings = load_settings(check_secrets=False, warehouse_engine=engine, state_dir=tmp_path)
    assert settings.dbt_target == target
    assert profile_env(settings)["DRP_DBT_TARGET"] == target
    assert profile_env(settings, "duckdb")["DRP_DBT_TARGET"] == "duckdb"  # asked for explicitly


def test_commands_write_their_results_in_the_state_dir_not_beside_the_dags_manifest(tmp_path: Path) -> None:
    settings = load_settings(check_secrets=False, state_dir=tmp_path)
    work = work_target_dir(settings)
    assert work.is_relative_to(tmp_path) and not work.is_relative_to(DBT_TARGET_DIR.parent)


def test_profile_reads_every_credential_from_the_environment() -> None:
    profile = yaml.safe_load((DBT_PROFILES_DIR / "profiles.yml").read_text())["drp"]
    assert set(profile["outputs"]) == {"duckdb", "postgres"}
    duck = profile["outputs"]["duckdb"]
    assert duck["config_options"]["autoinstall_known_extensions"] is False
    assert "DRP_DUCKDB_EXTENSION_DIR" in duck["config_options"]["extension_directory"]
    assert duck["path"] == ":memory:" and duck["database"] == "lake"  # no warehouse file
    attached = {entry["alias"]: entry for entry in duck["attach"]}
    assert set(attached) == {"lake", "pg"}
    assert attached["lake"]["is_ducklake"] is True
    assert "DRP_LAKE_CATALOG_DB" in attached["lake"]["path"]
    assert "DRP_LAKE_DATA_PATH" in attached["lake"]["options"]["data_path"]
    assert attached["pg"]["type"] == "postgres" and attached["pg"]["read_only"] is True
    pg = profile["outputs"]["postgres"]
    for key in ("host", "port", "user", "password", "dbname"):
        assert "env_var(" in str(pg[key])
    assert (DBT_PROJECT_DIR / "dbt_project.yml").exists()
    assert dbt_executable()


def test_run_results_are_parsed_into_nodes(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    path.write_text(
        json.dumps(
            {
                "metadata": {"invocation_id": "abc"},
                "elapsed_time": 3.5,
                "results": [
                    {
                        "unique_id": "model.drp.stg_generator__orders",
                        "status": "success",
                        "execution_time": 1.25,
                        "message": "OK",
                        "failures": None,
                        "adapter_response": {"rows_affected": 8},
                    },
                    {
                        "unique_id": "test.drp.unique_fct_orders_order_id.1a2b",
                        "status": "pass",
                        "execution_time": 0.1,
                        "failures": 0,
                    },
                    {
                        "unique_id": "test.drp.assert_fct_orders_reconcile_with_staging",
                        "status": "fail",
                        "execution_time": 0.2,
                        "failures": 3,
                        "message": "Got 3 results, configured to fail if != 0",
                    },
                    {
                        "unique_id": "test.drp.expression_is_true_x.9f",
                        "status": "warn",
                        "execution_time": 0.1,
                        "failures": 1,
                    },
                    {
                        "unique_id": "unit_test.drp.stg_generator__orders.test_latest",
                        "status": "pass",
                        "execution_time": 0.3,
                    },
                    {"unique_id": "model.drp.fct_orders", "status": "skipped", "execution_time": 0},
                ],
            }
        )
    )
    result = _parse_results(
        path, command="build", target="duckdb", args=[], returncode=1, elapsed=9.0, log_tail=""
    )
    assert result.invocation_id == "abc" and result.dbt_elapsed_seconds == 3.5
    assert result.models_built == ["stg_generator__orders"]
    assert result.tests_passed == ["unique_fct_orders_order_id", "stg_generator__orders.test_latest"]
    assert result.tests_failed == ["assert_fct_orders_reconcile_with_staging"]
    assert result.tests_warned == ["expression_is_true_x"]
    assert result.skipped == ["fct_orders"]
    assert result.nodes[0].rows_affected == 8
    assert next(iter(result.timings)) == "stg_generator__orders"
    assert not result.success

    error = DbtError("dbt build failed", failed_nodes=result.failed_nodes)
    assert "assert_fct_orders_reconcile_with_staging (fail: Got 3 results" in str(error)
    assert error.failed_nodes[0].failures == 3


def test_missing_run_results_still_give_a_result(tmp_path: Path) -> None:
    result = _parse_results(
        tmp_path / "run_results.json",
        command="parse",
        target="duckdb",
        args=[],
        returncode=2,
        elapsed=1.0,
        log_tail="Encountered an error",
    )
    assert result.nodes == [] and not result.success
