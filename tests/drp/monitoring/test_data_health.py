"""A day's verdict per layer, read from the `ops` tables of a database of the module's own.

Each day (`tests.health_days`) is written as the pipeline's writers leave it (rows of
`ops.ingest_batches`, `raw.*_rejected`, `ops.pipeline_flow_audit`, `ops.quality_results`,
`ops.published_snapshots`, `ops.alerts`), and read back through `day_health` and `drp status --data`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from drp.monitoring.data_health import Verdict, day_health
from drp.settings import Settings
from tests.health_days import CARRIED, CLEAN, CRITICAL, HELD, NOTHING, RELOADED, WINDOW, health_database

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

DRP = str(Path(sys.executable).parent / "drp")


@pytest.fixture(scope="module")
def health_settings() -> Iterator[Settings]:
    with health_database() as settings:
        yield settings


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
    assert layers["run"].line.endswith("the day is published with carried_by_next")
    assert layers["quality"].verdict is Verdict.OK  # the gate of the run that published it
    # Publish records the run's own day only: the day is found in the gate's carried days.
    assert layers["published"].verdict is Verdict.OK
    assert "with a later day, which carried it in, carried_by_next" in layers["published"].line


def test_a_day_replayed_after_its_publication_warns(health_settings: Settings) -> None:
    health = day_health(health_settings, RELOADED)
    layers = {layer.name: layer for layer in health.layers()}
    assert health.complete_and_correct  # what consumers read was validated; raw moved on since
    assert layers["raw"].verdict is Verdict.WARN
    assert "reloaded after the publication (rerun the day to publish it)" in layers["raw"].line


def test_a_batch_over_several_days_is_each_days_batch(health_settings: Settings) -> None:
    for day in (WINDOW, WINDOW + timedelta(days=1), WINDOW + timedelta(days=2)):
        raw = {layer.name: layer for layer in day_health(health_settings, day).layers()}["raw"]
        assert raw.line.startswith("orders 100 received, 100 loaded"), (day, raw.line)
        assert "(a batch of 2025-01-16 00:00..2025-01-19 00:00)" in raw.line
    after = day_health(health_settings, WINDOW + timedelta(days=3))
    assert after.layers()[1].line.startswith("orders: no batch")


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
