"""Write-audit-publish on the real lake, with the failures that matter: a dbt build killed with
SIGKILL, a publish killed with SIGKILL, a critical violation at the gate. None may change what
consumers see, and the next run must build on exactly what was published. Readers of published
data never wait on a run that is building. A day that failed its gate is not published with a
later day either: the later day's gate judges it again until it is fixed.

One story per module, in order: an isolated Postgres database and lake, a small generator of
its own (300 orders a day), days from EPOCH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from drp import tasks
from drp.lake.connection import lake
from drp.lake.rollback import unpublished_snapshots
from drp.publish.layout import MART_SCHEMA
from drp.publish.snapshots import export_published, mart_fingerprints, publication
from drp.quality.errors import QualityGateError
from drp.settings import PROJECT_ROOT, Settings, load_settings
from drp.storage.object_store import client
from drp.transform.dbt_runner import DBT_PROFILES_DIR, DBT_PROJECT_DIR, dbt_env, dbt_executable, interval_vars
from drp.transform.manifest import published_marts
from drp_domain import ENTITIES
from drp_generator.config import GeneratorConfig
from tests.drp.transform.dbt_helpers import isolated_database
from tests.drp_generator.served import serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

EPOCH = date(2026, 10, 1)
MARTS = published_marts()


def day(offset: int) -> datetime:
    return datetime(EPOCH.year, EPOCH.month, EPOCH.day, tzinfo=UTC) + timedelta(days=offset)


@dataclass
class Story:
    settings: Settings
    overrides: dict[str, Any]
    tmp: Path


@pytest.fixture(scope="module")
def story(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("wap")
    config = GeneratorConfig(
        seed=11, orders_per_day=300, epoch=EPOCH, api_key=base_settings.generator_api_key.get_secret_value()
    )
    with serve(config) as served, isolated_database(base_settings, tmp / "state") as isolated:
        host, port = served.url.removeprefix("http://").split(":")
        overrides = {
            "postgres_db": isolated.postgres_db,
            "lake_catalog_db": isolated.lake_catalog_db,
            "lake_data_prefix": isolated.lake_data_prefix,
            "state_dir": str(tmp / "state"),
            "generator_host": host,
            "generator_port": int(port),
            "generator_orders_per_day": 300,
            "source_history_start": EPOCH.isoformat(),
        }
        yield Story(load_settings(**overrides), overrides, tmp)


def load(story: Story, offset: int, faults: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        tasks.ingest(e.value, day(offset), day(offset + 1), faults=faults, settings=story.settings)
        for e in ENTITIES
    ]


def build(story: Story, offset: int, loads: list[dict[str, Any]]) -> dict[str, Any]:
    """prepare + dbt build for one day, as the DAG runs them; returns prepare's result."""
    prepared = tasks.prepare_warehouse(day(offset), day(offset + 1), loads, settings=story.settings)
    tasks.transform(
        datetime.fromisoformat(prepared["dbt_interval_start"]),
        datetime.fromisoformat(prepared["dbt_interval_end"]),
        settings=story.settings,
    )
    return prepared


def published_state(settings: Settings) -> tuple[Any, dict[str, Any], dict[str, list[tuple[str, int]]]]:
    """The current publication, the marts' fingerprints read at its snapshot, and its data files."""
    pub = publication(settings)
    with lake(settings, version=pub.lake_snapshot_id) as con:
        marts = mart_fingerprints(con, MARTS)
        files = {
            m: sorted(
                (str(f[0]), int(f[1]))
                for f in con.execute(
                    "select data_file, data_file_size_bytes from "
                    "ducklake_list_files('lake', ?, schema => ?, snapshot_version => ?)",
                    [m, MART_SCHEMA, pub.lake_snapshot_id],
                ).fetchall()
            )
            for m in MARTS
        }
    return pub, marts, files


def assert_files_intact(settings: Settings, files: dict[str, list[tuple[str, int]]]) -> None:
    """Every data file of the published snapshot is still in the object store, same size."""
    s3 = client(settings)
    for listed in files.values():
        for path, size in listed:
            bucket, key = path.removeprefix("s3://").split("/", 1)
            assert s3.stat_object(bucket, key).size == size, path


def start_dbt_build(story: Story, start: datetime, end: datetime) -> subprocess.Popen[bytes]:
    """`dbt build` as its own process group (what the Cosmos producer runs)."""
    args = [*dbt_executable(), "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir"]
    args += [str(DBT_PROFILES_DIR), "--target", "duckdb", "--target-path", str(story.tmp / "killed")]
    args += ["--vars", json.dumps(interval_vars(start, end))]
    return subprocess.Popen(
        args,
        env=dbt_env(story.settings),
        cwd=DBT_PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def head(settings: Settings) -> int:
    with lake(settings, read_only=True) as con:
        row = con.execute("select max(snapshot_id) from lake.snapshots()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_published_day(story: Story) -> None:
    loads = load(story, 1)
    prepared = build(story, 1, loads)
    assert prepared["published_lake_snapshot"] is None and prepared["tables_restored"] == []
    gate = tasks.quality_gate("wap__day1", day(1), day(2), settings=story.settings)
    result = tasks.publish("wap__day1", day(1), gate["lake_snapshot_id"], settings=story.settings)
    assert result["lake_snapshot_id"] == gate["lake_snapshot_id"]
    assert set(result["rows"]) == set(MARTS) and result["rows"]["fct_orders"] > 200


def test_sigkill_during_the_build_changes_nothing_published(story: Story) -> None:
    pub, marts, files = published_state(story.settings)
    loads = load(story, 2)
    prepared = tasks.prepare_warehouse(day(2), day(3), loads, settings=story.settings)
    start = head(story.settings)
    proc = start_dbt_build(story, datetime.fromisoformat(prepared["dbt_interval_start"]), day(3))
    try:
        deadline = time.monotonic() + 180
        while head(story.settings) < start + 3 and time.monotonic() < deadline:
            assert proc.poll() is None, "dbt finished before it could be killed mid-build"
            time.sleep(0.2)
        assert proc.poll() is None, "dbt finished before it could be killed mid-build"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # Consumers see the publication exactly as it was.
    assert published_state(story.settings) == (pub, marts, files)
    assert_files_intact(story.settings, files)
    with lake(story.settings, read_only=True) as con:
        assert unpublished_snapshots(con, pub.lake_snapshot_id)  # the killed build's writes

    # The next run starts from exactly what was published.
    again = tasks.prepare_warehouse(day(2), day(3), loads, settings=story.settings)
    assert again["tables_restored"] and again["published_lake_snapshot"] == pub.lake_snapshot_id
    with lake(story.settings, read_only=True) as con:
        assert mart_fingerprints(con, MARTS) == marts
        assert not unpublished_snapshots(con, pub.lake_snapshot_id)


KILLED_PUBLISH = """
import json, os, signal, sys
from datetime import datetime
from drp import tasks
from drp.publish import registry
from drp.settings import load_settings

record = registry.record
def record_then_die(*args, **kwargs):
    record(*args, **kwargs)  # inserted, not committed
    os.kill(os.getpid(), signal.SIGKILL)
registry.record = record_then_die
overrides, run_id, start, version = json.loads(sys.argv[1])
tasks.publish(run_id, datetime.fromisoformat(start), version, settings=load_settings(**overrides))
"""


def test_sigkill_during_publish_changes_nothing_published(story: Story) -> None:
    pub, marts, files = published_state(story.settings)
    build(story, 2, [])
    gate = tasks.quality_gate("wap__day2", day(2), day(3), settings=story.settings)
    argument = json.dumps([story.overrides, "wap__day2", day(2).isoformat(), gate["lake_snapshot_id"]])
    child = subprocess.run(
        [sys.executable, "-c", KILLED_PUBLISH, argument],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert published_state(story.settings) == (pub, marts, files)
    assert_files_intact(story.settings, files)

    # Retrying the task publishes the snapshot the gate validated.
    result = tasks.publish("wap__day2", day(2), gate["lake_snapshot_id"], settings=story.settings)
    assert (
        publication(story.settings).lake_snapshot_id == gate["lake_snapshot_id"] == result["lake_snapshot_id"]
    )


def test_export_of_an_older_day_is_what_was_published_that_day(story: Story) -> None:
    first = publication(story.settings, day(1).date())
    second = publication(story.settings, day(2).date())
    assert first.marts != second.marts  # day 2 changed the marts
    files = export_published(story.settings, day(1).date(), story.tmp / "exports")
    assert set(files) == set(MARTS)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for model, path in files.items():
            con.execute(f"create view {model} as from read_parquet('{path}', hive_partitioning = false)")
        con.execute(f"create schema {MART_SCHEMA}")
        for model in MARTS:
            con.execute(f"create view {MART_SCHEMA}.{model} as from main.{model}")
        assert mart_fingerprints(con, MARTS) == first.marts


def test_critical_violation_changes_nothing_published(story: Story) -> None:
    pub, marts, files = published_state(story.settings)
    loads = load(story, 3, faults={"fault_future": "0.05"})
    build(story, 3, loads)
    with pytest.raises(QualityGateError, match="order_created_at_not_in_future"):
        tasks.quality_gate("wap__day3", day(3), day(4), settings=story.settings)
    assert published_state(story.settings) == (pub, marts, files)
    assert_files_intact(story.settings, files)
    # The failed run's rows never reach a later publish: the next run drops them first.
    again = tasks.prepare_warehouse(day(4), day(5), [], settings=story.settings)
    assert again["tables_restored"]
    with lake(story.settings, read_only=True) as con:
        assert mart_fingerprints(con, MARTS) == marts


def test_readers_of_published_data_never_wait_on_a_build(story: Story) -> None:
    pub, marts, _files = published_state(story.settings)
    prepared = tasks.prepare_warehouse(day(4), day(5), [], settings=story.settings)
    start = head(story.settings)
    proc = start_dbt_build(story, datetime.fromisoformat(prepared["dbt_interval_start"]), day(5))
    reads: list[float] = []
    try:
        while proc.poll() is None:
            began = time.monotonic()
            with lake(story.settings, version=pub.lake_snapshot_id) as con:
                assert mart_fingerprints(con, MARTS) == marts
            reads.append(time.monotonic() - began)
    finally:
        proc.wait(timeout=300)
    assert proc.returncode is not None
    assert head(story.settings) > start  # the build committed while the reads ran
    assert len(reads) >= 3, reads
    assert max(reads) < 10, reads  # no read waited for the build


def gate(story: Story, run_id: str, offset: int, prepared: dict[str, Any]) -> dict[str, Any]:
    """The gate as the DAG runs it: over everything the run's build wrote."""
    built = tasks.build_interval(prepared)
    return tasks.quality_gate(run_id, day(offset), day(offset + 1), built=built, settings=story.settings)


def test_a_day_that_failed_its_gate_blocks_later_days_until_it_is_fixed(story: Story) -> None:
    pub, marts, files = published_state(story.settings)
    # Day 3 failed its gate above and keeps its live batch: day 4's build carries it in, and
    # publishing day 4 would publish it too.
    prepared = build(story, 4, load(story, 4))
    assert datetime.fromisoformat(prepared["dbt_interval_start"]) == day(3)
    with pytest.raises(QualityGateError, match="order_created_at_not_in_future") as raised:
        gate(story, "wap__day4", 4, prepared)
    assert f"carrying in {day(3).date().isoformat()}" in str(raised.value)
    assert published_state(story.settings) == (pub, marts, files)

    # Fixed at the source, day 3 runs again and publishes; then day 4 passes on its own.
    prepared = build(story, 3, load(story, 3))
    fixed = gate(story, "wap__day3_fixed", 3, prepared)
    assert fixed["carried_days"] == []
    tasks.publish("wap__day3_fixed", day(3), fixed["lake_snapshot_id"], settings=story.settings)
    prepared = build(story, 4, [])
    assert datetime.fromisoformat(prepared["dbt_interval_start"]) == day(4)
    passed = gate(story, "wap__day4_again", 4, prepared)
    result = tasks.publish("wap__day4_again", day(4), passed["lake_snapshot_id"], settings=story.settings)
    assert publication(story.settings).lake_snapshot_id == result["lake_snapshot_id"]
