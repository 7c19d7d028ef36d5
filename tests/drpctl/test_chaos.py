"""The chaos campaign: fault profiles drawn by seed, each invariant check on planted observations,
and a short campaign through the real scheduler (run it under `flock /tmp/work/scheduler.lock`
on a shared machine).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import pytest

from drp.ingest.loader import load_interval
from drp.settings import Settings, load_settings
from drp_generator.faults import parse_faults
from drpctl.chaos.campaign import Campaign, RunRecord, default_first_day
from drpctl.chaos.heal import heal_days
from drpctl.chaos.inject import _dbt_processes, _task_processes
from drpctl.chaos.invariants import (
    BatchObservation,
    FailedRun,
    GateScope,
    MartSlice,
    Publication,
    PublishedBatch,
    TaskAuditRow,
    Violation,
    check_batches,
    check_failures_explained,
    check_gates,
    check_marts,
    check_published_batches_gated,
)
from drpctl.chaos.observe import Truth, batch_rows, observe_batch
from drpctl.chaos.profile import DATA_FAULTS, HTTP_FAULTS, KILL_TARGETS, draw_campaign
from drpctl.stack.native import stack_processes
from tests.drp.transform.dbt_helpers import isolated_database

FIRST = date(2024, 2, 1)


# --- fault profiles ------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_same_seed_draws_the_same_campaign_and_another_seed_another() -> None:
    one, again = draw_campaign(7, 40, FIRST), draw_campaign(7, 40, FIRST)
    assert [p.as_dict() for p in one] == [p.as_dict() for p in again]
    other = draw_campaign(8, 40, FIRST)
    assert [p.as_dict() for p in one] != [p.as_dict() for p in other]


@pytest.mark.unit
def test_a_campaign_starts_with_a_clean_baseline_day() -> None:
    # Something published to compare with a clean rebuild, whatever the drawn faults fail later.
    first, *rest = draw_campaign(1, 5, FIRST)
    assert (first.action, first.days, first.faults, first.kill, first.outage) == (
        "new_day",
        (FIRST,),
        {},
        None,
        None,
    )
    assert any(p.faults or p.kill or p.outage for p in rest)


@pytest.mark.unit
def test_a_campaign_moves_forward_reruns_and_backfills_only_days_it_ran() -> None:
    profiles = draw_campaign(1, 200, FIRST)
    done: list[date] = []
    for p in profiles:
        if p.action == "new_day":
            assert p.days == (FIRST + timedelta(days=len(done)),)
            done.append(p.days[0])
        elif p.action == "rerun":
            assert p.days[0] in done
        else:
            assert p.days[0] in done and p.days[1] in done and p.days[1] - p.days[0] == timedelta(days=1)
            assert p.faults == {}  # Airflow's backfill takes one conf: no data faults there
    kinds = {k for p in profiles for k in p.kinds()}
    # 200 runs exercise every kind of fault.
    expected = {f"fault:{n}" for n in (*DATA_FAULTS, *HTTP_FAULTS, "drift_from")}
    expected |= {f"kill:{t}" for t in KILL_TARGETS} | {"outage:seaweedfs", "outage:generator"}
    assert expected | {"rerun", "backfill"} <= kinds


@pytest.mark.unit
def test_every_drawn_fault_set_is_one_the_generator_accepts() -> None:
    for p in draw_campaign(3, 200, FIRST):
        config = parse_faults(",".join(f"{k}={v}" for k, v in p.faults.items()))
        for name in p.faults.keys() & set(DATA_FAULTS) | set(HTTP_FAULTS) & p.faults.keys():
            assert getattr(config, name) == pytest.approx(float(p.faults[name]))
        assert 3 <= p.kill_after <= 90 if p.kill else p.kill_after == 0


# --- invariants on planted observations ----------------------------------------------------------


def _batch(**changes: object) -> BatchObservation:
    base: dict[str, object] = {
        "batch_id": "b1",
        "entity": "orders",
        "window": "[2024-02-01, 2024-02-02)",
        "status": "succeeded",
        "received": 110,
        "loaded": 100,
        "quarantined": 7,
        "duplicates": 3,
        "raw_rows": 100,
        "rejected_rows": 7,
        "repeated_rows": 0,
        "served": 110,
    }
    return BatchObservation(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.unit
def test_records_check_passes_a_batch_that_accounts_for_every_served_record() -> None:
    assert check_batches([_batch()], append_only=False) == []


@pytest.mark.unit
def test_records_check_counts_rows_lost_from_raw_and_records_never_loaded() -> None:
    # The batch row claims 100 loaded but raw holds 60 (rows deleted), and 5 served records are nowhere.
    found = check_batches([_batch(raw_rows=60), _batch(batch_id="b2", served=115)], append_only=False)
    assert sum(v.lost for v in found) == 40 + 40 + 5  # b1: row/registry mismatch and served mismatch
    assert {v.subject.split()[4] for v in found} == {"b1", "b2"}


@pytest.mark.unit
def test_records_check_counts_a_record_twice_in_one_batch() -> None:
    found = check_batches(
        [_batch(raw_rows=102, loaded=102, repeated_rows=2, received=112, served=110)], append_only=False
    )
    assert sum(v.duplicated for v in found) == 2 + 2
    assert any("repeat a record" in v.message for v in found)


@pytest.mark.unit
def test_records_check_holds_raw_to_superseded_batches_only_when_raw_is_append_only() -> None:
    emptied = _batch(status="replaced", raw_rows=0, rejected_rows=0)
    assert check_batches([emptied], append_only=False) == []  # today's loader deletes them
    lost = check_batches([emptied], append_only=True)
    assert lost and sum(v.lost for v in lost) >= 107
    assert (
        check_batches([_batch(status="replaced", raw_rows=0, rejected_rows=0, purged=True)], append_only=True)
        == []
    )
    held = check_batches([_batch(status="held", raw_rows=0)], append_only=False)
    assert held and held[0].lost == 100


@pytest.mark.unit
def test_records_check_flags_a_failed_batch_that_left_rows() -> None:
    assert (
        check_batches([_batch(status="failed", raw_rows=0, rejected_rows=0, served=None)], append_only=False)
        == []
    )
    found = check_batches(
        [_batch(status="failed", raw_rows=5, rejected_rows=0, served=None)], append_only=False
    )
    assert len(found) == 1 and "failed batch left 5 raw" in found[0].message


@pytest.mark.unit
def test_gate_check_refuses_a_publication_without_a_passed_gate() -> None:
    assert check_gates([Publication("2024-02-01", "r1", suites=3, blocking=0)]) == []
    found = check_gates([Publication("2024-02-01", "r1", 3, 1), Publication("2024-02-02", "r2", 0, 0)])
    assert [v.subject for v in found] == ["2024-02-01", "2024-02-02"]
    assert "1 suites blocked" in found[0].message and "without a gate result" in found[1].message


@pytest.mark.unit
def test_a_published_batch_no_passing_gate_judged_is_a_gate_violation() -> None:
    def at(day: int, hour: int = 0) -> datetime:
        return datetime(2024, 2, day, hour, tzinfo=UTC)

    day1 = PublishedBatch("b1", at(1), at(2), loaded_at=at(2, 1))
    day2 = PublishedBatch("b2", at(2), at(3), loaded_at=at(3, 1))  # its own gate failed
    own_gates = [GateScope("r1", at(2, 2), at(1), at(2)), GateScope("r3", at(4, 2), at(3), at(4))]
    # Day 3's publication carries day 2 in; a gate of day 3's own interval never judged it.
    found = check_published_batches_gated("r3", [day1, day2], own_gates)
    assert [(v.invariant, v.subject) for v in found] == [("gates", "2024-02-02")]
    assert "b2" in found[0].message and "run r3" in found[0].message
    # A gate over everything day 3's build wrote judged it.
    whole = [own_gates[0], GateScope("r3", at(4, 2), at(2), at(4))]
    assert check_published_batches_gated("r3", [day1, day2], whole) == []
    # A gate that passed before the batch was loaded (an earlier run of the day) did not see it.
    reloaded = PublishedBatch("b1b", at(1), at(2), loaded_at=at(5))
    assert [v.subject for v in check_published_batches_gated("r3", [reloaded], whole)] == ["2024-02-01"]


@pytest.mark.unit
def test_mart_check_finds_a_slice_that_differs_from_the_clean_rebuild() -> None:
    published = [
        MartSlice("fct_orders", "2024-02-01", 10, "123"),
        MartSlice("fct_orders", "2024-02-02", 9, "5"),
    ]
    assert check_marts(published, list(published)) == []
    rebuilt = [MartSlice("fct_orders", "2024-02-01", 11, "124")]
    found = check_marts(published, rebuilt)
    assert [v.subject for v in found] == ["fct_orders 2024-02-01", "fct_orders 2024-02-02"]
    assert "clean rebuild 11 rows" in found[0].message and "no such slice" in found[1].message


@pytest.mark.unit
def test_failure_check_wants_the_run_row_and_every_failed_task_named_and_explained() -> None:
    explained = FailedRun(
        "r1",
        ["load_orders"],
        True,
        ["load_orders"],
        {"load_orders": TaskAuditRow("load_orders", "failed", "boom")},
    )
    assert check_failures_explained([explained]) == []
    unexplained = [
        FailedRun(
            "r2", ["load_orders"], False, [], {"load_orders": TaskAuditRow("load_orders", "failed", "boom")}
        ),
        FailedRun("r3", ["publish"], True, [], {"publish": TaskAuditRow("publish", "failed", "x")}),
        FailedRun("r4", ["publish"], True, ["publish"], {}),
        FailedRun(
            "r5", ["publish"], True, ["publish"], {"publish": TaskAuditRow("publish", "running", None)}
        ),
        FailedRun("r6", [], True, [], {}),
    ]
    found = check_failures_explained(unexplained)
    assert [v.subject for v in found] == ["r2", "r3", "r4", "r5", "r6"]
    assert "no failed run row" in found[0].message
    assert "does not name publish" in found[1].message
    assert "publish: no audit row" in found[2].message
    assert "without an error message" in found[3].message
    assert "names no failed task" in found[4].message


# --- a short campaign on the real stack ----------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.outages
@pytest.mark.timeout(3600)
def test_a_short_campaign_holds_every_invariant(tmp_path: Path) -> None:
    """Three runs (seed 1: a clean baseline day, then an object-store outage with HTTP 500s and
    invalid records, then late records with 429s and truncated pages), a clean rebuild at the end.

    On quiet days (`make chaos`'s default): the database outlives a suite, and a campaign over
    days raw already holds, or near them, cannot be compared with a clean rebuild (docs/chaos.md)."""
    first = default_first_day(load_settings(), runs=3)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "drpctl.chaos", "--runs", "3", "--seed", "1", "--first-day",
             first.isoformat(), "--out", str(tmp_path), "--run-timeout", "900"],
            capture_output=True, text=True, timeout=3500, check=False,
        )  # fmt: skip
    finally:
        # The campaign heals its days when it ends; a campaign that crashed did not, and its
        # faulted batches would stop every later test's line. Three runs touch at most three days.
        heal_days(load_settings(), [first + timedelta(days=i) for i in range(3)])
    out = result.stdout + result.stderr
    reports = list(tmp_path.glob("report-*.json"))
    assert len(reports) == 1, out[-4000:]
    report = json.loads(reports[0].read_text())
    assert report["runs"] == 3 and len(report["run_records"]) == 3
    assert report["records_lost"] == 0 and report["records_duplicated"] == 0, report["violations"]
    assert report["failures_explained"] == report["airflow_runs_failed"], report["violations"]
    assert report["mart_checks"] and report["mart_checks"][-1]["after_run"] == 3
    assert report["mart_checks"][-1]["slices"] > 0
    assert report["outcomes"].get("error", 0) == 0, [r["error"] for r in report["run_records"]]
    assert report["ok"] and result.returncode == 0, out[-4000:]
    assert "raw already holds orders batches" not in result.stderr
    assert "records lost" in result.stdout and "faults injected:" in result.stdout
    # It ended by loading its days again without faults.
    days = sorted({d for r in report["run_records"] for d in r["profile"]["days"]})
    assert report["healed_days"] == days and report["heal_refused"] == [], report["heal_refused"]


# --- the observations behind the records check, on a real load with planted damage -------------


@pytest.mark.integration
def test_records_check_on_a_real_batch_catches_deleted_and_repeated_rows(
    settings: Settings, tmp_path: Path
) -> None:
    """A real load (customers, one day, duplicated and invalid records) into a database of its own
    holds every served record; deleting raw rows or repeating one breaks the check."""
    faults = {"dupes": "0.02", "invalid": "0.02"}
    start = datetime(2024, 2, 1, tzinfo=UTC)
    with isolated_database(settings, tmp_path) as own:
        since = datetime.now(UTC)
        load_interval(own, "customers", start, start + timedelta(days=1), faults=faults)
        truth = Truth(own)
        try:

            def check() -> list[Violation]:
                rows = batch_rows(own, since)
                assert len(rows) == 1
                served = truth.served(
                    "customers", rows[0]["data_interval_start"], rows[0]["data_interval_end"], faults
                )
                assert served > 600
                return check_batches([observe_batch(rows[0], served)], append_only=False)

            assert check() == []
            with psycopg.connect(own.postgres_conninfo(), autocommit=True) as conn:
                conn.execute(
                    "delete from raw.customers_raw where id in (select id from raw.customers_raw limit 3)"
                )
                lost = check()
                assert sum(v.lost for v in lost) == 3 + 3 and sum(v.duplicated for v in lost) == 0
                conn.execute(
                    "insert into raw.customers_raw (source_customer_id, name, email, country, city, segment, "
                    "customer_created_at, updated_at, batch_id, source_system, data_interval_start, "
                    "data_interval_end, record_hash, raw_payload) select source_customer_id, name, email, country, "
                    "city, segment, customer_created_at, updated_at, batch_id, source_system, data_interval_start, "
                    "data_interval_end, record_hash, raw_payload from raw.customers_raw limit 4"
                )
                repeated = check()
                assert any("4 raw rows repeat a record" in v.message for v in repeated)
        finally:
            truth.close()


@pytest.mark.unit
def test_batches_are_attributed_to_a_campaign_run_by_window_not_only_by_time() -> None:
    """Other loads share the database: only the run's own days (with its faults) and a dimension's
    history days before them (no faults) are the run's batches."""
    profile = draw_campaign(1, 1, FIRST)[0]
    begun = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    campaign = Campaign(load_settings(check_secrets=False), seed=1, runs=1, first_day=FIRST)
    campaign.records.append(RunRecord(profile, begun, begun + timedelta(minutes=10)))
    day = datetime(2024, 2, 1, tzinfo=UTC)

    def row(entity: str, start: datetime, minutes: int = 1) -> dict[str, object]:
        return {
            "entity": entity,
            "data_interval_start": start,
            "data_interval_end": start + timedelta(days=1),
            "started_at": begun + timedelta(minutes=minutes),
        }

    assert campaign._faults_of(row("orders", day)) == profile.faults
    assert campaign._faults_of(row("customers", day - timedelta(days=3))) == {}
    assert campaign._faults_of(row("orders", datetime(1997, 6, 12, tzinfo=UTC))) is None
    assert campaign._faults_of(row("orders", day, minutes=30)) is None  # after the run ended


@pytest.mark.integration
def test_a_dbt_kill_picks_only_the_stacks_own_dbt(tmp_path: Path) -> None:
    """A `dbt build` outside the stack (another checkout's, a test's) matches the pattern but is
    not the stack's: the injector must never pick it."""
    settings = load_settings()
    assert stack_processes(settings), "the stack is not running (make up)"
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\nsleep 60\n")
    fake.chmod(0o755)
    outside = subprocess.Popen([str(fake), "build", "--select", "nothing"], start_new_session=True)
    try:
        cmdline = psutil.Process(outside.pid).cmdline()
        assert any(part.endswith("/dbt") for part in cmdline[:2]) and "build" in cmdline, cmdline
        assert outside.pid not in {p.pid for p in _dbt_processes(settings)}
        assert outside.pid not in {p.pid for p in _task_processes(settings)}
    finally:
        os.killpg(outside.pid, signal.SIGKILL)  # the shell and its sleep
        outside.wait()
