"""Publish a validated warehouse snapshot, and read or export what was published.

Publishing copies nothing: the run's build wrote the marts into the warehouse, the gate validated
one snapshot (a lake catalog snapshot, or on the Postgres engine the copy the gate froze; see
`drp.warehouse`, and the registry calls either id `lake_snapshot_id`), and publishing records
that id in `ops.published_snapshots` with each mart's row count and checksum. That one insert is
the moment the day becomes visible, to every mart at once. Readers open the warehouse pinned at
a published snapshot (`published_lake`), so a run writing the head never shows them a partial
or unvalidated row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from drp.errors import PlatformError
from drp.lake.connection import sql_literal
from drp.publish import registry
from drp.publish.layout import MART_SCHEMA, export_file
from drp.settings import Settings
from drp.transform.manifest import published_marts
from drp.warehouse import descends_problem, identity, open_warehouse, warehouse

if TYPE_CHECKING:
    import duckdb

__all__ = ["MART_SCHEMA", "PublishError", "PublishResult", "mart_fingerprints", "publish_snapshot"]


class PublishError(PlatformError):
    """Nothing was published (or exported): the reason names the day, the snapshot or the mart."""


@dataclass
class PublishResult:
    snapshot_date: str
    run_id: str
    lake_snapshot_id: int
    marts: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows(self) -> dict[str, int]:
        return {model: int(m["rows"]) for model, m in self.marts.items()}


def mart_fingerprints(conn: duckdb.DuckDBPyConnection, models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Row count and an order-independent content checksum of each mart, as `conn` sees it."""
    marts: dict[str, dict[str, Any]] = {}
    for model in models:
        # The sum of row hashes: equal for equal rows in any order or file layout.
        row = conn.execute(
            f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar from {MART_SCHEMA}.{model} t"
        ).fetchone()
        assert row is not None
        marts[model] = {"rows": int(row[0]), "checksum": str(row[1])}
    return marts


def publish_snapshot(
    settings: Settings,
    snapshot_date: date,
    *,
    run_id: str,
    lake_snapshot_id: int,
    details: dict[str, Any] | None = None,
    models: Sequence[str] | None = None,
) -> PublishResult:
    """Make warehouse snapshot `lake_snapshot_id` (the one the gate validated) the published state of
    `snapshot_date`. Idempotent per run: a retry returns the publication it already made.

    Raises:
        PublishError: the snapshot is older than one already published (the head has moved on
            from it), or a mart is missing from it.
    """
    models = published_marts() if models is None else models
    started = time.monotonic()
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        newest = registry.latest_lake_snapshot(conn, identity(settings))
        if newest is not None and lake_snapshot_id < newest:
            already = registry.latest(conn, identity(settings))
            if not (already and already.run_id == run_id):
                raise PublishError(
                    f"warehouse snapshot {lake_snapshot_id} is older than the published snapshot {newest}: "
                    "another run published since this run's gate; rerun the day"
                )
    problem = descends_problem(settings, newest, lake_snapshot_id) if newest is not None else None
    if problem:
        raise PublishError(problem)
    try:
        with warehouse(settings, version=lake_snapshot_id) as con:
            marts = mart_fingerprints(con, models)
    except Exception as exc:  # duckdb.CatalogException: a mart the build did not write
        raise PublishError(f"cannot read the marts at warehouse snapshot {lake_snapshot_id}: {exc}") from exc
    with psycopg.connect(settings.postgres_conninfo()) as conn, conn.transaction():
        publication = registry.record(
            conn,
            identity(settings),
            snapshot_date=snapshot_date,
            run_id=run_id,
            lake_snapshot_id=lake_snapshot_id,
            marts=marts,
            details=details or {},
        )
    return PublishResult(
        snapshot_date=publication.snapshot_date.isoformat(),
        run_id=publication.run_id,
        lake_snapshot_id=publication.lake_snapshot_id,
        marts={m: publication.marts[m] for m in models if m in publication.marts},  # jsonb drops order
        seconds=time.monotonic() - started,
    )


def publication(settings: Settings, snapshot_date: date | None = None) -> registry.Publication:
    """The current publication of `snapshot_date` (the newest of any date when None)."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        found = registry.latest(conn, identity(settings), snapshot_date)
    if found is None:
        what = f"for {snapshot_date.isoformat()}" if snapshot_date else "yet"
        raise PublishError(f"nothing published {what}: see `drp snapshot list`")
    return found


def publications(settings: Settings) -> list[registry.Publication]:
    """Each published date's current publication, oldest first."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return registry.current_by_date(conn, identity(settings))


@contextmanager
def published_lake(
    settings: Settings, snapshot_date: date | None = None
) -> Iterator[tuple[registry.Publication, duckdb.DuckDBPyConnection]]:
    """A read-only warehouse connection pinned at a published day's snapshot (the latest by default)."""
    found = publication(settings, snapshot_date)
    try:
        con = open_warehouse(settings, version=found.lake_snapshot_id)
    except Exception as exc:  # duckdb.Error, LookupError: the snapshot was expired by maintenance
        raise PublishError(
            f"warehouse snapshot {found.lake_snapshot_id} of {found.snapshot_date} cannot be opened ({exc}); "
            "published days stay readable for DRP_LAKE_SNAPSHOT_RETENTION_DAYS="
            f"{settings.lake_snapshot_retention_days} days"
        ) from exc
    try:
        yield found, con
    finally:
        con.close()


def export_published(
    settings: Settings,
    snapshot_date: date,
    out: str | Path,
    *,
    models: Sequence[str] | None = None,
) -> dict[str, str]:
    """Write each mart as published on `snapshot_date` to Parquet under `out` (a directory or an
    s3:// prefix); returns the file of each mart. The checksum of what is written is checked
    against the publication's, so an export is what consumers were shown that day."""
    with published_lake(settings, snapshot_date) as (found, con):
        wanted = list(found.marts) if models is None else list(models)
        unknown = [m for m in wanted if m not in found.marts]
        if unknown:
            raise PublishError(
                f"not a published mart: {', '.join(unknown)} (published: {', '.join(found.marts)})"
            )
        if mart_fingerprints(con, wanted) != {m: found.marts[m] for m in wanted}:
            raise PublishError(
                f"the warehouse at snapshot {found.lake_snapshot_id} does not match its publication"
            )
        files: dict[str, str] = {}
        for model in wanted:
            path = export_file(str(out), model, snapshot_date)
            if not path.startswith("s3://"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            ordered = f"select * from {MART_SCHEMA}.{model} order by all"
            con.execute(f"copy ({ordered}) to {sql_literal(path)} (format parquet, compression zstd)")
            files[model] = path
    return files
