"""Reconciliation: raw's live batches, the warehouse and the published snapshot agree for an interval.

The gate's expectations judge the warehouse on its own; this check compares it with its source.
For the run's interval (the batches whose `data_interval_start` lies in it, as staging reads them):

1. raw (Postgres): per entity, the ids the interval's live (`succeeded`) batches loaded, with
   their newest `updated_at`, and the ids only the interval's superseded (`replaced`, `held`)
   batches hold, with their order dates for orders;
2. the warehouse, read-only at one lake snapshot: staging holds every live id (same set, count
   and fingerprint), never an older version, and no row of a batch that is not live;
   `fct_orders` equals `staging.orders` for those orders; `fct_order_lines` has lines only for
   orders staging holds; `daily_order_metrics` counts and sums what staging holds on their dates;
3. after publish: the day's publication names that snapshot, its marts still match the
   fingerprints recorded at publication, and the same checks pass at the published snapshot.

Every disagreement is one line; `ReconciliationError` carries them all. Nothing is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg

from drp.intervals import to_utc
from drp.quality.errors import QualityError, ReconciliationError
from drp.warehouse import open_warehouse

if TYPE_CHECKING:
    import duckdb

    from drp.settings import Settings

EXAMPLES: Final = 5


@dataclass(frozen=True, slots=True)
class _Entity:
    name: str
    raw_table: str
    raw_key: str
    staging: str
    staging_key: str


ENTITIES: Final = (
    _Entity("orders", "raw.orders_raw", "source_order_id", "staging.orders", "source_order_id"),
    _Entity(
        "customers", "raw.customers_raw", "source_customer_id", "staging.customers", "source_customer_id"
    ),
    _Entity("products", "raw.products_raw", "source_product_id", "staging.products", "source_product_id"),
)


@dataclass(frozen=True)
class ReconciliationReport:
    """What was compared and what disagreed.

    Attributes:
        counts: per entity, `raw_live` ids, `staging` ids found, and their fingerprints.
        disagreements: one line per disagreement (empty: everything agrees).
    """

    start: datetime
    end: datetime
    lake_snapshot_id: int
    published_snapshot_id: int | None
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    disagreements: tuple[str, ...] = ()

    @property
    def interval(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"

    @property
    def passed(self) -> bool:
        return not self.disagreements

    def as_dict(self) -> dict[str, Any]:
        return {
            "data_interval_start": self.start.isoformat(),
            "data_interval_end": self.end.isoformat(),
            "lake_snapshot_id": self.lake_snapshot_id,
            "published_snapshot_id": self.published_snapshot_id,
            "passed": self.passed,
            "counts": self.counts,
            "disagreements": list(self.disagreements),
        }


@dataclass
class _RawInterval:
    """What raw's batches of the interval hold (Postgres side)."""

    live_batches: set[str] = field(default_factory=set)  # every live batch, of any interval
    live: dict[str, dict[str, datetime]] = field(default_factory=dict)  # entity -> id -> newest updated_at
    superseded: dict[str, set[str]] = field(default_factory=dict)  # entity -> ids only non-live batches hold
    superseded_order_dates: set[date] = field(default_factory=set)
    line_orders: set[str] = field(default_factory=set)  # orders with lines in the live batches


def fingerprint(ids: Iterable[str]) -> str:
    """Order-independent digest of a set of ids (equal sets, equal fingerprints)."""
    digest = hashlib.sha256()
    for item in sorted(set(ids)):
        digest.update(item.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def reconcile_interval(
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    lake_snapshot_id: int,
    published: bool = False,
) -> ReconciliationReport:
    """Compare raw's live batches of `[start, end)` with the lake at `lake_snapshot_id` (and, with
    `published`, with the day's publication); raise if anything disagrees.

    Args:
        settings: platform settings (Postgres raw and ops, the lake).
        start: inclusive start of the interval, timezone-aware.
        end: exclusive end.
        lake_snapshot_id: the lake snapshot the gate validated (the run's build).
        published: also check the publication of `start`'s date (after publish).

    Returns:
        The report (counts and fingerprints per entity), when everything agrees.

    Raises:
        ReconciliationError: one line per disagreement (the report is attached).
        QualityError: raw or the lake could not be read.
    """
    start, end = to_utc(start, name="start"), to_utc(end, name="end")
    raw = _read_raw(settings, start, end)
    counts: dict[str, dict[str, Any]] = {}
    try:
        conn = open_warehouse(settings, version=lake_snapshot_id)
    except Exception as exc:  # duckdb.Error, LookupError: a snapshot expired or no warehouse
        raise QualityError(
            f"reconciliation cannot open the warehouse at snapshot {lake_snapshot_id}: {exc}"
        ) from exc
    try:
        problems = _warehouse(conn, raw, start, end, counts=counts)
    finally:
        conn.close()
    published_id: int | None = None
    if published:
        published_id, found = _published(settings, lake_snapshot_id, raw, start, end)
        problems += found
    report = ReconciliationReport(
        start=start,
        end=end,
        lake_snapshot_id=lake_snapshot_id,
        published_snapshot_id=published_id,
        counts=counts,
        disagreements=tuple(problems),
    )
    if not report.passed:
        raise ReconciliationError(report)
    return report


def check_run(
    settings: Settings,
    run_id: str,
    start: datetime,
    end: datetime,
    *,
    lake_snapshot_id: int,
    published: bool = False,
) -> dict[str, Any]:
    """`reconcile_interval` for a pipeline run (the gate, then publish): returns the report as a
    dict; a disagreement is alerted (kind `reconciliation`), then raised."""
    from drp.monitoring.alerts import alert  # noqa: PLC0415 - the gate's room imports no alerting at load

    try:
        report = reconcile_interval(
            settings, start, end, lake_snapshot_id=lake_snapshot_id, published=published
        )
    except ReconciliationError as exc:
        where = "the published snapshot" if published else f"lake snapshot {lake_snapshot_id}"
        alert(
            settings,
            "reconciliation",
            f"drp: raw, the warehouse and {where} disagree in run {run_id}",
            list(exc.report.disagreements)[:20],
            level="error",
            details=exc.report.as_dict(),
        )
        raise
    return report.as_dict()


def _read_raw(settings: Settings, start: datetime, end: datetime) -> _RawInterval:
    raw = _RawInterval()
    try:
        with psycopg.connect(settings.postgres_conninfo()) as pg:
            batches = pg.execute(
                "select batch_id::text, status from ops.ingest_batches "
                "where data_interval_start >= %s and data_interval_start < %s "
                "and status in ('succeeded', 'replaced', 'held')",
                [start, end],
            ).fetchall()
            live = [b for b, status in batches if status == "succeeded"]
            gone = [b for b, status in batches if status != "succeeded"]
            # A key's row may be its fallback version from an earlier interval's live batch.
            raw.live_batches = {
                b
                for (b,) in pg.execute(
                    "select batch_id::text from ops.ingest_batches where status = 'succeeded'"
                ).fetchall()
            }
            for entity in ENTITIES:
                rows = pg.execute(
                    f"select {entity.raw_key}::text, max(updated_at) from {entity.raw_table} "
                    "where data_interval_start >= %s and data_interval_start < %s "
                    "and batch_id = any(%s::uuid[]) group by 1",
                    [start, end, live],
                ).fetchall()
                raw.live[entity.name] = {key: updated for key, updated in rows}
                rows = pg.execute(
                    f"select distinct {entity.raw_key}::text from {entity.raw_table} "
                    "where data_interval_start >= %s and data_interval_start < %s "
                    "and batch_id = any(%s::uuid[])",
                    [start, end, gone],
                ).fetchall()
                raw.superseded[entity.name] = {key for (key,) in rows} - raw.live[entity.name].keys()
            rows = pg.execute(
                "select distinct (order_created_at at time zone 'UTC')::date from raw.orders_raw "
                "where data_interval_start >= %s and data_interval_start < %s "
                "and batch_id = any(%s::uuid[])",
                [start, end, gone],
            ).fetchall()
            raw.superseded_order_dates = {day for (day,) in rows}
            rows = pg.execute(
                "select distinct source_order_id::text from raw.order_lines_raw "
                "where data_interval_start >= %s and data_interval_start < %s "
                "and batch_id = any(%s::uuid[])",
                [start, end, live],
            ).fetchall()
            raw.line_orders = {key for (key,) in rows}
    except psycopg.Error as exc:
        raise QualityError(f"reconciliation cannot read raw's batches from Postgres: {exc}") from exc
    return raw


def _examples(items: Iterable[Any]) -> str:
    chosen = sorted(str(i) for i in items)
    more = f", … {len(chosen) - EXAMPLES} more" if len(chosen) > EXAMPLES else ""
    return ", ".join(chosen[:EXAMPLES]) + more


def _warehouse(
    conn: duckdb.DuckDBPyConnection,
    raw: _RawInterval,
    start: datetime,
    end: datetime,
    *,
    counts: dict[str, dict[str, Any]] | None = None,
    where: str = "warehouse",
) -> list[str]:
    """Disagreements between raw's interval and the lake as `conn` sees it."""
    problems: list[str] = []
    batch_ids: dict[str, set[str]] = {}  # staging relation -> batch ids of the rows checked
    for entity in ENTITIES:
        live = raw.live[entity.name]
        watched = sorted(live.keys() | raw.superseded[entity.name])
        rows = conn.execute(
            f"select {entity.staging_key}, updated_at, cast(batch_id as varchar), "
            f"batch_interval_start >= ? and batch_interval_start < ? "
            f"from {entity.staging} where {entity.staging_key} in (select unnest(?::varchar[]))",
            [start, end, watched],
        ).fetchall()
        rows += conn.execute(
            f"select {entity.staging_key}, updated_at, cast(batch_id as varchar), true from {entity.staging} "
            "where batch_interval_start >= ? and batch_interval_start < ? "
            f"and {entity.staging_key} not in (select unnest(?::varchar[]))",
            [start, end, watched],
        ).fetchall()
        staged = {row[0]: row for row in rows}
        found = live.keys() & staged.keys()
        if counts is not None:
            counts[entity.name] = {
                "raw_live": len(live),
                "staging": len(found),
                "raw_fingerprint": fingerprint(live),
                "staging_fingerprint": fingerprint(found),
            }
        missing = live.keys() - staged.keys()
        if missing:
            problems.append(
                f"{where}: {len(missing)} {entity.name} of the interval's live batches missing from "
                f"{entity.staging} ({_examples(missing)})"
            )
        unknown = {row[0] for row in rows if row[3]} - live.keys()
        if unknown:
            problems.append(
                f"{where}: {entity.staging} holds {len(unknown)} {entity.name} of the interval that its "
                f"live batches do not ({_examples(unknown)})"
            )
        older = [key for key in found if staged[key][1] < live[key]]
        if older:
            problems.append(
                f"{where}: {entity.staging} holds an older version than raw's live batches for "
                f"{len(older)} {entity.name} ({_examples(older)})"
            )
        batch_ids[entity.staging] = {row[2] for row in rows}
    for relation, ids in batch_ids.items():
        not_live = ids - raw.live_batches
        if not_live:
            problems.append(
                f"{where}: {relation} holds rows of batches that are not live ({_examples(not_live)})"
            )
    problems += _marts(conn, raw, where)
    return problems


def _marts(conn: duckdb.DuckDBPyConnection, raw: _RawInterval, where: str) -> list[str]:
    problems: list[str] = []
    watched = sorted(raw.live["orders"].keys() | raw.superseded["orders"])
    staging = {
        row[0]: row[1:]
        for row in conn.execute(
            "select source_order_id, status, amount, updated_at, "
            "cast(timezone('UTC', order_created_at) as date) from staging.orders"
            " where source_order_id in (select unnest(?::varchar[]))",
            [watched],
        ).fetchall()
    }
    facts = {
        row[0]: row[1:]
        for row in conn.execute(
            "select order_id, status, amount, updated_at, order_date "
            "from analytics.fct_orders where order_id in (select unnest(?::varchar[]))",
            [watched],
        ).fetchall()
    }
    extra, absent = facts.keys() - staging.keys(), staging.keys() - facts.keys()
    if extra:
        problems.append(
            f"{where}: analytics.fct_orders holds {len(extra)} orders staging does not ({_examples(extra)})"
        )
    if absent:
        problems.append(
            f"{where}: {len(absent)} orders of staging missing from analytics.fct_orders "
            f"({_examples(absent)})"
        )
    differ = [key for key in staging.keys() & facts.keys() if staging[key] != facts[key]]
    if differ:
        problems.append(
            f"{where}: analytics.fct_orders differs from staging.orders (status, amount, version or date) "
            f"for {len(differ)} orders ({_examples(differ)})"
        )
    line_orders = {
        row[0]
        for row in conn.execute(
            "select distinct order_id from analytics.fct_order_lines "
            "where order_id in (select unnest(?::varchar[]))",
            [watched],
        ).fetchall()
    }
    orphans = line_orders - staging.keys()
    if orphans:
        problems.append(
            f"{where}: analytics.fct_order_lines holds lines of {len(orphans)} orders staging does not "
            f"({_examples(orphans)})"
        )
    lines_missing = (raw.line_orders & staging.keys()) - line_orders
    if lines_missing:
        problems.append(
            f"{where}: {len(lines_missing)} orders of the interval's live batches have no lines in "
            f"analytics.fct_order_lines ({_examples(lines_missing)})"
        )
    dates = {values[3] for values in staging.values()} | {values[3] for values in facts.values()}
    dates |= raw.superseded_order_dates
    problems += _daily_metrics(conn, sorted(dates), where)
    return problems


def _daily_metrics(conn: duckdb.DuckDBPyConnection, dates: Sequence[date], where: str) -> list[str]:
    if not dates:
        return []
    expected = {
        row[0]: (int(row[1]), row[2])
        for row in conn.execute(
            "select cast(timezone('UTC', order_created_at) as date) as order_date, count(*), sum(amount) "
            "from staging.orders where order_created_at >= cast(? as timestamptz) - interval 1 day "
            "and order_created_at < cast(? as timestamptz) + interval 2 day "
            "group by 1 having order_date in (select unnest(?::date[]))",
            [min(dates), max(dates), list(dates)],
        ).fetchall()
    }
    actual = {
        row[0]: (int(row[1]), row[2])
        for row in conn.execute(
            "select order_date, total_orders, total_amount from analytics.daily_order_metrics "
            "where order_date in (select unnest(?::date[]))",
            [list(dates)],
        ).fetchall()
    }
    wrong = sorted(d.isoformat() for d in expected.keys() | actual.keys() if expected.get(d) != actual.get(d))
    if not wrong:
        return []
    detail = "; ".join(
        f"{d}: staging {expected.get(date.fromisoformat(d))}, mart {actual.get(date.fromisoformat(d))}"
        for d in wrong[:EXAMPLES]
    )
    return [
        f"{where}: analytics.daily_order_metrics disagrees with staging.orders (orders, amount) "
        f"on {len(wrong)} dates ({detail})"
    ]


def _published(
    settings: Settings, lake_snapshot_id: int, raw: _RawInterval, start: datetime, end: datetime
) -> tuple[int | None, list[str]]:
    """The day's publication: the reconciled snapshot, unchanged marts, and the same checks there."""
    from drp.publish.snapshots import PublishError, mart_fingerprints, published_lake  # noqa: PLC0415

    problems: list[str] = []
    day = start.date()
    try:
        with published_lake(settings, day) as (found, conn):
            if found.lake_snapshot_id != lake_snapshot_id:
                problems.append(
                    f"published: the publication of {day.isoformat()} is lake snapshot "
                    f"{found.lake_snapshot_id}, not the reconciled snapshot {lake_snapshot_id}"
                )
            now = mart_fingerprints(conn, list(found.marts))
            changed = sorted(m for m in found.marts if now.get(m) != found.marts[m])
            if changed:
                problems.append(
                    f"published: marts at lake snapshot {found.lake_snapshot_id} no longer match the "
                    f"fingerprints recorded at publication ({', '.join(changed)})"
                )
            problems += _warehouse(conn, raw, start, end, where="published")
            return found.lake_snapshot_id, problems
    except PublishError as exc:
        return None, [f"published: {exc}"]
