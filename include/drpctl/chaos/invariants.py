"""The campaign's invariants as pure functions over observations (`observe` gathers them).

Each check returns the violations it found (empty when the invariant holds), so unit tests can
plant broken observations and see a check fail.

1. Records: every record the source served for a batch's window is in raw or in quarantine (or
   was dropped as an exact duplicate, which the batch row counts), none twice in one batch.
   Checked for live (`succeeded`) and `held` batches, and for `replaced` ones that raw keeps
   (append-only raw: rows of a superseded batch stay until a purge records itself). A `failed`
   batch must have left no rows.
2. Gates: every published day's run passed its quality gate, and every orders batch the newest
   publication holds was judged by a gate that passed: one recorded after the batch was loaded,
   whose validated interval covers the batch's (a day carried into a later day's build counts
   only if that later day's gate judged it).
3. Marts: published marts equal a clean rebuild from raw (`rebuild`), per mart and published day.
4. Failures explained: a failed run has its run row in `ops.pipeline_flow_audit` naming every
   task Airflow failed, and each failed task has its own audit row with an error message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final

# Batch statuses whose rows raw must hold. `replaced` joins them when raw is append-only.
KEPT_STATUSES: Final = frozenset({"succeeded", "held"})


@dataclass(frozen=True)
class Violation:
    invariant: str
    subject: str
    message: str
    lost: int = 0
    duplicated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BatchObservation:
    """One batch: its registry row, what raw holds for it, and what the source says it served."""

    batch_id: str
    entity: str
    window: str
    status: str
    received: int
    loaded: int
    quarantined: int
    duplicates: int
    raw_rows: int
    rejected_rows: int
    repeated_rows: int  # raw rows of the batch beyond the first with the same record hash
    served: int | None  # the generator's ground truth; None when not asked (a failed batch)
    purged: bool = False


def check_batches(batches: list[BatchObservation], *, append_only: bool) -> list[Violation]:
    """Invariant 1 over the given batches."""
    kept = KEPT_STATUSES | ({"replaced"} if append_only else set())
    violations: list[Violation] = []
    for b in batches:
        subject = f"{b.entity} {b.window} batch {b.batch_id} ({b.status})"
        if b.status == "failed":
            if b.raw_rows or b.rejected_rows:
                violations.append(
                    Violation(
                        "records",
                        subject,
                        f"a failed batch left {b.raw_rows} raw and {b.rejected_rows} quarantined rows",
                        duplicated=b.raw_rows + b.rejected_rows,
                    )
                )
            continue
        if b.status not in kept or b.purged:
            continue
        if b.repeated_rows:
            violations.append(
                Violation(
                    "records",
                    subject,
                    f"{b.repeated_rows} raw rows repeat a record",
                    duplicated=b.repeated_rows,
                )
            )
        if b.raw_rows != b.loaded or b.rejected_rows != b.quarantined:
            violations.append(
                Violation(
                    "records",
                    subject,
                    f"the batch row says loaded {b.loaded} / quarantined {b.quarantined}, raw holds "
                    f"{b.raw_rows} / {b.rejected_rows}",
                    lost=max(0, b.loaded - b.raw_rows) + max(0, b.quarantined - b.rejected_rows),
                    duplicated=max(0, b.raw_rows - b.loaded) + max(0, b.rejected_rows - b.quarantined),
                )
            )
        if b.served is None:
            continue
        accounted = b.raw_rows + b.rejected_rows + b.duplicates
        if accounted != b.served:
            violations.append(
                Violation(
                    "records",
                    subject,
                    f"the source served {b.served} records; raw {b.raw_rows} + quarantine "
                    f"{b.rejected_rows} + dropped duplicates {b.duplicates} = {accounted}",
                    lost=max(0, b.served - accounted),
                    duplicated=max(0, accounted - b.served),
                )
            )
    return violations


@dataclass(frozen=True)
class Publication:
    """A published day and the gate results of the run that published it."""

    day: str
    run_id: str
    suites: int  # quality_results rows of the run for that day
    blocking: int  # of them, suites with a critical failure


def check_gates(publications: list[Publication]) -> list[Violation]:
    """Invariant 2: each published day's run ran the gate and no suite blocked."""
    violations = []
    for p in publications:
        if p.suites == 0:
            violations.append(Violation("gates", p.day, f"run {p.run_id} published without a gate result"))
        elif p.blocking:
            violations.append(
                Violation("gates", p.day, f"run {p.run_id} published although {p.blocking} suites blocked")
            )
    return violations


@dataclass(frozen=True)
class PublishedBatch:
    """An orders batch whose rows the newest publication holds."""

    batch_id: str
    start: datetime
    end: datetime
    loaded_at: datetime  # when the batch was committed


@dataclass(frozen=True)
class GateScope:
    """What a publication's gate validated: the interval, and when it was published."""

    run_id: str
    published_at: datetime
    start: datetime
    end: datetime


def check_published_batches_gated(
    newest_run: str, batches: list[PublishedBatch], scopes: list[GateScope]
) -> list[Violation]:
    """Invariant 2, by batch: every batch of the newest publication was judged by a passing gate."""
    violations = []
    for b in batches:
        judged = any(s.published_at >= b.loaded_at and s.start <= b.start and b.end <= s.end for s in scopes)
        if not judged:
            violations.append(
                Violation(
                    "gates",
                    f"{b.start:%Y-%m-%d}",
                    f"orders batch {b.batch_id} is published (run {newest_run}) but no gate that "
                    "passed after it was loaded covered its interval",
                )
            )
    return violations


@dataclass(frozen=True)
class MartSlice:
    """Row count and checksum of one mart's rows for one published day (lineage columns aside)."""

    model: str
    day: str
    rows: int
    checksum: str


def check_marts(published: list[MartSlice], rebuilt: list[MartSlice]) -> list[Violation]:
    """Invariant 3: every published slice equals the clean rebuild's slice of the same mart and day."""
    clean = {(s.model, s.day): s for s in rebuilt}
    violations = []
    for p in published:
        r = clean.get((p.model, p.day))
        if r is None:
            violations.append(Violation("marts", f"{p.model} {p.day}", "the clean rebuild has no such slice"))
        elif (r.rows, r.checksum) != (p.rows, p.checksum):
            violations.append(
                Violation(
                    "marts",
                    f"{p.model} {p.day}",
                    f"published {p.rows} rows (checksum {p.checksum}), clean rebuild {r.rows} rows "
                    f"(checksum {r.checksum})",
                )
            )
    return violations


@dataclass(frozen=True)
class TaskAuditRow:
    task_id: str
    status: str
    error_message: str | None


@dataclass(frozen=True)
class FailedRun:
    """A run Airflow failed: the tasks Airflow says failed, and what the audit table holds."""

    run_id: str
    failed_tasks: list[str]  # from Airflow's task instances
    run_row: bool  # a run-level audit row with status failed exists
    run_row_tasks: list[str] = field(default_factory=list)  # the failed tasks that row names
    task_rows: dict[str, TaskAuditRow] = field(default_factory=dict)  # last audit row per task


def check_failures_explained(runs: list[FailedRun]) -> list[Violation]:
    """Invariant 4: the audit table names and explains every failed task of every failed run."""
    violations = []
    for run in runs:
        problems = []
        if not run.run_row:
            problems.append("no failed run row in the audit table")
        if not run.failed_tasks:
            problems.append("Airflow names no failed task")
        unnamed = [t for t in run.failed_tasks if t not in run.run_row_tasks]
        if run.run_row and unnamed:
            problems.append(f"the run row does not name {', '.join(unnamed)}")
        for task in run.failed_tasks:
            row = run.task_rows.get(task)
            if row is None:
                problems.append(f"{task}: no audit row")
            elif row.status != "failed" or not (row.error_message or "").strip():
                problems.append(f"{task}: last audit row is {row.status!r} without an error message")
        if problems:
            violations.append(Violation("failures_explained", run.run_id, "; ".join(problems)))
    return violations
