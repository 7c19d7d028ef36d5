"""Persist a gate run's per-suite summary to `ops.quality_results` (migration 0100)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from drp.quality.errors import QualityError

if TYPE_CHECKING:
    from drp.quality.report import QualityReport
    from drp.settings import Settings

_INSERT = """
insert into ops.quality_results (
    run_id, suite, data_interval_start, data_interval_end, success, rows_validated,
    evaluated_count, failed_count, critical_count, warning_count,
    failed_expectations, critical_failed, warning_failed, failures,
    validated_at, elapsed_seconds, result_path, result_url, data_docs_url
) values (
    %s, %s, %s, %s, %s, %s,
    %s, %s, %s, %s,
    %s, %s, %s, %s::jsonb,
    %s, %s, %s, %s, %s
)
"""


def record_results(settings: Settings, report: QualityReport) -> None:
    """Replace the run's rows with one row per suite of `report`, in one transaction.

    Raises:
        QualityError: Postgres refused or could not be reached (the message names the run).
    """
    rows = []
    for result in report.suites:
        critical = [failure.check for failure in result.critical_failures]
        warnings = [failure.check for failure in result.warning_failures]
        failures = [failure.as_dict() for failure in (*result.critical_failures, *result.warning_failures)]
        rows.append(
            (
                report.run_id,
                result.suite,
                report.data_interval_start,
                report.data_interval_end,
                result.success,
                result.rows,
                result.evaluated,
                result.failed,
                result.critical,
                result.warning,
                critical + warnings,
                critical,
                warnings,
                json.dumps(failures, default=str),
                report.validated_at,
                result.elapsed_seconds,
                result.result_path,
                result.result_url,
                report.data_docs_url,
            )
        )
    try:
        with psycopg.connect(settings.postgres_conninfo(), connect_timeout=10) as conn, conn.transaction():
            conn.execute("delete from ops.quality_results where run_id = %s", (report.run_id,))
            with conn.cursor() as cur:
                cur.executemany(_INSERT, rows)
    except psycopg.Error as exc:
        raise QualityError(
            f"could not record quality results of run {report.run_id} in ops.quality_results: {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """A suite's recorded outcome in a run, as operators read it back."""

    suite: str
    critical_failed: list[str]
    warning_failed: list[str]
    result_url: str | None  # the suite's Data Docs page for the run
    data_docs_url: str | None


def run_outcomes(conn: psycopg.Connection[Any], run_id: str) -> list[SuiteOutcome]:
    """The run's recorded suites, by name (empty: the run was not validated)."""
    rows = conn.execute(
        """
        select suite, critical_failed, warning_failed, result_url, data_docs_url from ops.quality_results
        where run_id = %s order by suite
        """,
        (run_id,),
    ).fetchall()
    return [
        SuiteOutcome(suite, list(critical or []), list(warning or []), page, index)
        for suite, critical, warning, page, index in rows
    ]
