"""Errors of the quality gate. Both block publication: the gate raises instead of returning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drp.errors import PlatformError

if TYPE_CHECKING:
    from drp.quality.reconcile import ReconciliationReport
    from drp.quality.report import QualityReport


class QualityError(PlatformError):
    """Base class of the quality gate's errors."""


class QualityInputError(QualityError):
    """The gate could not run: no warehouse file, a locked file, a bad interval, no GX project."""


class QualityGateError(QualityError):
    """Critical expectations failed: nothing from this run may be published.

    The message lists every failed critical expectation as
    `suite: expectation_type(column) [check]` with what was observed; `report` holds the full
    report (warnings included), already recorded in `ops.quality_results`.
    """

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        self.run_id = report.run_id
        failures = report.critical_failures
        lines = [
            f"quality gate failed for run {report.run_id} "
            f"[{report.data_interval_start.isoformat()}, {report.data_interval_end.isoformat()}): "
            f"{len(failures)} critical expectation(s) failed"
        ]
        lines += [f"  - {failure.describe()}" for failure in failures]
        if report.carried_days:
            lines.append(
                f"  The gate validated everything the build wrote: {report.scope} (a carried day's own "
                "run failed or never ran; it is published with this run). A failure on a carried day "
                "blocks every later day until that day is fixed: `make run DATE=<day>` once the source "
                "is fixed, or `drp replay`."
            )
        if report.data_docs_url:
            lines.append(f"  Data Docs: {report.data_docs_url}")
        super().__init__("\n".join(lines))


class ReconciliationError(QualityError):
    """Raw's live batches, the warehouse or the published snapshot disagree: one line each."""

    def __init__(self, report: ReconciliationReport) -> None:
        self.report = report
        super().__init__(
            f"reconciliation of {report.interval} failed ({len(report.disagreements)} disagreement(s)):\n"
            + "\n".join(f"- {line}" for line in report.disagreements)
        )
