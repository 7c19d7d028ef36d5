"""Loads against the real generator API, real Postgres and the real object store."""

from __future__ import annotations

import gzip
import logging
import threading
from typing import Any

import httpx
import orjson
import pendulum
import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

import drp.ingest.loader as loader_mod
from drp.ingest import (
    BatchRejectedError,
    ClientConfig,
    IngestError,
    IntervalConflictError,
    SourceError,
    load_interval,
)
from drp.ingest.contract import SPECS
from drp.ingest.dedupe import SeenKeys
from drp.ingest.registry import ABANDONED_MESSAGE
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp_domain import Entity
from drp_generator.faults import parse_faults
from drp_generator.truth import truth
from tests.drp.ingest.source import Generator, day

pytestmark = pytest.mark.integration

# The generator's invalid-record reasons and the reason code our contract gives each.
REASON_MAP = {
    "orders": {
        "null_id": "null_field:order_id",
        "negative_amount": "negative_value:amount",
        "bad_timestamp": "invalid_timestamp:updated_at",
        "unknown_status": "invalid_value:status",
        "wrong_type": "wrong_type:amount",
    },
    "customers": {
        "null_id": "null_field:customer_id",
        "bad_timestamp": "invalid_timestamp:updated_at",
        "unknown_segment": "invalid_value:segment",
        "wrong_type": "wrong_type:country",
    },
    "products": {
        "null_id": "null_field:product_id",
        "negative_price": "negative_value:unit_price",
        "bad_timestamp": "invalid_timestamp:updated_at",
        "wrong_type": "wrong_type:unit_price",
    },
}
FAST_RETRIES = ClientConfig(page_size=500, backoff_initial=0.01, backoff_max=0.05, read_timeout=5)


def _fault_text(faults: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in faults.items())


def _batch_row(pg: psycopg.Connection, batch_id: object) -> dict[str, Any]:
    cur = pg.execute("select * from ops.ingest_batches where batch_id = %s", [batch_id])
    names = [c.name for c in cur.description or []]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def _count(pg: psycopg.Connection, table: str, batch_id: object) -> int:
    row = pg.execute(
        sql.SQL("select count(*) from {} where batch_id = %s").format(sql.Identifier(*table.split("."))),
        [batch_id],
    ).fetchone()
    assert row is not None
    return int(row[0])


# --- counts equal the ground truth ------------------------------------------------------------
@pytest.mark.parametrize("entity", ["orders", "customers", "products"])
def test_load_matches_ground_truth(
    entity: str, settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    # The window starts on the generator's first day: no copy of an earlier record can arrive in
    # it, so "duplicates within the batch" and the truth's "duplicates" count the same items.
    start, end = day(0), day(2)
    faults = {"invalid": "0.04", "dupes": "0.03", "late": "0.02"}
    expected = truth(generator.config, Entity(entity), start, end, parse_faults(_fault_text(faults)))

    result = load_interval(
        settings, entity, start, end, api_base_url=generator.url, faults=faults, source_system=source,
        client_config=FAST_RETRIES,
    )  # fmt: skip

    assert result.received == expected.served > 0
    assert result.loaded == expected.valid
    assert result.duplicates == expected.duplicates > 0
    assert result.quarantined == expected.invalid > 0
    want_reasons = {REASON_MAP[entity][r]: n for r, n in expected.invalid_by_reason.items() if n}
    assert result.quarantined_by_reason == want_reasons
    assert result.received == result.loaded + result.quarantined + result.duplicates

    spec = SPECS[Entity(entity)]
    assert _count(pg, spec.raw_table, result.batch_id) == expected.valid
    assert _count(pg, spec.rejected_table, result.batch_id) == expected.invalid
    reasons = pg.execute(
        sql.SQL("select r, count(*) from {}, unnest(reasons) r where batch_id = %s group by r").format(
            sql.Identifier(*spec.rejected_table.split("."))
        ),
        [result.batch_id],
    ).fetchall()
    assert dict(reasons) == want_reasons
    distinct = pg.execute(
        sql.SQL("select count(distinct record_hash) from {} where batch_id = %s").format(
            sql.Identifier(*spec.raw_table.split("."))
        ),
        [result.batch_id],
    ).fetchone()
    assert distinct is not None and distinct[0] == expected.valid  # exact duplicates removed
    if entity == "orders":
        lines = pg.execute(
            "select coalesce(sum(jsonb_array_length(raw_payload->'lines')), 0) from raw.orders_raw "
            "where batch_id = %s",
            [result.batch_id],
        ).fetchone()
        assert lines is not None
        assert _count(pg, "raw.order_lines_raw", result.batch_id) == result.lines_loaded == lines[0] > 0
        amount = pg.execute(
            "select sum(amount * 100)::bigint from raw.orders_raw where batch_id = %s", [result.batch_id]
        ).fetchone()
        assert amount is not None and amount[0] == expected.valid_amount_cents

    row = _batch_row(pg, result.batch_id)
    assert row["status"] == "succeeded" and row["source_system"] == source and row["entity"] == entity
    assert (row["received"], row["loaded"], row["quarantined"], row["duplicates"]) == (
        expected.served, expected.valid, expected.invalid, expected.duplicates,
    )  # fmt: skip
    assert row["archive_key"] == result.archive_key
    assert row["ended_at"] is not None and row["duration_seconds"] > 0

    # The archive holds every record received, in order, as received.
    key = result.archive_key
    assert key == f"raw/{entity}/ingest_date={row['started_at'].date()}/batch_id={result.batch_id}.jsonl.gz"
    obj = s3_client(settings).get_object(settings.s3_bucket_raw, key)
    try:
        archived = [orjson.loads(line) for line in gzip.decompress(obj.read()).splitlines()]
    finally:
        obj.close()
        obj.release_conn()
    params = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        **{f"fault_{k}": v for k, v in faults.items()},
    }
    bulk = httpx.get(
        f"{generator.url}/v1/{entity}/bulk",
        params=params,
        headers={"X-API-Key": settings.generator_api_key.get_secret_value()},
    )
    assert archived == [orjson.loads(line) for line in bulk.content.splitlines()]


# --- exactly once -----------------------------------------------------------------------------
def _snapshot(pg: psycopg.Connection, source: str) -> dict[str, list[tuple[Any, ...]]]:
    """Raw contents of the source's live batches, without ids, batch ids and load times."""
    out = {}
    for table in ("orders_raw", "order_lines_raw", "orders_rejected"):
        cols = [
            r[0]
            for r in pg.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = %s and column_name not in ('id', 'batch_id', 'ingested_at') "
                "order by ordinal_position",
                [table],
            )
        ]
        query = sql.SQL(
            "select {cols} from {table} t where batch_id in (select batch_id from ops.ingest_batches "
            "where source_system = %s and status = 'succeeded') order by {cols}"
        ).format(cols=sql.SQL(", ").join(map(sql.Identifier, cols)), table=sql.Identifier("raw", table))
        out[table] = pg.execute(query, [source]).fetchall()
    return out


def test_reruns_replace_the_interval_with_identical_contents(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(3), day(4)
    faults = {"invalid": "0.05", "dupes": "0.05"}
    results = []
    snapshots = []
    for _ in range(3):
        results.append(
            load_interval(
                settings,
                "orders",
                start,
                end,
                api_base_url=generator.url,
                faults=faults,
                source_system=source,
            )
        )
        snapshots.append(_snapshot(pg, source))
    assert snapshots[0] == snapshots[1] == snapshots[2]
    assert len(snapshots[0]["orders_raw"]) == results[0].loaded > 0
    assert len(snapshots[0]["orders_rejected"]) == results[0].quarantined > 0
    assert len({r.batch_id for r in results}) == 3
    assert results[1].replaced == (results[0].batch_id,)
    assert results[2].replaced == (results[1].batch_id,)
    statuses = [_batch_row(pg, r.batch_id)["status"] for r in results]
    assert statuses == ["replaced", "replaced", "succeeded"]
    assert [_batch_row(pg, r.batch_id)["superseded_by"] for r in results] == [
        results[1].batch_id, results[2].batch_id, None,
    ]  # fmt: skip
    # Raw is append-only: replaced batches keep their rows; only the live batch is read.
    for old in results[:2]:
        assert _count(pg, "raw.orders_raw", old.batch_id) == results[0].loaded
        assert _count(pg, "raw.order_lines_raw", old.batch_id) == results[0].lines_loaded
        assert _count(pg, "raw.orders_rejected", old.batch_id) == results[0].quarantined


def test_concurrent_loads_of_one_interval_are_serialized(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(5), day(6)
    faults = {"slow": "1.0", "slow_seconds": "0.3"}  # every page answers late: the loads overlap
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(
                load_interval(
                    settings,
                    "customers",
                    start,
                    end,
                    api_base_url=generator.url,
                    faults=faults,
                    source_system=source,
                    client_config=ClientConfig(page_size=100),
                )
            )
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    first, second = sorted(results, key=lambda r: r.replaced)
    assert second.replaced == (first.batch_id,)
    assert _batch_row(pg, first.batch_id)["status"] == "replaced"
    assert _batch_row(pg, second.batch_id)["status"] == "succeeded"
    rows = pg.execute(
        "select count(*) from raw.customers_raw where batch_id in (select batch_id from ops.ingest_batches "
        "where source_system = %s and status = 'succeeded')",
        [source],
    ).fetchone()
    assert rows is not None and rows[0] == second.loaded == first.loaded > 0
    assert _count(pg, "raw.customers_raw", first.batch_id) == first.loaded  # kept, not live


def test_window_containing_batches_replaces_them_and_partial_overlap_is_refused(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    def load(start_day: int, end_day: int, hours: int = 0) -> Any:
        return load_interval(
            settings, "products", day(start_day, hours), day(end_day, hours),
            api_base_url=generator.url, source_system=source,
        )  # fmt: skip

    a, b = load(7, 8), load(8, 9)
    with pytest.raises(IntervalConflictError, match="partially overlaps live batch"):
        load(7, 8, hours=12)
    both = load(7, 9)
    assert set(both.replaced) == {a.batch_id, b.batch_id}
    assert both.loaded == a.loaded + b.loaded
    assert _count(pg, "raw.products_raw", both.batch_id) == both.loaded
    assert _count(pg, "raw.products_raw", a.batch_id) == a.loaded  # superseded, rows kept


# --- faults -----------------------------------------------------------------------------------
def test_http_faults_are_survived(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(10), day(11)
    faults = {
        "http500": "0.25", "http429": "0.15", "retry_after": "1", "truncate": "0.25",
        "hang": "0.1", "hang_seconds": "3", "invalid": "0.02",
    }  # fmt: skip
    config = ClientConfig(page_size=250, read_timeout=0.5, backoff_initial=0.01, backoff_max=0.05)
    expected = truth(generator.config, Entity.ORDERS, start, end, parse_faults(_fault_text(faults)))

    result = load_interval(
        settings, "orders", start, end, api_base_url=generator.url, faults=faults, source_system=source,
        client_config=config,
    )  # fmt: skip

    assert (result.received, result.loaded, result.quarantined) == (
        expected.served, expected.valid, expected.invalid,
    )  # fmt: skip
    assert result.pages >= 8
    failures = result.transport_failures
    assert failures.get("http500", 0) > 0
    assert failures.get("http429", 0) > 0
    assert failures.get("invalid_body", 0) > 0  # truncated bodies
    assert failures.get("timeout", 0) > 0  # hangs past the read timeout
    assert result.retries == sum(failures.values())
    assert _count(pg, "raw.orders_raw", result.batch_id) == expected.valid


def test_schema_drift_is_recorded(
    settings: Settings,
    generator: Generator,
    source: str,
    pg: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start, end = day(12), day(13)
    caplog.set_level(logging.WARNING, logger="drp.ingest")
    # Renamed customer_id -> customer_ref plus an added field: every record is quarantined, and
    # the load fails loudly; as the interval's first load, the batch goes live anyway.
    with pytest.raises(BatchRejectedError, match="`customer_id` missing in 100% of records") as info:
        load_interval(
            settings, "orders", start, end, api_base_url=generator.url, source_system=source,
            faults={"drift_from": start.date().isoformat(), "drift": "both"},
        )  # fmt: skip
    renamed = info.value.result
    assert renamed is not None and not info.value.held
    n = renamed.received
    assert n > 0
    assert renamed.drift == {"channel": n, "customer_ref": n}
    assert renamed.quarantined == n and renamed.loaded == 0
    assert renamed.quarantined_by_reason == {"missing_field:customer_id": n}
    row = _batch_row(pg, renamed.batch_id)
    assert row["status"] == "succeeded" and row["drift"] == {"channel": n, "customer_ref": n}
    sample = pg.execute(
        "select reasons, raw_payload from raw.orders_rejected where batch_id = %s limit 1", [renamed.batch_id]
    ).fetchone()
    assert sample is not None
    assert sample[0] == ["missing_field:customer_id"] and "customer_ref" in sample[1]
    assert any("schema drift" in r.getMessage() and "customer_ref" in r.getMessage() for r in caplog.records)

    # An added field only: records load, the full payload (with the new field) is kept.
    added = load_interval(
        settings, "products", start, end, api_base_url=generator.url, source_system=source,
        faults={"drift_from": start.date().isoformat(), "drift": "add"},
    )  # fmt: skip
    assert added.drift == {"brand": added.received} and added.loaded == added.received > 0
    brands = pg.execute(
        "select count(*) from raw.products_raw where batch_id = %s and raw_payload ? 'brand'",
        [added.batch_id],
    ).fetchone()
    assert brands is not None and brands[0] == added.loaded


def test_exhausted_retry_budget_fails_with_a_clear_error_and_registry_row(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start, end = day(14), day(15)
    faults = {"http500": "1.0", "max_attempts": "100"}
    config = ClientConfig(max_attempts=3, backoff_initial=0.01, backoff_max=0.02)
    with pytest.raises(SourceError) as info:
        load_interval(
            settings, "customers", start, end, api_base_url=generator.url, faults=faults,
            source_system=source, client_config=config,
        )  # fmt: skip
    err = info.value
    message = str(err)
    assert "customers [2003-03-15T00:00:00Z, 2003-03-16T00:00:00Z)" in message
    assert "page 1" in message and "HTTP 500" in message and "3 attempt(s)" in message
    assert err.batch_id is not None and err.last_status == 500 and err.attempts == 3
    row = _batch_row(pg, err.batch_id)
    assert row["status"] == "failed" and row["ended_at"] is not None
    assert "HTTP 500" in row["error_message"] and "page 1" in row["error_message"]
    assert _count(pg, "raw.customers_raw", err.batch_id) == 0


@pytest.mark.parametrize("broken", ["bucket", "credentials"])
def test_archive_failure_fails_the_load_and_commits_nothing(
    broken: str, settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    if broken == "bucket":
        bad = settings.model_copy(update={"s3_bucket_raw": f"drp-missing-{source}"})
    else:
        bad = settings.model_copy(update={"s3_secret_key": SecretStr("not-the-secret")})
    with pytest.raises(IngestError, match="archive upload failed") as info:
        load_interval(bad, "products", day(16), day(17), api_base_url=generator.url, source_system=source)
    batch_id = info.value.batch_id
    row = _batch_row(pg, batch_id)
    assert row["status"] == "failed" and "archive upload failed" in row["error_message"]
    assert _count(pg, "raw.products_raw", batch_id) == 0
    assert f"drp-missing-{source}" not in {b.name for b in s3_client(settings).list_buckets()}


def test_abandoned_running_batch_is_marked_failed(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    # A `running` row whose process is gone (nobody holds its session lock), as a kill -9 leaves.
    ghost = pg.execute(
        "insert into ops.ingest_batches (batch_id, source_system, entity, data_interval_start, "
        "data_interval_end, status) values (gen_random_uuid(), %s, 'products', %s, %s, 'running') "
        "returning batch_id",
        [source, day(18), day(19)],
    ).fetchone()
    assert ghost is not None
    load_interval(settings, "products", day(18), day(19), api_base_url=generator.url, source_system=source)
    row = _batch_row(pg, ghost[0])
    assert row["status"] == "failed" and row["error_message"] == ABANDONED_MESSAGE


def test_dedupe_false_positives_are_recovered(
    settings: Settings,
    generator: Generator,
    source: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A 1 KiB filter says "seen" for many new records; verification must reload every one of them.
    monkeypatch.setattr(loader_mod, "SeenKeys", lambda: SeenKeys(bits_log2=13, probes=1))
    caplog.set_level(logging.WARNING, logger="drp.ingest")
    start, end = day(0), day(2)
    faults = {"dupes": "0.05"}
    expected = truth(generator.config, Entity.ORDERS, start, end, parse_faults(_fault_text(faults)))
    result = load_interval(
        settings, "orders", start, end, api_base_url=generator.url, faults=faults, source_system=source,
        client_config=ClientConfig(page_size=300),
    )  # fmt: skip
    assert (result.loaded, result.duplicates) == (expected.valid, expected.duplicates)
    assert any("recovering the records from the archive" in r.getMessage() for r in caplog.records)


def test_unreachable_postgres_is_an_ingest_error(settings: Settings, generator: Generator) -> None:
    down = settings.model_copy(update={"postgres_port": 1})
    with pytest.raises(IngestError, match="cannot reach Postgres"):
        load_interval(down, "products", day(21), day(22), api_base_url=generator.url, source_system="unused")


def test_pendulum_bounds_as_airflow_passes_them(
    settings: Settings, generator: Generator, source: str
) -> None:
    start = pendulum.datetime(2003, 3, 24, tz="UTC")
    result = load_interval(
        settings, "products", start, start.add(days=1), api_base_url=generator.url, source_system=source
    )
    assert result.start == day(23) and type(result.start) is type(day(23))
    assert result.received == result.loaded > 0
