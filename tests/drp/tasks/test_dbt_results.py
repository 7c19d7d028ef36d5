"""The dbt results task: a summary from dbt's own run results, or a clear error when the build
did not run in this try of the run (a run cleared without its build producer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drp.tasks import DbtBuildMissingError, dbt_run_results, dbt_summary
from drp.transform.dbt_runner import parse_run_results

pytestmark = pytest.mark.unit


def _result(unique_id: str, status: str, rows: int | None = None) -> dict[str, object]:
    return {
        "unique_id": unique_id,
        "status": status,
        "execution_time": 0.1,
        "adapter_response": {"rows_affected": rows} if rows is not None else {},
        "failures": 0 if status in {"pass", "success"} else 1,
        "message": None,
    }


def test_summary_counts_models_and_tests_from_run_results(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    path.write_text(
        json.dumps(
            {
                "results": [
                    _result("model.drp.fct_orders", "success", 120),
                    _result("model.drp.dim_customers", "success", 30),
                    _result("test.drp.not_null_fct_orders_order_id.abc", "pass"),
                    _result("test.drp.accepted_values_status.def", "warn"),
                    _result("unit_test.drp.fct_orders.test_late_record", "pass"),
                ]
            }
        )
    )
    summary = dbt_summary(parse_run_results(path))
    assert summary == {
        "records_processed": 150,
        "models_built": 2,
        "tests_passed": 2,
        "tests_warned": 1,
        "tests_failed": 0,
    }
    assert dbt_run_results(summary) == summary


def test_missing_run_results_parse_to_nothing(tmp_path: Path) -> None:
    assert parse_run_results(tmp_path / "absent.json") == []


@pytest.mark.parametrize("summary", [None, {}])
def test_a_run_whose_build_did_not_run_fails_with_what_to_do(summary: dict[str, int] | None) -> None:
    expected = "Clear `transform.dbt_producer_watcher`.*new run for the day"
    with pytest.raises(DbtBuildMissingError, match=expected):
        dbt_run_results(summary)
