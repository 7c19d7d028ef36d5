"""Raw is append-only, and a batch that looks broken does not supersede a good one (finding 1).

Real generator API, real Postgres, real object store: the drift drill of the issue, a clean rerun,
and a first load that is all quarantine.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException
from psycopg import sql

from drp import tasks
from drp.ingest import BatchRejectedError, BatchResult, load_interval
from drp.settings import Settings, load_settings
from drp.storage.object_store import client as s3_client
from tests.drp.ingest.source import Generator, day
from tests.drp.transform.dbt_helpers import isolated_database

pytestmark = pytest.mark.integration

DRIFT = "both"  # the generator renames customer_id -> customer_ref and adds `channel`


def _drift(start: Any) -> dict[str, str]:
    return {"drift_from": start.date().isoformat(), "drift": DRIFT}


def _row(pg: psycopg.Connection, batch_id: UUID) -> dict[str, Any]:
    cur = pg.execute("select * from ops.ingest_batches where batch_id = %s", [batch_id])
    names = [c.name for c in cur.description or []]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def _count(pg: psycopg.Connection, table: str, batch_id: UUID) -> int:
    row = pg.execute(
        sql.SQL("select count(*) from {} where batch_id = %s").format(sql.Identifier("raw", table)),
        [batch_id],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _live_orders(pg: psycopg.Connection, source: str) -> int:
    row = pg.execute(
        "select count(*) from raw.orders_raw where batch_id in "
        "(select batch_id from ops.ingest_batches where source_system = %s and status = 'succeeded')",
        [source],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _assert_rows_kept(pg: psycopg.Connection, result: BatchResult) -> None:
    """Every row the batch wrote is still in raw, and the registry's counts balance."""
    assert _count(pg, "orders_raw", result.batch_id) == result.loaded
    assert _count(pg, "order_lines_raw", result.batch_id) == result.lines_loaded
    assert _count(pg, "orders_rejected", result.batch_id) == result.quarantined
    row = _row(pg, result.batch_id)
    assert (row["received"], row["loaded"], row["quarantined"], row["duplicates"]) == (
        result.received, result.loaded, result.quarantined, result.duplicates,
    )  # fmt: skip
    assert row["received"] == row["loaded"] + row["quarantined"] + row["duplicates"]


def test_drift_drill_rerun_is_held_and_the_good_batch_stays_live(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    """Finding 1: a day that loaded cleanly, run again while the source renames a field."""
    start, end = day(20), day(21)
    good = load_interval(settings, "orders", start, end, api_base_url=generator.url, source_system=source)
    assert good.loaded > 0 and good.quarantined == 0 and good.threshold_violations == ()

    with pytest.raises(BatchRejectedError) as info:
        load_interval(
            settings, "orders", start, end, api_base_url=generator.url, source_system=source,
            faults=_drift(start),
        )  # fmt: skip

    err = info.value
    message = str(err)
    # One clear line naming the cause, not a row count at a later gate.
    assert "\n" not in message
    assert "`customer_id` missing in 100% of records, `customer_ref` appeared" in message
    assert "quarantined (limit 20%)" in message and str(good.batch_id) in message
    assert err.held and err.kept_live == (good.batch_id,)
    held = err.result
    assert held is not None and held.batch_id == err.batch_id and held.status == "held"
    assert held.quarantined == held.received > 0 and held.loaded == 0 and held.replaced == ()

    # The good batch is still the live one, with every row it loaded.
    good_row = _row(pg, good.batch_id)
    assert good_row["status"] == "succeeded" and good_row["superseded_by"] is None
    _assert_rows_kept(pg, good)
    assert _live_orders(pg, source) == good.loaded
    # The held batch is kept too: its records are in quarantine, with the reason.
    held_row = _row(pg, held.batch_id)
    assert held_row["status"] == "held" and held_row["archive_key"] == held.archive_key
    kinds = {v["kind"] for v in held_row["threshold_violations"]}
    assert kinds == {"missing_field", "quarantined_share"}
    _assert_rows_kept(pg, held)
    reasons = pg.execute(
        "select distinct reasons from raw.orders_rejected where batch_id = %s", [held.batch_id]
    ).fetchall()
    assert reasons == [(["missing_field:customer_id"],)]

    # A clean rerun later supersedes the good batch as usual; the held one stays held.
    again = load_interval(settings, "orders", start, end, api_base_url=generator.url, source_system=source)
    assert again.replaced == (good.batch_id,)
    assert _row(pg, good.batch_id)["status"] == "replaced"
    assert _row(pg, held.batch_id)["status"] == "held"
    assert _live_orders(pg, source) == again.loaded == good.loaded


def test_clean_rerun_supersedes_and_keeps_the_previous_rows(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(22), day(23)
    faults = {"invalid": "0.03", "dupes": "0.05"}  # below the warning share: no warning either
    first = load_interval(
        settings, "orders", start, end, api_base_url=generator.url, faults=faults, source_system=source
    )
    second = load_interval(
        settings, "orders", start, end, api_base_url=generator.url, faults=faults, source_system=source
    )
    assert first.quarantined > 0 and first.duplicates > 0
    assert second.replaced == (first.batch_id,) and second.warnings == ()
    old = _row(pg, first.batch_id)
    assert old["status"] == "replaced" and old["superseded_by"] == second.batch_id
    assert old["superseded_at"] is not None and old["purged_at"] is None
    assert _row(pg, second.batch_id)["status"] == "succeeded"
    _assert_rows_kept(pg, first)
    _assert_rows_kept(pg, second)
    assert _live_orders(pg, source) == second.loaded  # live counts never double


def test_first_load_all_quarantined_goes_live_and_fails_loudly(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(24), day(25)
    with pytest.raises(BatchRejectedError, match="customer_id") as info:
        load_interval(
            settings, "orders", start, end, api_base_url=generator.url, source_system=source,
            faults=_drift(start),
        )  # fmt: skip
    err = info.value
    assert not err.held and err.kept_live == ()
    assert "no earlier live batch" in str(err)
    result = err.result
    assert result is not None and result.status == "succeeded"
    assert result.quarantined == result.received > 0
    row = _row(pg, result.batch_id)
    assert row["status"] == "succeeded" and row["threshold_violations"]
    _assert_rows_kept(pg, result)


def test_the_load_task_fails_without_retry_and_names_the_cause(
    base_settings: Settings, generator: Generator, tmp_path: Path
) -> None:
    """The DAG's load task body: a rejected batch is an AirflowFailException (no retry)."""
    host, port = generator.url.removeprefix("http://").split(":")
    with isolated_database(base_settings, tmp_path / "state") as isolated:
        settings = load_settings(
            postgres_db=isolated.postgres_db,
            state_dir=str(tmp_path / "state"),
            generator_host=host,
            generator_port=int(port),
        )
        start, end = day(26), day(27)
        try:
            clean = tasks.ingest("orders", start, end, settings=settings)
            assert clean["warnings"] == [] and clean["quarantined"] == 0
            with pytest.raises(AirflowFailException, match="`customer_ref` appeared"):
                tasks.ingest("orders", start, end, faults=_drift(start), settings=settings)
        finally:
            with psycopg.connect(settings.postgres_conninfo()) as conn:
                keys = conn.execute("select archive_key from ops.ingest_batches").fetchall()
            s3 = s3_client(settings)
            for (key,) in keys:
                if key:
                    with suppress(Exception):
                        s3.remove_object(settings.s3_bucket_raw, key)
