"""Every statement on `ops.published_snapshots` (migrations 0300, 0301), the lake's publication
manifest.

Callers pass an open psycopg connection and the lake's identity
(`drp.lake.connection.lake_identity`): snapshot ids mean something only within one lake.
`record` commits nothing itself, so the caller's transaction is the atomic publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Publication:
    """One published day: the lake snapshot consumers read for `snapshot_date`."""

    id: int
    snapshot_date: date
    run_id: str
    lake_snapshot_id: int
    marts: dict[str, dict[str, Any]]
    details: dict[str, Any]
    published_at: datetime


_COLUMNS = "id, snapshot_date, run_id, lake_snapshot_id, marts, details, published_at"


def record(
    conn: psycopg.Connection[Any],
    lake: str,
    *,
    snapshot_date: date,
    run_id: str,
    lake_snapshot_id: int,
    marts: dict[str, dict[str, Any]],
    details: dict[str, Any],
) -> Publication:
    """Insert the publication; a retry of the same run returns the row it already wrote."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""insert into ops.published_snapshots
                    (lake, snapshot_date, run_id, lake_snapshot_id, marts, details)
                values (%s, %s, %s, %s, %s, %s)
                on conflict (run_id) do nothing
                returning {_COLUMNS}""",
            (lake, snapshot_date, run_id, lake_snapshot_id, Jsonb(marts), Jsonb(details)),
        )
        row = cur.fetchone()
        if row is None:
            cur.execute(f"select {_COLUMNS} from ops.published_snapshots where run_id = %s", (run_id,))
            row = cur.fetchone()
    assert row is not None
    return Publication(**row)


def latest(conn: psycopg.Connection[Any], lake: str, snapshot_date: date | None = None) -> Publication | None:
    """The newest publication of `snapshot_date` (of any date when None)."""
    where, args = ("and snapshot_date = %s", (lake, snapshot_date)) if snapshot_date else ("", (lake,))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"select {_COLUMNS} from ops.published_snapshots "
            f"where lake = %s {where} order by id desc limit 1",
            args,
        )
        row = cur.fetchone()
    return Publication(**row) if row else None


def carrying(conn: psycopg.Connection[Any], lake: str, snapshot_date: date) -> Publication | None:
    """The newest publication of a later day whose run carried `snapshot_date` in (its own run
    failed or never ran, so it has no publication row of its own)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"select {_COLUMNS} from ops.published_snapshots "
            "where lake = %s and details -> 'quality' -> 'carried_days' ? %s order by id desc limit 1",
            (lake, snapshot_date.isoformat()),
        )
        row = cur.fetchone()
    return Publication(**row) if row else None


def latest_lake_snapshot(conn: psycopg.Connection[Any], lake: str) -> int | None:
    """The newest lake snapshot ever published: what the lake's head must equal between runs."""
    row = conn.execute(
        "select max(lake_snapshot_id) from ops.published_snapshots where lake = %s", (lake,)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def current_by_date(conn: psycopg.Connection[Any], lake: str) -> list[Publication]:
    """Each date's current publication (its newest row), oldest date first."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""select distinct on (snapshot_date) {_COLUMNS} from ops.published_snapshots
                where lake = %s order by snapshot_date, id desc""",
            (lake,),
        )
        return [Publication(**row) for row in cur.fetchall()]


def kept_lake_snapshots(conn: psycopg.Connection[Any], lake: str, since: datetime) -> set[int]:
    """Lake snapshots that maintenance must keep: every date's current publication published
    since `since`, and the newest publication whatever its age (the head restores to it)."""
    rows = conn.execute(
        """select lake_snapshot_id from (
               select distinct on (snapshot_date) lake_snapshot_id, published_at
               from ops.published_snapshots where lake = %s order by snapshot_date, id desc) current
           where published_at >= %s
           union select max(lake_snapshot_id) from ops.published_snapshots where lake = %s""",
        (lake, since, lake),
    ).fetchall()
    return {int(r[0]) for r in rows if r[0] is not None}


def forget_all(conn: psycopg.Connection[Any], lake: str) -> int:
    """Delete every publication of `lake` (it is gone); returns how many."""
    return conn.execute("delete from ops.published_snapshots where lake = %s", (lake,)).rowcount
