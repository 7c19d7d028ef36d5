"""Task bodies of the `orders_elt_daily` DAG, importable and testable without Airflow.

Each function takes the run's interval explicitly (never `now()`), does one step, and returns a
JSON-able dict with `records_processed` plus whatever the audit trail and the run summary need.
Heavy libraries are imported inside the functions so the DAG file parses fast.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drp.errors import PlatformError
from drp.intervals import to_utc
from drp.settings import Settings, get_settings
from drp.transform.dbt_runner import DbtError, parse_run_results, run_dbt
from drp_domain import DIMENSIONS

HISTORY_WORKERS = 4


def dbt_interval(
    start: datetime,
    end: datetime,
    loads: list[dict[str, Any]],
    *,
    high_water: datetime | None = None,
    stale: tuple[datetime, datetime] | None = None,
    first_build_from: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The interval dbt must (re)build: the run's, widened back to raw the warehouse has not seen.

    Incremental models only pick up raw rows of the interval they are given. Three kinds of raw
    would otherwise never reach the warehouse: history days loaded by this run (a dimension's
    first load); batches between the warehouse's high-water mark (the end of the latest
    interval it holds) and this run, e.g. dimension days loaded by a run for a later day into
    another warehouse, or a run for a later day after a gap; and intervals whose live batch
    changed after the head was built (`stale`, before or after the run's own interval: a rerun
    that loaded a new batch, then failed before publishing, so the head was restored to rows of
    the batch it superseded, or a day reloaded outside a run).

    A build from nothing (a new lake, or a full refresh) takes every raw row up to the end
    whatever the start: `first_build_from`, the earliest live raw interval, says so, so that the
    gate judges everything such a build will publish.
    """
    earliest = [to_utc(load["history_from"]) for load in loads if load.get("history_from")]
    if first_build_from is not None:
        earliest.append(to_utc(first_build_from))
    latest = [end]
    if high_water is not None and high_water < start:
        earliest.append(to_utc(high_water))
    if stale is not None:
        earliest.append(to_utc(stale[0]))
        latest.append(to_utc(stale[1]))
    return (min([start, *earliest]), max(latest))


# Staging tables that list what superseded batches held, on purpose: their rows are never stale.
SUPERSEDED_LISTS = ("superseded_orders",)


def warehouse_stale(settings: Settings) -> tuple[datetime, datetime] | None:
    """The span of the intervals whose rows at the warehouse's head come from a batch that is no
    longer live (None when the head holds live batches only, or nothing yet).

    `staging.superseded_orders` is left out: it holds rows of replaced batches by design, and
    counting them would widen every later build back to the oldest interval ever rerun.
    """
    import duckdb
    import psycopg

    from drp.ingest.registry import live_batch_ids
    from drp.warehouse import warehouse

    with psycopg.connect(settings.postgres_conninfo()) as conn:
        live = [str(batch_id) for batch_id in live_batch_ids(conn)]
    with warehouse(settings, read_only=True) as con:
        try:
            tables = [
                row[0]
                for row in con.execute(
                    "select table_name from duckdb_columns() where database_name = current_database() "
                    "and schema_name = 'staging' "
                    "and column_name in ('batch_id', 'batch_interval_start', 'batch_interval_end') "
                    "group by table_name having count(*) = 3 order by table_name"
                ).fetchall()
                if row[0] not in SUPERSEDED_LISTS
            ]
            if not tables:
                return None
            rows = " union all ".join(
                f"select batch_id, batch_interval_start, batch_interval_end from staging.{name}"
                for name in tables
            )
            row = con.execute(
                f"select min(batch_interval_start), max(batch_interval_end) from ({rows}) "
                "where not list_contains(?::varchar[], batch_id::varchar)",
                [live],
            ).fetchone()
        except duckdb.CatalogException:
            return None
    if not row or row[0] is None or row[1] is None:
        return None
    return (row[0], row[1])


def warehouse_high_water(settings: Settings) -> datetime | None:
    """The end of the latest raw interval the warehouse's head holds (None for a new one)."""
    import duckdb

    from drp.warehouse import warehouse

    with warehouse(settings, read_only=True) as con:
        try:
            row = con.execute("select max(batch_interval_end) from staging.customer_versions").fetchone()
        except duckdb.CatalogException:
            return None
    return row[0] if row and row[0] is not None else None


def ingest(
    entity: str,
    start: datetime,
    end: datetime,
    *,
    faults: dict[str, str] | None = None,
    settings: Settings | None = None,
    source_system: str | None = None,
) -> dict[str, Any]:
    """Extract one entity's window from the generator API into Postgres raw (exactly once).

    For a dimension, first load any day of its history (since `source_history_start`) that no
    live batch covers yet, so facts never reference customers or products the platform never saw.

    A batch past an ingestion threshold (`drp.ingest.thresholds`) fails the task without retries
    (`AirflowFailException`): a retry would fetch the same broken data. `warnings` lists what is
    worth an alert without failing (e.g. quarantined share above the warning share).

    Alerts (`drp.monitoring.alerts`): a rejected batch, naming its causes; schema drift and a
    quarantined share above the warning share of a load that stands.
    """
    from drp.ingest.errors import BatchRejectedError
    from drp.ingest.loader import DEFAULT_SOURCE, load_interval
    from drp.monitoring.alerts import alert_on_load, alert_on_rejected

    settings = settings or get_settings()
    source = source_system or DEFAULT_SOURCE
    try:
        history = (
            load_missing_history(settings, entity, before=start, source_system=source)
            if entity in DIMENSIONS
            else []
        )
        result = load_interval(settings, entity, start, end, faults=faults or None, source_system=source)
    except BatchRejectedError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        alert_on_rejected(settings, exc)
        raise AirflowFailException(str(exc)) from exc
    for loaded in (*history, result):  # drift and quarantine warnings: alerted, the load stands
        alert_on_load(settings, loaded)
    return {
        "history_from": min(r.start for r in history).isoformat() if history else None,
        "history_days_loaded": len(history),
        "history_records_loaded": sum(r.loaded for r in history),
        "records_processed": result.received,
        "entity": entity,
        "batch_id": str(result.batch_id),
        "received": result.received,
        "loaded": result.loaded,
        "quarantined": result.quarantined,
        "quarantined_by_reason": result.quarantined_by_reason,
        "duplicates": result.duplicates,
        "drift": result.drift,
        "archive_key": result.archive_key,
        "warnings": [*(w for r in history for w in r.warnings), *result.warnings],
    }


def missing_history_days(
    settings: Settings, entity: str, before: datetime, *, source_system: str | None = None
) -> list[datetime]:
    """Days in `[source_history_start, before)` that no live batch of `entity` overlaps."""
    import psycopg

    from drp.ingest import registry
    from drp.ingest.loader import DEFAULT_SOURCE

    first = datetime.combine(settings.source_history_start, datetime.min.time(), tzinfo=UTC)
    if before <= first:
        return []
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return registry.missing_days(conn, source_system or DEFAULT_SOURCE, entity, first, before)


def load_missing_history(
    settings: Settings, entity: str, before: datetime, *, source_system: str | None = None
) -> list[Any]:
    """Load each missing history day as its own batch (so any day can be reloaded later)."""
    from drp.ingest.loader import DEFAULT_SOURCE, load_interval

    source = source_system or DEFAULT_SOURCE
    days = missing_history_days(settings, entity, before, source_system=source)

    def load(day: datetime) -> Any:
        return load_interval(settings, entity, day, day + timedelta(days=1), source_system=source)

    with ThreadPoolExecutor(max_workers=HISTORY_WORKERS, thread_name_prefix=f"history-{entity}") as pool:
        return list(pool.map(load, days))


def prepare_warehouse(
    start: datetime | None = None,
    end: datetime | None = None,
    loads: list[dict[str, Any]] | None = None,
    settings: Settings | None = None,
    *,
    full_refresh: bool = False,
) -> dict[str, Any]:
    """Get the warehouse ready for this run's build, and decide the interval dbt builds.

    Installs the DuckDB extensions offline, then restores the warehouse's head to the newest
    published snapshot: writes of a run that failed or died before publishing are undone, so
    this run builds on exactly what consumers see (`drp.warehouse.restore_head`). The interval is the
    run's, widened back to raw the head has not seen (`dbt_interval`), and to all raw when the
    build starts from nothing (`full_refresh`, or nothing at the head).
    """
    import psycopg

    from drp.ingest.registry import earliest_live_start
    from drp.lake.extensions import ensure_extensions, extension_directory
    from drp.publish import registry
    from drp.warehouse import identity, restore_head

    settings = settings or get_settings()
    ext = ensure_extensions(extension_directory(settings))
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        published = registry.latest_lake_snapshot(conn, identity(settings))
    restored = restore_head(settings, published)
    result: dict[str, Any] = {
        "records_processed": 0,
        "extension_dir": str(ext),
        "published_lake_snapshot": published,
        "lake_head": restored.head_after,
        "tables_restored": restored.tables_restored,
        "tables_dropped": restored.tables_dropped,
    }
    if start is not None and end is not None:
        high_water = warehouse_high_water(settings)
        first_build_from = None
        if full_refresh or high_water is None:
            with psycopg.connect(settings.postgres_conninfo()) as conn:
                first_build_from = earliest_live_start(conn)
        dbt_start, dbt_end = dbt_interval(
            start,
            end,
            loads or [],
            high_water=high_water,
            stale=warehouse_stale(settings),
            first_build_from=first_build_from,
        )
        result |= {"dbt_interval_start": dbt_start.isoformat(), "dbt_interval_end": dbt_end.isoformat()}
    return result


def transform(
    start: datetime, end: datetime, *, full_refresh: bool = False, settings: Settings | None = None
) -> dict[str, Any]:
    """dbt build for the interval (used where Cosmos is not: the CLI and tests)."""
    result = run_dbt(
        settings or get_settings(),
        "build",
        data_interval_start=start,
        data_interval_end=end,
        full_refresh=full_refresh,
    )
    if not result.success:
        raise DbtError(f"dbt build failed: {', '.join(n.name for n in result.nodes if n.failed)}")
    return dbt_summary(result.nodes)


def dbt_summary(nodes: list[Any]) -> dict[str, Any]:
    models = [n for n in nodes if n.resource_type in {"model", "snapshot"}]
    tests = [n for n in nodes if n.resource_type in {"test", "unit_test"}]
    return {
        "records_processed": sum(n.rows_affected or 0 for n in models),
        "models_built": len([n for n in models if n.status == "success"]),
        "tests_passed": len([n for n in tests if n.status == "pass"]),
        "tests_warned": len([n for n in tests if n.status == "warn"]),
        "tests_failed": len([n for n in tests if n.status in {"fail", "error"}]),
    }


DBT_SUMMARY_XCOM_KEY = "drp_dbt_summary"


class DbtBuildMissingError(PlatformError):
    """The run's dbt build did not run in this try of the run (nothing to validate or publish)."""


def push_dbt_summary(project_dir: str, **_: Any) -> None:
    """Cosmos producer callback: summarize dbt's run results before Cosmos deletes its temporary
    project copy, and keep the summary as the producer's XCom (cleared with the run)."""
    # Lazy: the task bodies import without Airflow (the CLI and tests call them directly).
    from airflow.sdk import get_current_context

    nodes = parse_run_results(Path(project_dir) / "target" / "run_results.json")
    # The task's own context: Cosmos hands callbacks a context it keeps between executions.
    get_current_context()["ti"].xcom_push(key=DBT_SUMMARY_XCOM_KEY, value=dbt_summary(nodes))


def dbt_run_results(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The dbt build's summary the producer left for this try of the run, or a clear error."""
    if not summary:
        raise DbtBuildMissingError(
            "the dbt build did not run in this try of the run (its producer task was skipped or "
            "its summary is missing). Clear `transform.dbt_producer_watcher` (it rebuilds from the "
            "published head) or trigger a new run for the day (`make run DATE=YYYY-MM-DD`)."
        )
    return summary


class BuildIntervalMissingError(PlatformError):
    """`prepare_warehouse` left no dbt interval: the gate cannot tell what the build wrote."""


def build_interval(prepared: dict[str, Any] | None) -> tuple[datetime, datetime]:
    """The interval the run's dbt build was given, from `prepare_warehouse`'s result."""
    if not prepared or "dbt_interval_start" not in prepared or "dbt_interval_end" not in prepared:
        raise BuildIntervalMissingError(
            "prepare_warehouse left no dbt interval in this try of the run: the gate cannot tell "
            "what the build wrote. Clear the run from `prepare_warehouse` on."
        )
    return (
        to_utc(datetime.fromisoformat(prepared["dbt_interval_start"])),
        to_utc(datetime.fromisoformat(prepared["dbt_interval_end"])),
    )


def quality_gate(
    run_id: str,
    start: datetime,
    end: datetime,
    *,
    built: tuple[datetime, datetime] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The blocking gate: Great Expectations on the build's lake snapshot, then reconciliation of
    that snapshot with raw's live batches. Raises on a critical failure or a disagreement
    (alerted), alerts on warnings.

    Both cover everything the build wrote (`built`, dbt's interval; default the run's): the
    publication that follows carries it all, including a day the build carried in because its
    own run failed, so such a day is judged here again and blocks until it is fixed.
    """
    import psycopg

    from drp.ingest.loader import DEFAULT_SOURCE
    from drp.ingest.registry import live_overlapping
    from drp.monitoring.alerts import send_alert
    from drp.quality.gate import run_quality_gate
    from drp.quality.reconcile import check_run

    settings = settings or get_settings()
    scope_start, scope_end = built or (start, end)
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        orders = live_overlapping(conn, DEFAULT_SOURCE, "orders", scope_start, scope_end)
    report = run_quality_gate(
        settings,
        run_id=run_id,
        data_interval_start=start,
        data_interval_end=end,
        scope_start=scope_start,
        scope_end=scope_end,
        orders_batches=[(batch.start, batch.end) for batch in orders],
    )
    summary = report.as_dict()
    if report.lake_snapshot_id is not None:
        summary["reconciliation"] = check_run(
            settings,
            run_id,
            min(to_utc(scope_start), to_utc(start)),
            max(to_utc(scope_end), to_utc(end)),
            lake_snapshot_id=report.lake_snapshot_id,
        )
    warnings = summary["warning_failures"]
    if warnings:
        send_alert(
            settings,
            f"drp: quality warnings in run {run_id}",
            [str(w.get("message", w)) for w in warnings][:20],
            level="warning",
        )
    summary["records_processed"] = sum(s["rows"] for s in summary["suites"])
    return summary


def publish(
    run_id: str,
    start: datetime,
    lake_snapshot_id: int,
    *,
    details: dict[str, Any] | None = None,
    settings: Settings | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """Publish the lake snapshot the gate validated as the interval's day (`drp.publish`), then
    verify that the day's publication reconciles with raw's live batches of `[start, end)`
    (default: the day), raising (alerted) if it does not."""
    from drp.publish.snapshots import publish_snapshot
    from drp.quality.reconcile import check_run

    settings = settings or get_settings()
    result = publish_snapshot(
        settings,
        start.date(),
        run_id=run_id,
        lake_snapshot_id=lake_snapshot_id,
        details=details,
    )
    reconciliation = check_run(
        settings,
        run_id,
        start,
        end or start + timedelta(days=1),
        lake_snapshot_id=result.lake_snapshot_id,
        published=True,
    )
    return {
        "records_processed": sum(result.rows.values()),
        "snapshot_date": result.snapshot_date,
        "lake_snapshot_id": result.lake_snapshot_id,
        "rows": result.rows,
        "marts": result.marts,
        "reconciliation": reconciliation,
    }


def source_freshness(start: datetime, end: datetime, *, settings: Settings | None = None) -> dict[str, Any]:
    """The sources' freshness for the interval (`drp.monitoring.freshness`).

    Warnings are alerted and the run goes on; a source past its `error_after` is alerted and
    raises `SourceStaleError`, so the run does not publish.
    """
    from drp.monitoring.freshness import check_source_freshness

    sources = check_source_freshness(settings or get_settings(), start, end)
    return {
        "records_processed": 0,
        "sources": {s.source: s.status for s in sources},
        "max_loaded_at": {s.source: s.max_loaded_at for s in sources},
    }
