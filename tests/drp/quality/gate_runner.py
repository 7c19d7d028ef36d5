"""How the quality tests run the gate: the sample interval, the runner's signature, injected faults."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from drp.lake.connection import LAKE, lake, sql_literal
from drp.quality.gate import run_quality_gate
from drp.quality.report import QualityReport
from drp.settings import Settings
from tests.drp.quality.sample_warehouse import SampleSpec

# Seven days of 200 orders a day from 2026-01-01; the gate runs on day 3, [2026-01-04, 2026-01-05).
SAMPLE = SampleSpec()
INTERVAL_DAY = 3
START, END = SAMPLE.day_interval(INTERVAL_DAY)

RunGate = Callable[..., QualityReport]


def gate_runner(default_settings: Settings, gx_root: Path) -> RunGate:
    """Run the gate on a warehouse for the sample's interval (Data Docs off unless asked).

    `path` is a DuckDB file laid out like the lake; None validates the lake of `settings`."""

    def run(
        path: Path | None,
        *,
        run_id: str | None = None,
        start: datetime = START,
        end: datetime = END,
        build_docs: bool = False,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> QualityReport:
        return run_quality_gate(
            settings or default_settings,
            run_id=run_id or f"test__{uuid.uuid4().hex[:12]}",
            data_interval_start=start,
            data_interval_end=end,
            duckdb_path=path,
            gx_root=gx_root,
            build_docs=build_docs,
            **kwargs,
        )

    return run


def corrupt(path: Path, *statements: str) -> None:
    """Apply SQL to a warehouse copy (the violation a test injects)."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("set TimeZone = 'UTC'")
        for statement in statements:
            conn.execute(statement)


def copy_into_lake(settings: Settings, path: Path) -> None:
    """Copy every table of a sample warehouse file into the (empty) lake of `settings`."""
    with lake(settings) as conn:
        conn.execute(f"attach {sql_literal(str(path))} as sample (read_only)")
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'sample' and table_type = 'BASE TABLE' order by all"
        ).fetchall()
        assert tables, f"no tables in {path}"
        for schema, table in tables:
            conn.execute(f"create schema if not exists {LAKE}.{schema}")
            conn.execute(f"create table {LAKE}.{schema}.{table} as select * from sample.{schema}.{table}")
        conn.execute("detach sample")
