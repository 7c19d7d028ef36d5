"""A day's verdict per layer, read from the `ops` tables of a database of the module's own.

Each day below is written as the pipeline's writers leave it (rows of `ops.ingest_batches`,
`raw.*_rejected`, `ops.pipeline_flow_audit`, `ops.quality_results`, `ops.published_snapshots`,
`ops.alerts`), and read back through `day_health` and `drp status --data`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drp.db.migrate import upgrade
from drp.monitoring.alert_store import NO_WEBHOOK
from drp.monitoring.data_health import DAILY_DAG, Verdict, day_health
from drp.settings import Settings, load_settings
from drp.warehouse import identity
from drpctl.db_admin import create_database, drop_database

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

DRP = str(Path(sys.executable).parent / "drp")
CLEAN, CRITICAL, HELD, CARRIED, NOTHING = (date(2025, 1, d) for d in (10, 11, 12, 13, 20))


@pytest.fixture(scope="module")
def health_settings() -> Iterator[Settings]:
    base = load_settings()
    name = f"drp_test_health_{secrets.token_hex(4)}"
    create_database(base.postgres_admin_dsn, name, base.postgres_user)
    try:
        settings = load_settings(postgres_db=name)
        upgrade(settings)
        with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
            _write_days(conn, identity(settings))
        yield settings
    finally:
        drop_database(base.postgres_admin_dsn, name)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _batch(
    conn: psycopg.Connection[Any],
    day: date,
    entity: str,
    *,
    status: str = "succeeded",
    received: int = 100,
    quarantined: int = 0,
    reasons: tuple[str, ...] = (),
    violations: list[str] | None = None,
    ended: int = 0,
) -> None:
    batch_id = uuid.uuid4()
    start = _start(day)
    conn.execute(
        """insert into ops.ingest_batches (batch_id, source_system, entity, data_interval_start,
               data_interval_end, status, received, loaded, quarantined, duplicates, drift,
               threshold_violations, started_at, ended_at)
           values (%s, 'generator', %s, %s, %s, %s, %s, %s, %s, 0, '{}', %s, %s, %s)""",
        (
            batch_id,
            entity,
            start,
            start + timedelta(days=1),
            status,
            received,
            received - quarantined,
            quarantined,
            json.dumps(violations) if violations else None,
            start + timedelta(days=1, minutes=ended),
            start + timedelta(days=1, minutes=ended + 1),
        ),
    )
    for reason in reasons:
        conn.execute(
            f"""insert into raw.{entity}_rejected (batch_id, source_system, data_interval_start,
                    data_interval_end, reasons, raw_payload) values (%s, 'generator', %s, %s, %s, '{{}}')""",
            (batch_id, start, start + timedelta(days=1), [reason]),
        )


def _run(
    conn: psycopg.Connection[Any], day: date, run_id: str, status: str, error: str | None = None
) -> None:
    start = _start(day)
    conn.execute(
        """insert into ops.pipeline_flow_audit (flow_name, flow_run_id, task_id, status,
               data_interval_start, data_interval_end, duration_seconds, error_message)
           values (%s, %s, null, %s, %s, %s, 61.5, %s)""",
        (DAILY_DAG, run_id, status, start, start + timedelta(days=1), error),
    )


def _task(
    conn: psycopg.Connection[Any], run_id: str, task_id: str, status: str, metadata: dict[str, Any]
) -> None:
    conn.execute(
        """insert into ops.pipeline_flow_audit (flow_name, flow_run_id, task_id, try_number, status, metadata)
           values (%s, %s, %s, 1, %s, %s)""",
        (DAILY_DAG, run_id, task_id, status, json.dumps(metadata)),
    )


def _built_and_gated(
    conn: psycopg.Connection[Any], day: date, run_id: str, *, critical: list[str] | None = None
) -> None:
    _task(conn, run_id, "source_freshness", "success", {"sources": {"raw.orders_raw": "pass"}})
    dbt = {"models_built": 15, "tests_passed": 104, "tests_warned": 0, "tests_failed": 0}
    _task(conn, run_id, "dbt_results", "success", dbt)
    start = _start(day)
    for suite, failed in (("staging.orders", critical or []), ("analytics.fct_orders", [])):
        conn.execute(
            """insert into ops.quality_results (run_id, suite, data_interval_start, data_interval_end,
                   success, evaluated_count, failed_count, critical_count, warning_count,
                   failed_expectations, critical_failed, warning_failed, validated_at, data_docs_url)
               values (%s, %s, %s, %s, %s, 20, %s, 12, 8, %s, %s, '{}', now(), 's3://b/docs/index.html')""",
            (run_id, suite, start, start + timedelta(days=1), not failed, len(failed), failed, failed),
        )


def _published(conn: psycopg.Connection[Any], lake: str, day: date, run_id: str, snapshot: int) -> None:
    conn.execute(
        """insert into ops.published_snapshots (snapshot_date, run_id, lake_snapshot_id, marts, details, lake)
           values (%s, %s, %s, %s, '{}', %s)""",
        (day, run_id, snapshot, json.dumps({"fct_orders": {"rows": 1234, "checksum": "1"}}), lake),
    )


def _alert(conn: psycopg.Connection[Any], run_id: str, level: str, error: str | None) -> None:
    conn.execute(
        """insert into ops.alerts (kind, level, title, run_id, delivered, delivery_error)
           values (%s, %s, %s, %s, %s, %s)""",
        (f"run_{level}", level, f"drp: {run_id}", run_id, error is None, error),
    )


def _write_days(conn: psycopg.Connection[Any], lake: str) -> None:
    # A clean day: 3 % of orders quarantined (under the 5 % warning share).
    for entity in ("orders", "customers", "products"):
        _batch(
            conn,
            CLEAN,
            entity,
            quarantined=3 if entity == "orders" else 0,
            reasons=("negative_value:amount",) * 3 if entity == "orders" else (),
        )
    _run(conn, CLEAN, "clean", "success")
    _built_and_gated(conn, CLEAN, "clean")
    _published(conn, lake, CLEAN, "clean", 7)
    _alert(conn, "clean", "warning", NO_WEBHOOK)

    # A critical violation: the gate failed, nothing published, the alert went out.
    for entity in ("orders", "customers", "products"):
        _batch(conn, CRITICAL, entity)
    _run(conn, CRITICAL, "critical", "failed", "quality gate failed for run critical\n  - details")
    _built_and_gated(conn, CRITICAL, "critical", critical=["order_created_at_not_in_future"])
    _alert(conn, "critical", "error", None)

    # A quarantine-heavy reload: refused (held) while the earlier live batch stays live.
    for entity in ("orders", "customers", "products"):
        _batch(conn, HELD, entity)
    _batch(
        conn,
        HELD,
        "orders",
        status="held",
        quarantined=40,
        ended=30,
        violations=["quarantined 40.0 % > 20.0 %"],
    )
    _run(conn, HELD, "held", "failed", "load_orders failed")

    # Its own run failed; the next day's run carried it in and published it.
    for entity in ("orders", "customers", "products"):
        _batch(conn, CARRIED, entity)
    _run(conn, CARRIED, "carried_own", "failed", "generator unreachable")
    _built_and_gated(conn, CARRIED, "carried_by_next")
    _published(conn, lake, CARRIED, "carried_by_next", 9)


def _verdicts(settings: Settings, day: date) -> dict[str, tuple[Verdict, str]]:
    return {layer.name: (layer.verdict, layer.line) for layer in day_health(settings, day).layers()}


def test_a_clean_day_is_complete_and_correct(health_settings: Settings) -> None:
    layers = _verdicts(health_settings, CLEAN)
    assert {name: verdict for name, (verdict, _) in layers.items()} == dict.fromkeys(
        ("run", "raw", "freshness", "dbt", "quality", "published", "alerts"), Verdict.OK
    )
    assert (
        "orders 100 received, 97 loaded, 3 quarantined, 0 duplicates (negative_value:amount 3)"
        in layers["raw"][1]
    )
    assert (
        layers["published"][1].startswith("snapshot 7 at ") and "fct_orders 1,234" in layers["published"][1]
    )
    assert "recorded, not sent (no webhook)" in layers["alerts"][1]
    assert day_health(health_settings, CLEAN).complete_and_correct


def test_a_critical_violation_fails_quality_and_publication(health_settings: Settings) -> None:
    health = day_health(health_settings, CRITICAL)
    layers = {layer.name: layer for layer in health.layers()}
    assert not health.complete_and_correct
    assert (
        layers["run"].verdict is Verdict.FAIL and "quality gate failed for run critical" in layers["run"].line
    )
    assert "details" not in layers["run"].line  # one line
    assert layers["quality"].verdict is Verdict.FAIL
    assert layers["quality"].line == "1 critical failure(s): staging.orders: order_created_at_not_in_future"
    assert layers["published"].verdict is Verdict.FAIL
    assert layers["raw"].verdict is Verdict.OK and layers["dbt"].verdict is Verdict.OK
    assert layers["alerts"].line == "1: run_error (error)"


def test_a_refused_quarantine_heavy_batch_fails_raw(health_settings: Settings) -> None:
    layers = _verdicts(health_settings, HELD)
    verdict, line = layers["raw"]
    assert verdict is Verdict.FAIL
    assert "a newer batch was held: quarantined 40.0 % > 20.0 %" in line
    assert layers["quality"][0] is Verdict.FAIL and layers["published"][0] is Verdict.FAIL


def test_a_day_published_by_a_later_run_is_complete_with_a_warning(health_settings: Settings) -> None:
    health = day_health(health_settings, CARRIED)
    layers = {layer.name: layer for layer in health.layers()}
    assert health.complete_and_correct
    assert layers["run"].verdict is Verdict.WARN
    assert layers["run"].line.endswith("published since by carried_by_next")
    assert layers["quality"].verdict is Verdict.OK  # the gate of the run that published it


def test_a_day_nothing_ran_for(health_settings: Settings) -> None:
    health = day_health(health_settings, NOTHING)
    layers = {layer.name: layer for layer in health.layers()}
    assert not health.complete_and_correct
    assert layers["run"].line == "no run of the daily DAG for this day"
    assert layers["raw"].line == "orders: no batch; customers: no batch; products: no batch"


def _status(settings: Settings, day: date) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRP_POSTGRES_DB"} | {
        "DRP_POSTGRES_DB": settings.postgres_db
    }
    return subprocess.run(
        [DRP, "status", "--data", "--date", day.isoformat()],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def test_drp_status_data_exits_by_the_verdict(health_settings: Settings) -> None:
    clean = _status(health_settings, CLEAN)
    assert clean.returncode == 0, clean.stderr
    lines = clean.stdout.splitlines()
    assert lines[0] == f"{CLEAN.isoformat()}: complete and correct"
    assert [line.split()[:2] for line in lines[1:]] == [
        [name, "OK"] for name in ("run", "raw", "freshness", "dbt", "quality", "published", "alerts")
    ]

    critical = _status(health_settings, CRITICAL)
    assert critical.returncode == 1 and critical.stderr == ""
    assert critical.stdout.splitlines()[0] == f"{CRITICAL.isoformat()}: NOT complete and correct"
    assert "  quality    FAIL  1 critical failure(s)" in critical.stdout


def test_an_unreachable_database_is_one_clear_line(health_settings: Settings) -> None:
    missing = health_settings.model_copy(update={"postgres_db": f"{health_settings.postgres_db}_missing"})
    result = _status(missing, CLEAN)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"error: cannot read the ops tables of database '{missing.postgres_db}': ")
    assert line.endswith(f'database "{missing.postgres_db}" does not exist')
