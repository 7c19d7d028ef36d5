"""The chaos campaign: N daily runs through the real scheduler, each under a drawn fault profile,
with the invariants checked after every run (the clean-rebuild comparison every K runs and at
the end), a table on stdout and a JSON report.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg

from drp.pools import WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION, WAREHOUSE_POOL_SLOTS
from drp.settings import Settings
from drp_domain import DIMENSIONS
from drpctl.chaos import invariants, observe
from drpctl.chaos.inject import Injection, Injector, ensure_running
from drpctl.chaos.invariants import Violation
from drpctl.chaos.profile import FaultProfile, draw_campaign
from drpctl.driver.airflow_api import AirflowApiError, AirflowClient
from drpctl.driver.run import DAG_ID, PipelineRunError, watch_run

Echo = Callable[[str], None]
AUDIT_WAIT: Final = 90.0  # seconds a failed run's audit rows may take to appear (callbacks run late)


@dataclass
class RunRecord:
    """One campaign run: its profile, its Airflow runs and how they ended, what the checks found."""

    profile: FaultProfile
    started_at: datetime
    ended_at: datetime | None = None
    run_ids: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    failed_tasks: dict[str, list[str]] = field(default_factory=dict)
    injections: list[Injection] = field(default_factory=list)
    error: str = ""
    violations: list[Violation] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.error or not self.states:
            return "error"
        return "succeeded" if all(s == "success" for s in self.states.values()) else "failed"

    def covers(self, moment: datetime) -> bool:
        return self.started_at <= moment <= (self.ended_at or datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.as_dict(),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "outcome": self.outcome,
            "runs": [
                {"run_id": r, "state": self.states.get(r), "failed_tasks": self.failed_tasks.get(r, [])}
                for r in self.run_ids
            ],
            "injections": [i.as_dict() for i in self.injections],
            "error": self.error,
            "violations": [v.as_dict() for v in self.violations],
        }


@dataclass
class Campaign:
    settings: Settings
    seed: int
    runs: int
    first_day: date
    rebuild_every: int = 10
    run_timeout: float = 1200
    echo: Echo = print
    records: list[RunRecord] = field(default_factory=list)
    violations: dict[tuple[str, str, str], Violation] = field(default_factory=dict)
    mart_checks: list[dict[str, Any]] = field(default_factory=list)
    append_only: bool = False
    report_path: Path | None = None  # rewritten after every run, so a cut-short campaign still reports
    stop_after: datetime | None = None  # no run starts after this moment (the last one still checks marts)

    # --- driving runs ------------------------------------------------------------------------

    def _trigger(self, client: AirflowClient, day: date, faults: dict[str, str]) -> str:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for old in client.runs_for_logical_date(DAG_ID, start):  # a day runs again as a new run
            client.delete_run(DAG_ID, old["dag_run_id"])
        run_id = f"chaos__{day.isoformat()}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
        client.trigger(
            DAG_ID, run_id=run_id, start=start, end=start + timedelta(days=1), conf={"faults": faults}
        )
        client.unpause(DAG_ID)
        return run_id

    def _backfill(self, client: AirflowClient, first: date, last: date) -> list[str]:
        lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
        hi = datetime(last.year, last.month, last.day, tzinfo=UTC)
        for old in client.runs_between(DAG_ID, lo, hi):
            client.delete_run(DAG_ID, old["dag_run_id"])
        client.create_backfill(DAG_ID, first=lo, last=hi)
        client.unpause(DAG_ID)
        deadline = time.monotonic() + 60
        expected = (last - first).days + 1
        while time.monotonic() < deadline:
            runs = [r for r in client.runs_between(DAG_ID, lo, hi) if r.get("run_type") == "backfill"]
            if len(runs) >= expected:
                return [r["dag_run_id"] for r in sorted(runs, key=lambda r: str(r["logical_date"]))]
            time.sleep(1)
        raise AirflowApiError(f"the backfill of {first}..{last} created no runs within 60s")

    def _execute(self, profile: FaultProfile) -> RunRecord:
        record = RunRecord(profile=profile, started_at=datetime.now(UTC))
        injector = Injector(self.settings, seed=f"{self.seed}:{profile.index}")
        client = AirflowClient(self.settings)
        try:
            client.wait_for_dag(DAG_ID)
            client.ensure_pool(WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS, WAREHOUSE_POOL_DESCRIPTION)
            if profile.action == "backfill":
                record.run_ids = self._backfill(client, profile.days[0], profile.days[-1])
            else:
                record.run_ids = [self._trigger(client, profile.days[0], profile.faults)]
            injector.start(
                kill=profile.kill,
                kill_after=profile.kill_after,
                outage=profile.outage,
                outage_after=profile.outage_after,
                outage_seconds=profile.outage_seconds,
            )
            for run_id, day in zip(record.run_ids, profile.days, strict=False):
                summary = watch_run(self.settings, client, run_id, day, echo=lambda _: None,
                                    timeout=self.run_timeout)  # fmt: skip
                record.states[run_id] = summary.state
                record.failed_tasks[run_id] = summary.failed
        except (PipelineRunError, AirflowApiError) as exc:  # timed out, or the API refused a call
            record.error = str(exc)
            for run_id in record.run_ids:  # free the DAG's one active-run slot for the next run
                if run_id not in record.states:
                    self._fail_stuck_run(client, run_id)
        finally:
            record.injections = injector.finish()
            client.close()
            record.ended_at = datetime.now(UTC)
        return record

    def _fail_stuck_run(self, client: AirflowClient, run_id: str) -> None:
        try:
            client.call("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
        except AirflowApiError as exc:
            self.echo(f"  could not mark stuck run {run_id} failed: {exc}")

    # --- checking ------------------------------------------------------------------------------

    def _faults_of(self, row: dict[str, Any]) -> dict[str, str] | None:
        """The faults a batch was loaded with (None: no campaign run loaded it).

        A run's loads of its own day send the run's faults; the dimension history a load fills in
        first (other days) is fetched without faults.
        """
        start, end = row["data_interval_start"], row["data_interval_end"]
        for record in self.records:
            if not record.covers(row["started_at"]):
                continue
            own = {datetime(d.year, d.month, d.day, tzinfo=UTC) for d in record.profile.days}
            if start in own and end - start == timedelta(days=1):
                return record.profile.faults
            # Any other batch started meanwhile is ours only as a dimension's history day: on a
            # shared database other loads (tests, replays) run too, and are not the campaign's.
            history = row["entity"] in DIMENSIONS and end - start == timedelta(days=1) and end <= min(own)
            return {} if history else None
        return None

    def _check_records(self, truth: observe.Truth) -> list[Violation]:
        batches = []
        for row in observe.batch_rows(self.settings, self.records[0].started_at):
            faults = self._faults_of(row)
            if faults is None or row["status"] == "running":
                continue
            served = None
            if row["status"] != "failed":
                served = truth.served(
                    row["entity"], row["data_interval_start"], row["data_interval_end"], faults
                )
            batches.append(observe.observe_batch(row, served))
        return invariants.check_batches(batches, append_only=self.append_only)

    def _check_failures(self, record: RunRecord) -> list[Violation]:
        failed = [r for r in record.run_ids if record.states.get(r) == "failed"]
        if not failed:
            return []
        deadline = time.monotonic() + AUDIT_WAIT
        while True:  # callbacks write the audit rows after Airflow reports the run's state
            observed = [
                observe.failed_run(self.settings, DAG_ID, r, record.failed_tasks.get(r, [])) for r in failed
            ]
            violations = invariants.check_failures_explained(observed)
            if not violations or time.monotonic() > deadline:
                return violations
            time.sleep(3)

    def _days(self) -> list[date]:
        return sorted({d for r in self.records for d in r.profile.days})

    def check_marts(self) -> list[Violation]:
        """The costly one: published marts against a clean full-refresh rebuild from raw."""
        started = time.monotonic()
        run_id, days, published = observe.published_slices(self.settings, self._days())
        rebuilt = observe.rebuilt_slices(self.settings, days) if days else []
        violations = invariants.check_marts(published, rebuilt)
        self.mart_checks.append(
            {
                "after_run": len(self.records),
                "publication_run": run_id,
                "days": [d.isoformat() for d in days],
                "slices": len(published),
                "mismatches": len(violations),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        return violations

    def _check(self, record: RunRecord, truth: observe.Truth, *, marts: bool) -> None:
        found = self._check_records(truth)
        found += invariants.check_gates(observe.published_with_gates(self.settings, self._days()))
        found += invariants.check_published_batches_gated(
            *observe.published_batches(self.settings, self._days())
        )
        found += self._check_failures(record)
        if marts:
            found += self.check_marts()
        for v in found:
            key = (v.invariant, v.subject, v.message)
            if key not in self.violations:
                self.violations[key] = v
                record.violations.append(v)

    # --- the campaign --------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = datetime.now(UTC)
        self.append_only = observe.append_only(self.settings)
        profiles = draw_campaign(self.seed, self.runs, self.first_day)
        states = ensure_running(self.settings)
        if any(s != "RUNNING" for s in states.values()):
            raise AirflowApiError(f"the stack is not fully running: {states}")
        truth = observe.Truth(self.settings)
        try:
            for profile in profiles:
                record = self._execute(profile)
                self.records.append(record)
                out_of_time = self.stop_after is not None and datetime.now(UTC) >= self.stop_after
                last = profile.index == len(profiles) - 1 or out_of_time
                every = self.rebuild_every > 0 and (profile.index + 1) % self.rebuild_every == 0
                self._check(record, truth, marts=last or every)
                self.echo(self._line(record))
                if self.report_path:
                    self.report_path.write_text(json.dumps(self.report(started), indent=2, default=str))
                if last:
                    break
        finally:
            truth.close()
        report = self.report(started)
        return report

    def _line(self, record: RunRecord) -> str:
        p = record.profile
        seconds = ((record.ended_at or record.started_at) - record.started_at).total_seconds()
        fired = [f"{i.kind}:{i.target}@{i.at:.0f}s" for i in record.injections if i.done]
        return (
            f"run {p.index + 1:>3}/{self.runs} {p.action:<8} {','.join(d.isoformat() for d in p.days):<21} "
            f"{record.outcome:<9} {seconds:6.0f}s  faults={','.join(sorted(p.faults)) or '-'}  "
            f"injected={','.join(fired) or '-'}"
            + (f"  VIOLATIONS={len(record.violations)}" if record.violations else "")
            + (f"  error={record.error[:120]}" if record.error else "")
        )

    def report(self, started: datetime) -> dict[str, Any]:
        outcomes = Counter(r.outcome for r in self.records)
        kinds: Counter[str] = Counter()
        for r in self.records:
            kinds.update(k for k in r.profile.kinds() if not k.startswith(("kill:", "outage:")))
            kinds.update(f"{i.kind}:{i.target}" for i in r.injections if i.done)
        failed_runs = sum(1 for r in self.records for s in r.states.values() if s == "failed")
        unexplained = sum(1 for v in self.violations.values() if v.invariant == "failures_explained")
        by_invariant = Counter(v.invariant for v in self.violations.values())
        return {
            "seed": self.seed,
            "runs": len(self.records),
            "runs_planned": self.runs,
            "first_day": self.first_day.isoformat(),
            "started_at": started.isoformat(),
            "ended_at": datetime.now(UTC).isoformat(),
            "append_only_raw": self.append_only,
            "outcomes": dict(outcomes),
            "airflow_runs_failed": failed_runs,
            "failures_explained": failed_runs - unexplained,
            "faults_injected": dict(sorted(kinds.items())),
            "records_lost": sum(v.lost for v in self.violations.values()),
            "records_duplicated": sum(v.duplicated for v in self.violations.values()),
            "violations_by_invariant": dict(by_invariant),
            "mart_checks": self.mart_checks,
            "violations": [v.as_dict() for v in self.violations.values()],
            "run_records": [r.as_dict() for r in self.records],
            "ok": not self.violations,
        }


def format_table(report: dict[str, Any]) -> str:
    """The campaign's summary table."""
    outcomes = report["outcomes"]
    rows = [
        ("runs", f"{report['runs']} (of {report['runs_planned']} planned)"),
        ("  succeeded", outcomes.get("succeeded", 0)),
        ("  failed", outcomes.get("failed", 0)),
        ("  error / timed out", outcomes.get("error", 0)),
        ("Airflow runs failed", report["airflow_runs_failed"]),
        ("failures explained", f"{report['failures_explained']} / {report['airflow_runs_failed']}"),
        ("records lost", report["records_lost"]),
        ("records duplicated", report["records_duplicated"]),
        ("gate violations", report["violations_by_invariant"].get("gates", 0)),
        (
            "mart checks (clean rebuild)",
            f"{len(report['mart_checks'])}, mismatches {sum(c['mismatches'] for c in report['mart_checks'])}",
        ),
    ]
    width = max(len(k) for k, _ in rows) + 2
    lines = [f"chaos campaign: seed {report['seed']}, first day {report['first_day']}", ""]
    lines += [f"{k:<{width}}{v}" for k, v in rows]
    lines += ["", "faults injected:"]
    lines += [f"  {k:<{width - 2}}{v}" for k, v in report["faults_injected"].items()]
    if "healed_days" in report:
        refused = report.get("heal_refused", [])
        lines += ["", f"healed days: {len(report['healed_days'])} (refused loads: {len(refused)})"]
        lines += [f"  {line}" for line in refused[:10]]
    lines += ["", "invariants: " + ("all held" if report["ok"] else "BROKEN")]
    for v in report["violations"][:30]:
        lines.append(f"  [{v['invariant']}] {v['subject']}: {v['message']}")
    return "\n".join(lines)


def report_path(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"report-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


# Days after a campaign's last day on which the source still changes its days' orders: an order's
# last status change comes up to 11 days after its day, a late record up to 3 days after that.
QUIET_DAYS: Final = 15
FIRST_CAMPAIGN_DAY: Final = date(2024, 3, 1)


def first_quiet_day(settings: Settings, start: date, runs: int) -> date:
    """The first day from `start` on such that no orders batch (any status) covers the campaign's
    days (at most `runs`) nor the `QUIET_DAYS` after them.

    The mart check compares the newest publication with a clean rebuild of raw up to the last
    published day. Raw the head was built from beyond that day, or raw of those days from before
    the campaign (an earlier campaign's, healed), holds later versions of the days' orders that
    such a rebuild does not see (docs/chaos.md): a campaign on quiet days starts clear of both.
    """
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        taken = conn.execute(
            # Days an interval touches: its end rounded up to the next midnight.
            "select (data_interval_start at time zone 'UTC')::date, "
            "((data_interval_end at time zone 'UTC') + interval '1 day' - interval '1 microsecond')::date "
            "from ops.ingest_batches where entity = 'orders' and data_interval_end > %s order by 1",
            [datetime(start.year, start.month, start.day, tzinfo=UTC)],
        ).fetchall()
    day = start
    for first, end in taken:
        if first >= day + timedelta(days=runs + QUIET_DAYS):
            break
        day = max(day, end)
    return day


def default_first_day(settings: Settings, runs: int) -> date:
    """The first quiet day from 2024-03-01 on: days long past, since the scheduler's own runs take
    the latest intervals and early days keep the dimension history a first run loads short."""
    return first_quiet_day(settings, FIRST_CAMPAIGN_DAY, runs)
