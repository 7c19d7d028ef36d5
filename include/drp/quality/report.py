"""What a quality gate run found: per-suite results, failures by severity, where the details are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from drp.quality.suites import Severity

MAX_EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed expectation (or a frame that could not be read).

    Attributes:
        suite: the suite, e.g. `staging.orders`.
        check: the check's stable name, e.g. `source_order_id_unique`.
        expectation: the GX expectation type.
        column: the column (first of a pair), if any.
        severity: critical blocks publication, warning does not.
        observed: GX's observed value, as text (None for column-map expectations).
        unexpected_count: how many values broke it (column-map expectations).
        examples: a few offending values or keys.
        error: set when the expectation could not be evaluated (it then counts as failed).
    """

    suite: str
    check: str
    expectation: str
    column: str | None
    severity: Severity
    observed: str | None = None
    unexpected_count: int | None = None
    examples: tuple[str, ...] = ()
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation

    def describe(self) -> str:
        """`suite: expectation_type(column) [check]: what was wrong`."""
        text = f"{self.suite}: {self.label} [{self.check}]"
        details = []
        if self.error:
            details.append(f"error: {self.error}")
        if self.unexpected_count is not None:
            details.append(f"{self.unexpected_count} unexpected")
        if self.observed is not None:
            details.append(f"observed {self.observed}")
        if self.examples:
            details.append("e.g. " + ", ".join(self.examples[:5]))
        return f"{text}: {'; '.join(details)}" if details else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.describe(),
            "suite": self.suite,
            "check": self.check,
            "expectation": self.expectation,
            "column": self.column,
            "severity": self.severity.value,
            "observed": self.observed,
            "unexpected_count": self.unexpected_count,
            "examples": list(self.examples),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """The outcome of one suite on its frame.

    Attributes:
        suite: suite name.
        success: every expectation passed.
        evaluated: expectations evaluated (1 when the frame could not be read: that failure).
        failed: expectations that failed.
        critical: critical expectations evaluated; `warning` likewise.
        critical_failures / warning_failures: the failed ones by severity.
        rows: rows in the validated frame.
        result_path: the GX validation result JSON (its s3:// URL in the object store), when written.
        result_url: the suite's Data Docs page for this run.
        elapsed_seconds: checkpoint wall time.
    """

    suite: str
    success: bool
    evaluated: int
    failed: int
    critical: int
    warning: int
    critical_failures: tuple[Failure, ...] = ()
    warning_failures: tuple[Failure, ...] = ()
    rows: int = 0
    result_path: str | None = None
    result_url: str | None = None
    elapsed_seconds: float = 0.0

    @property
    def blocking(self) -> bool:
        return bool(self.critical_failures)

    @property
    def failed_checks(self) -> list[str]:
        return [failure.check for failure in (*self.critical_failures, *self.warning_failures)]


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The whole gate run.

    Attributes:
        run_id: the pipeline run (Airflow `run_id`).
        data_interval_start / data_interval_end: the run's half-open interval.
        suites: one result per suite, in `suites.SUITES` order.
        validated_at: when validation started (GX's run time).
        data_docs_url: the Data Docs site's index (`s3://`), when this run's pages were built.
        elapsed_seconds: gate wall time (read, validate, docs, record).
        lake_snapshot_id: the lake catalog snapshot validated (None for a DuckDB file); publish
            publishes exactly this snapshot.
        scope_start / scope_end: what was validated: the run's interval, widened to everything
            the run's build wrote (None: the run's interval).
        carried_days: days outside the run's interval whose orders the build carried in.
    """

    run_id: str
    data_interval_start: datetime
    data_interval_end: datetime
    suites: tuple[SuiteResult, ...]
    validated_at: datetime
    data_docs_url: str | None = None
    elapsed_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    lake_snapshot_id: int | None = None
    scope_start: datetime | None = None
    scope_end: datetime | None = None
    carried_days: tuple[date, ...] = ()

    @property
    def scope(self) -> str:
        """The validated interval, and the carried days when the build wrote more than the run's."""
        start = self.scope_start or self.data_interval_start
        end = self.scope_end or self.data_interval_end
        text = f"[{start.isoformat()}, {end.isoformat()})"
        if self.carried_days:
            text += ", carrying in " + ", ".join(day.isoformat() for day in self.carried_days)
        return text

    @property
    def passed(self) -> bool:
        """No critical failure: the run may be published."""
        return not self.critical_failures

    @property
    def critical_failures(self) -> list[Failure]:
        return [failure for result in self.suites for failure in result.critical_failures]

    @property
    def warnings(self) -> list[Failure]:
        return [failure for result in self.suites for failure in result.warning_failures]

    def result(self, suite: str) -> SuiteResult:
        for result in self.suites:
            if result.suite == suite:
                return result
        raise KeyError(suite)

    def summary(self) -> str:
        """A few lines for logs and alerts."""
        state = "PASSED" if self.passed else "FAILED"
        lines = [
            f"quality gate {state} for run {self.run_id} "
            f"[{self.data_interval_start.isoformat()}, {self.data_interval_end.isoformat()}) "
            f"in {self.elapsed_seconds:.1f}s: {len(self.critical_failures)} critical, "
            f"{len(self.warnings)} warning failure(s)"
        ]
        if self.scope != f"[{self.data_interval_start.isoformat()}, {self.data_interval_end.isoformat()})":
            lines.append(f"  validated what the build wrote: {self.scope}")
        lines += [f"  CRITICAL {failure.describe()}" for failure in self.critical_failures]
        lines += [f"  WARNING  {failure.describe()}" for failure in self.warnings]
        if self.data_docs_url:
            lines.append(f"  Data Docs: {self.data_docs_url}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (an XCom for the alerting and publishing tasks); failures carry a `message`."""
        return {
            "run_id": self.run_id,
            "data_interval_start": self.data_interval_start.isoformat(),
            "data_interval_end": self.data_interval_end.isoformat(),
            "passed": self.passed,
            "scope_start": (self.scope_start or self.data_interval_start).isoformat(),
            "scope_end": (self.scope_end or self.data_interval_end).isoformat(),
            "carried_days": [day.isoformat() for day in self.carried_days],
            "lake_snapshot_id": self.lake_snapshot_id,
            "validated_at": self.validated_at.isoformat(),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "data_docs_url": self.data_docs_url,
            "suites": [
                {
                    "suite": result.suite,
                    "success": result.success,
                    "evaluated": result.evaluated,
                    "failed": result.failed,
                    "rows": result.rows,
                    "result_url": result.result_url,
                }
                for result in self.suites
            ],
            "critical_failures": [failure.as_dict() for failure in self.critical_failures],
            "warning_failures": [failure.as_dict() for failure in self.warnings],
        }
