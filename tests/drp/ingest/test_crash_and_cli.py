"""The CLI, and a load killed with -9 in the middle of its COPY."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import psycopg
import pytest
from typer.testing import CliRunner

from drp.ingest import load_interval
from drp.ingest.loader import application_name
from drp.ingest.registry import ABANDONED_MESSAGE
from drp.settings import Settings
from drp_domain import Entity
from drp_generator.truth import truth
from drpctl.ingest_cli import app
from tests.drp.ingest.source import Generator, day

pytestmark = pytest.mark.integration

RAW = ("raw.orders_raw", "raw.order_lines_raw", "raw.orders_rejected")


def _wait_for(what: str, check: Callable[[], object], timeout: float = 60.0, every: float = 0.01) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_during_copy_leaves_no_partial_batch_and_rerun_completes(
    settings: Settings, start_generator: Callable[..., Generator], source: str, pg: psycopg.Connection
) -> None:
    big = start_generator(seed=20040601, orders_per_day=40_000, epoch=date(2004, 6, 1))
    start, end = datetime(2004, 6, 2, tzinfo=UTC), datetime(2004, 6, 3, tzinfo=UTC)
    # `drp ingest`, the operator's command, in a process of its own (so it can be killed).
    cmd = [
        sys.executable, "-c", "from drpctl.cli import app; app()", "ingest", "--entity", "orders",
        "--start", "2004-06-02", "--end", "2004-06-03",
        "--api-url", big.url, "--source-system", source, "--page-size", "1000",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:

        def running() -> object:
            if proc.poll() is not None:  # died before registering: say why instead of timing out
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"drp ingest exited {proc.returncode}: {err}")
            row = pg.execute(
                "select batch_id from ops.ingest_batches where source_system = %s and status = 'running'",
                [source],
            ).fetchone()
            return row and row[0]

        batch_id = _wait_for("the running registry row", running)
        app_name = application_name("orders", batch_id)  # type: ignore[arg-type]

        def copying() -> object:
            row = pg.execute(
                "select pid from pg_stat_activity where application_name = %s and state = 'active' "
                "and query ilike 'copy%%'",
                [app_name],
            ).fetchone()
            return row and row[0]

        backend = _wait_for("a COPY in progress", copying)
        # Let a few pages land inside the transaction, then kill while a COPY is running.
        time.sleep(0.5)
        _wait_for("a COPY in progress (again)", copying)
        assert proc.poll() is None, "the load finished before it could be killed: use a bigger window"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    _wait_for(
        "the killed load's backend to end",
        lambda: (
            pg.execute("select count(*) from pg_stat_activity where pid = %s", [backend]).fetchone() == (0,)
        ),
    )
    for table in RAW:
        row = pg.execute(f"select count(*) from {table} where batch_id = %s", [batch_id]).fetchone()
        assert row == (0,), f"{table} shows rows of the killed batch"
    status = pg.execute("select status from ops.ingest_batches where batch_id = %s", [batch_id]).fetchone()
    assert status == ("running",)  # nobody could write 'failed': the next load reaps it

    spool = settings.state_dir / "ingest-spool"
    assert list(spool.glob(f"batch-{proc.pid}-*")), "the killed load's spool directory should be left behind"
    result = load_interval(settings, "orders", start, end, api_base_url=big.url, source_system=source)
    assert not list(spool.glob(f"batch-{proc.pid}-*")), "the next load removes a dead load's spool"
    expected = truth(big.config, Entity.ORDERS, start, end)
    assert result.received == result.loaded == expected.served > 10_000
    reaped = pg.execute(
        "select status, error_message from ops.ingest_batches where batch_id = %s", [batch_id]
    ).fetchone()
    assert reaped == ("failed", ABANDONED_MESSAGE)
    live = pg.execute(
        "select count(*) from ops.ingest_batches where source_system = %s and status = 'succeeded'", [source]
    ).fetchone()
    assert live == (1,)


def test_cli_loads_every_entity_with_one_line_each(generator: Generator, source: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--entity", "all", "--start", day(20).date().isoformat(), "--end", "2003-03-21T12:00:00Z",
            "--api-url", generator.url, "--source-system", source,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["customers", "products", "orders"]
    assert all(line.startswith("ok ") and "received=" in line and "batch=" in line for line in lines)


def test_cli_reports_failure_with_exit_code(source: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--entity", "products", "--start", "2003-04-01", "--end", "2003-04-02",
            "--api-url", "http://127.0.0.1:9", "--max-attempts", "1", "--source-system", source,
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "FAILED products [2003-04-01T00:00:00Z, 2003-04-02T00:00:00Z)" in result.stderr
    assert "no response" in result.stderr


def test_cli_rejects_bad_arguments() -> None:
    result = CliRunner().invoke(app, ["--entity", "invoices", "--start", "2003-01-01", "--end", "2003-01-02"])
    assert result.exit_code != 0
    result = CliRunner().invoke(app, ["--entity", "orders", "--start", "2003-01-02", "--end", "2003-01-01"])
    assert result.exit_code != 0


def test_cli_json_output(generator: Generator, source: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--entity", "products", "--start", "2003-03-23", "--end", "2003-03-24",
            "--api-url", generator.url, "--source-system", source, "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "succeeded" and doc["entity"] == "products"
    assert doc["received"] == doc["loaded"] + doc["quarantined"] + doc["duplicates"]
    assert doc["start"] == "2003-03-23T00:00:00+00:00" and len(doc["batch_id"]) == 36
