"""The quality gate end to end on sample warehouses: clean data, warnings, source faults, inputs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import psycopg
import pytest

from drp.lake.connection import current_version, lake
from drp.quality.docs import site_url
from drp.quality.errors import QualityGateError, QualityInputError
from drp.quality.report import QualityReport
from drp.quality.suites import SUITES
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from tests.drp.quality.gate_runner import END, INTERVAL_DAY, SAMPLE, START, RunGate, corrupt
from tests.drp.quality.sample_warehouse import SampleSpec, build_sample_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.isolated]


def _rows(pg: psycopg.Connection[Any], run_id: str) -> dict[str, dict[str, Any]]:
    cur = pg.execute(
        "select suite, success, blocking, evaluated_count, failed_count, critical_count, warning_count, "
        "failed_expectations, critical_failed, warning_failed, failures, result_path, result_url, "
        "data_docs_url, rows_validated, data_interval_start, data_interval_end "
        "from ops.quality_results where run_id = %s",
        (run_id,),
    )
    names = [column.name for column in cur.description or []]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def _read_object(settings: Settings, url: str) -> str:
    bucket, _, name = url.removeprefix("s3://").partition("/")
    response = s3_client(settings).get_object(bucket, name)
    try:
        return bytes(response.read()).decode()
    finally:
        response.close()
        response.release_conn()


def test_clean_data_passes_every_suite_with_docs_and_results(
    warehouse: Path, run_gate: RunGate, pg_quality: psycopg.Connection[Any], quality_settings: Settings
) -> None:
    settings = quality_settings
    report = run_gate(warehouse, run_id="test__clean", build_docs=True)

    assert report.passed, report.summary()
    assert [result.suite for result in report.suites] == [spec.name for spec in SUITES]
    for result in report.suites:
        assert result.success and result.failed == 0, report.summary()
        assert result.evaluated == len(next(s for s in SUITES if s.name == result.suite).checks)
        # The result is in the object store (any host finds it); its Data Docs page too.
        assert result.result_path and result.result_path.startswith(
            f"s3://{settings.s3_bucket_analytics}/{settings.quality_results_prefix}/"
            f"{result.suite.replace('.', '/')}/test__clean/"  # GX's key splits the suite name
        )
        assert result.result_url and result.result_url.startswith(
            f"s3://{settings.s3_bucket_analytics}/{settings.quality_docs_prefix}/validations/"
            f"{result.suite.replace('.', '/')}/test__clean/"
        )
        assert result.result_url.endswith(".html") and "test__clean" in _read_object(
            settings, result.result_url
        )
    assert report.result("staging.orders").rows > 0
    assert report.warnings == []

    # GX's validation result JSON carries the check names and severities from meta.
    stored = json.loads(_read_object(settings, report.result("staging.orders").result_path or ""))
    assert stored["success"] is True
    assert {r["expectation_config"]["meta"]["severity"] for r in stored["results"]} == {"critical", "warning"}

    assert report.data_docs_url == site_url(settings)
    index = _read_object(settings, report.data_docs_url)
    assert "test__clean" in index and "staging.orders" in index

    rows = _rows(pg_quality, "test__clean")
    assert set(rows) == {spec.name for spec in SUITES}
    staging = rows["staging.orders"]
    assert staging["success"] and not staging["blocking"]
    assert (
        staging["failed_count"] == 0 and staging["critical_failed"] == [] and staging["warning_failed"] == []
    )
    assert staging["critical_count"] + staging["warning_count"] == staging["evaluated_count"] > 20
    assert staging["data_interval_start"] == START and staging["data_interval_end"] == END
    assert staging["data_docs_url"] == report.data_docs_url


def test_warnings_pass_the_gate_and_are_recorded(
    warehouse: Path, run_gate: RunGate, pg_quality: psycopg.Connection[Any]
) -> None:
    corrupt(
        warehouse,
        # 20 % cancelled on the interval's day (usual: ~6 %); valid, but unusual.
        "update analytics.daily_order_metrics set cancellation_rate = 0.2 "
        "where order_date = date '2026-01-04'",
        "update analytics.dim_customers set email = null "
        "where customer_sk = (select min(customer_sk) from analytics.dim_customers)",
        "update analytics.fct_orders set lines_amount = lines_amount + 1 where order_id = "
        "(select min(order_id) from analytics.fct_orders where order_date = date '2026-01-04')",
    )

    report = run_gate(warehouse, run_id="test__warnings")

    assert report.passed, report.summary()
    warned = {(failure.suite, failure.check) for failure in report.warnings}
    assert warned == {
        ("analytics.daily_order_metrics", "cancellation_rate_typical"),
        ("analytics.dim_customers", "email_not_null"),
        ("integrity.relationships", "fct_orders_amount_mismatch"),
    }
    summary = json.loads(json.dumps(report.as_dict()))  # what the DAG passes on (an XCom)
    assert summary["passed"] is True and summary["critical_failures"] == []
    assert {w["check"] for w in summary["warning_failures"]} == {
        "cancellation_rate_typical",
        "email_not_null",
        "fct_orders_amount_mismatch",
    }
    assert all(w["message"].startswith(w["suite"]) for w in summary["warning_failures"])

    rows = _rows(pg_quality, "test__warnings")
    metrics = rows["analytics.daily_order_metrics"]
    assert not metrics["success"] and not metrics["blocking"]
    assert metrics["warning_failed"] == ["cancellation_rate_typical"] and metrics["critical_failed"] == []
    assert metrics["failed_expectations"] == ["cancellation_rate_typical"] and metrics["failed_count"] == 1
    (failure,) = metrics["failures"]
    assert failure["severity"] == "warning" and failure["column"] == "cancellation_rate"
    assert rows["analytics.dim_customers"]["warning_failed"] == ["email_not_null"]
    (mismatch,) = rows["integrity.relationships"]["failures"]
    assert mismatch["examples"] == ["ord_20260104_000000"]  # the offending key, for the operator
    assert not any(row["blocking"] for row in rows.values())


def test_rerun_of_a_run_replaces_its_rows(
    warehouse: Path, clean_warehouse: Path, run_gate: RunGate, pg_quality: psycopg.Connection[Any]
) -> None:
    corrupt(warehouse, "update staging.orders set currency = 'JPY' where status = 'placed'")
    with pytest.raises(QualityGateError):
        run_gate(warehouse, run_id="test__retry")
    assert _rows(pg_quality, "test__retry")["staging.orders"]["blocking"]

    run_gate(clean_warehouse, run_id="test__retry")  # the retry, after the data was fixed

    rows = _rows(pg_quality, "test__retry")
    assert len(rows) == len(SUITES)
    assert not any(row["blocking"] for row in rows.values())
    count = pg_quality.execute(
        "select count(*) from ops.quality_results where run_id = 'test__retry'"
    ).fetchone()
    assert count == (len(SUITES),)


def test_gate_opens_the_warehouse_read_only_and_closes_it(warehouse: Path, run_gate: RunGate) -> None:
    before = warehouse.stat().st_mtime_ns
    run_gate(warehouse)
    assert warehouse.stat().st_mtime_ns == before
    # Closed: a writer (dbt's next run) can take the file at once.
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create table analytics.after_gate as select 1 as x")


WRITER = """
import json, sys
from drp.lake.connection import open_lake
from drp.settings import load_settings

conn = open_lake(load_settings(**json.loads(sys.argv[1])))
conn.execute("begin")
conn.execute("update staging.orders set currency = 'JPY' where status = 'placed'")
print("writing", flush=True)
sys.stdin.readline()
conn.execute("commit")
print("committed", flush=True)
sys.stdin.readline()
"""


def test_the_gate_reads_the_lake_while_a_writer_holds_it(sample_lake: Settings, run_gate: RunGate) -> None:
    """A writer (dbt's next build) never blocks the gate, and the gate sees only committed snapshots:
    the head before the write, or the snapshot it is pinned at after the write committed."""
    with lake(sample_lake, read_only=True) as conn:
        before = current_version(conn)
    overrides = {
        "lake_catalog_db": sample_lake.lake_catalog_db,
        "lake_data_prefix": sample_lake.lake_data_prefix,
        "state_dir": str(sample_lake.state_dir),
    }
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps(overrides)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    try:
        assert writer.stdout.readline().strip() == "writing"
        # The write is open (uncommitted): the gate neither waits for it nor sees it.
        report = run_gate(None, settings=sample_lake)
        assert writer.poll() is None  # the writer still holds its transaction
        assert report.passed, report.summary()
        assert report.lake_snapshot_id == before

        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "committed"
        with lake(sample_lake, read_only=True) as conn:
            assert current_version(conn) > before
        # The head now holds the bad currency; the snapshot validated before is unchanged.
        with pytest.raises(QualityGateError) as raised:
            run_gate(None, settings=sample_lake, suites=["staging.orders"])
        head = raised.value.report
        assert head.lake_snapshot_id != before
        assert {f.check for f in head.critical_failures} == {"currency_in_set"}, head.summary()
        pinned = run_gate(None, settings=sample_lake, suites=["staging.orders"], lake_snapshot_id=before)
        assert pinned.passed and pinned.lake_snapshot_id == before
    finally:
        writer.kill()
        writer.wait()


def test_bad_inputs_are_input_errors(run_gate: RunGate, tmp_path: Path, warehouse: Path) -> None:
    with pytest.raises(QualityInputError, match="no DuckDB warehouse"):
        run_gate(tmp_path / "missing.duckdb")
    with pytest.raises(QualityInputError, match="empty data interval"):
        run_gate(warehouse, start=END, end=START)
    with pytest.raises(QualityInputError, match="timezone-aware"):
        run_gate(warehouse, start=START.replace(tzinfo=None))
    with pytest.raises(QualityInputError, match="unknown quality suite"):
        run_gate(warehouse, suites=["staging.nope"])


def test_a_missing_relation_fails_its_suites_without_hiding_the_others(
    warehouse: Path, run_gate: RunGate
) -> None:
    corrupt(warehouse, "drop table analytics.dim_products")

    with pytest.raises(QualityGateError) as raised:
        run_gate(warehouse)

    report = raised.value.report
    failed = {(f.suite, f.check) for f in report.critical_failures}
    assert ("analytics.dim_products", "frame_readable") in failed
    assert ("integrity.relationships", "frame_readable") in failed  # its anti-joins read dim_products
    assert ("contracts.columns", "contracted_columns_present") in failed
    assert "dim_products" in (report.result("analytics.dim_products").critical_failures[0].error or "")
    # Everything else was still validated.
    assert report.result("staging.orders").success and report.result("analytics.fct_orders").success


def test_an_expectation_on_a_missing_column_fails_with_its_error(warehouse: Path, run_gate: RunGate) -> None:
    corrupt(warehouse, "alter table staging.orders drop column customer_id")

    with pytest.raises(QualityGateError) as raised:
        run_gate(warehouse, suites=["staging.orders"])

    failures = {failure.check: failure for failure in raised.value.report.critical_failures}
    assert failures["columns_match_contract"].examples == ("missing: customer_id",)
    assert "customer_id" in (failures["customer_id_not_null"].error or "")


# --- the source system's aggregate faults, flowing consistently through every layer -------------
def _faulted(tmp_path: Path, **faults: Any) -> Path:
    path = tmp_path / "faulted.duckdb"
    build_sample_warehouse(path, SampleSpec(**faults))
    return path


def _gate_failures(run_gate: RunGate, path: Path) -> tuple[QualityReport, set[str], set[str]]:
    with pytest.raises(QualityGateError) as raised:
        run_gate(path)
    report = raised.value.report
    critical = {f"{f.suite}:{f.check}" for f in report.critical_failures}
    warnings = {f"{f.suite}:{f.check}" for f in report.warnings}
    return report, critical, warnings


def test_fault_orders_referencing_customers_that_never_existed(tmp_path: Path, run_gate: RunGate) -> None:
    # As dbt does, the sample gives each unknown customer an inferred member in dim_customers.
    report, critical, warnings = _gate_failures(run_gate, _faulted(tmp_path, orphans=0.05))
    assert critical == {"integrity.relationships:fct_orders_unknown_customer"}
    assert warnings == set()  # inferred members' null attributes are not reported twice
    (failure,) = report.critical_failures
    assert failure.examples and all(example.startswith("ord_2026") for example in failure.examples)


def test_inferred_members_from_other_intervals_do_not_block(warehouse: Path, run_gate: RunGate) -> None:
    corrupt(
        warehouse,
        "insert into analytics.dim_products values ('prd_424242', null, null, null, null, null, null, true)",
        "insert into analytics.dim_customers values (md5('cus_98000000|inferred'), 'cus_98000000', "
        "null, null, null, null, null, null, 1, timestamptz '1970-01-01 00:00:00+00', null, true, true)",
    )
    report = run_gate(warehouse)
    assert report.passed and report.warnings == [], report.summary()


def test_fault_amounts_100x_too_large_on_a_few_orders(tmp_path: Path, run_gate: RunGate) -> None:
    report, critical, warnings = _gate_failures(run_gate, _faulted(tmp_path, x100=0.02))
    # Every layer agrees (reconciliation and integrity pass): only the amount checks can see it.
    assert "staging.orders:amount_below_plausible_max" in critical
    assert critical <= {"staging.orders:amount_below_plausible_max", "staging.orders:amount_mean_in_band"}
    assert "staging.orders:amount_mean_typical" in warnings
    assert report.result("reconciliation.daily_orders").success
    assert report.result("integrity.relationships").success


def test_fault_amounts_100x_too_large_everywhere(tmp_path: Path, run_gate: RunGate) -> None:
    _, critical, _ = _gate_failures(run_gate, _faulted(tmp_path, x100=1.0))
    assert {
        "staging.orders:amount_below_plausible_max",
        "staging.orders:amount_mean_in_band",
        "staging.orders:amount_median_in_band",
    } <= critical


def test_fault_timestamps_in_the_future(tmp_path: Path, run_gate: RunGate) -> None:
    _, critical, _ = _gate_failures(run_gate, _faulted(tmp_path, future=0.02))
    assert critical == {
        "staging.orders:order_created_at_not_in_future",
        "staging.orders:updated_at_within_batch_interval",
    }


def test_fault_a_day_whose_volume_collapses(tmp_path: Path, run_gate: RunGate) -> None:
    _, critical, warnings = _gate_failures(run_gate, _faulted(tmp_path, collapse_days=(INTERVAL_DAY,)))
    assert "reconciliation.daily_orders:volume_not_collapsed" in critical
    assert "reconciliation.daily_orders:volume_typical" in warnings


def test_volume_is_judged_against_the_configured_volume(
    warehouse: Path, run_gate: RunGate, quality_settings: Settings
) -> None:
    # The source is configured for 10x the volume that arrived.
    tenfold = quality_settings.model_copy(update={"generator_orders_per_day": SAMPLE.orders_per_day * 10})
    _, critical, _ = _gate_failures(lambda path: run_gate(path, settings=tenfold), warehouse)
    assert critical == {"reconciliation.daily_orders:volume_not_collapsed"}


def test_interval_scoping_a_backfill_rerun_of_an_earlier_day_passes(
    warehouse: Path, run_gate: RunGate
) -> None:
    # Day 0's orders were updated by later batches since (a rerun after the fact): still clean.
    report = run_gate(
        warehouse, start=START - timedelta(days=INTERVAL_DAY), end=END - timedelta(days=INTERVAL_DAY)
    )
    assert report.passed, report.summary()
    # A two-day interval validates both days' volumes.
    report = run_gate(warehouse, start=START, end=END + timedelta(days=1))
    assert report.passed, report.summary()
    volume_rows = report.result("reconciliation.daily_orders").rows
    assert volume_rows >= 2


def test_a_day_the_build_carried_in_is_judged_with_the_run(tmp_path: Path, run_gate: RunGate) -> None:
    # Day 2's volume collapsed, so its own gate failed and nothing of it was published. Day 3's
    # build carries it in ([day 2, day 4)) and would publish it: day 3's gate judges it too.
    path = _faulted(tmp_path, collapse_days=(INTERVAL_DAY - 1,))
    assert run_gate(path).passed  # day 3 alone is clean
    with pytest.raises(QualityGateError) as raised:
        run_gate(path, scope_start=START - timedelta(days=1))
    report = raised.value.report
    carried = SAMPLE.first_day + timedelta(days=INTERVAL_DAY - 1)
    assert "volume_not_collapsed" in {f.check for f in report.critical_failures}
    assert report.carried_days == (carried,)
    assert f"carrying in {carried.isoformat()}" in str(raised.value)
    assert "make run DATE=<day>" in str(raised.value)
    # Recorded under the run's own interval (one publication per day is looked up by it).
    assert (report.data_interval_start, report.data_interval_end) == (START, END)
    assert report.as_dict()["carried_days"] == [carried.isoformat()]


def test_a_carried_day_whose_every_order_was_quarantined_is_judged_too(
    warehouse: Path, run_gate: RunGate
) -> None:
    # The day before the sample's first has a live orders batch that loaded nothing (every record
    # quarantined): no row of it is in the warehouse, but raw's registry names the batch.
    empty = (datetime.combine(SAMPLE.first_day, datetime.min.time(), tzinfo=UTC) - timedelta(days=1),)
    empty += (empty[0] + timedelta(days=1),)
    assert run_gate(warehouse, scope_start=empty[0]).passed  # from the warehouse alone: a history day
    with pytest.raises(QualityGateError) as raised:
        run_gate(warehouse, scope_start=empty[0], orders_batches=[empty, (START, END)])
    report = raised.value.report
    assert {f.check for f in report.critical_failures} == {"volume_not_collapsed"}
    assert report.carried_days[0] == empty[0].date()


def test_history_days_without_orders_are_not_judged_for_volume(warehouse: Path, run_gate: RunGate) -> None:
    # A first run's build reaches back to the dimensions' history: days before any order.
    report = run_gate(warehouse, scope_start=START - timedelta(days=60))
    assert report.passed, report.summary()
    assert report.carried_days == tuple(SAMPLE.first_day + timedelta(days=i) for i in range(INTERVAL_DAY))
    assert report.result("reconciliation.daily_orders").rows >= 60


def test_airflow_pendulum_intervals_are_accepted(warehouse: Path, run_gate: RunGate) -> None:
    start = pendulum.instance(START).in_timezone("Europe/Paris")  # same instant, another zone
    report = run_gate(warehouse, start=start, end=pendulum.instance(END), suites=["staging.orders"])
    assert report.passed
    assert report.data_interval_start == START and report.data_interval_start.tzinfo is not None
    assert type(report.data_interval_start) is type(START)


def test_gate_wall_time_on_the_sample_is_small(warehouse: Path, run_gate: RunGate) -> None:
    started = time.perf_counter()
    report = run_gate(warehouse)
    assert report.passed
    # Generous: GX's per-expectation overhead dominates (~1-3 s on a busy 2-core machine).
    assert time.perf_counter() - started < 20
    assert set(report.timings) >= {"read_frames", "validate", "record"}


def test_a_crash_inside_great_expectations_fails_that_suite_critically(
    warehouse: Path, run_gate: RunGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GX takes 7-9 s to import: only this test needs it before the first gate run.
    from great_expectations.checkpoint.checkpoint import Checkpoint  # noqa: PLC0415 - heavy import

    real_run = Checkpoint.run

    def run(self: Checkpoint, *args: Any, **kwargs: Any) -> Any:
        if self.name == "gate.analytics.dim_date":
            raise RuntimeError("metric resolution exploded")
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(Checkpoint, "run", run)
    with pytest.raises(QualityGateError) as raised:
        run_gate(warehouse)

    report = raised.value.report
    (failure,) = report.critical_failures
    assert (failure.suite, failure.check) == ("analytics.dim_date", "validation_ran")
    assert failure.error == "RuntimeError: metric resolution exploded"
    assert report.result("staging.orders").success
