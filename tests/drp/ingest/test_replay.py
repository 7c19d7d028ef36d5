"""Replay: the drift drill end to end on the real generator, Postgres and object store.

A day drifts (`customer_id` -> `customer_ref` on orders, `segment` -> `customer_segment` on
customers): its loads quarantine every record. An alias is added to a copy of the contracts, the
day is replayed from the archive and from the quarantine without calling the API, and the counts
equal the generator's ground truth.
"""

from __future__ import annotations

import gzip
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from drp.ingest import BatchResult, load_interval
from drp.ingest.contract import specs
from drp.ingest.errors import BatchRejectedError, IngestError
from drp.ingest.replay import ReplayError, replay_interval
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp_domain import Entity
from drp_generator.faults import parse_faults
from drp_generator.truth import Truth, truth
from drpctl.cli import app
from tests.drp.ingest.source import Generator, day
from tests.drp.ingest.test_contract import add_alias, edited_contracts
from tests.drp.ingest.test_load import FAST_RETRIES, REASON_MAP

pytestmark = pytest.mark.integration

# The drill starts on the generator's first day: no copy of an earlier record arrives in the
# window, so the load's duplicates and the truth's count the same items. (Its first orders arrive
# on the second day.)
START, END = day(0), day(2)
FAULTS = {"drift_from": START.date().isoformat(), "drift": "both", "invalid": "0.03", "dupes": "0.03"}
# The renames `drift=both` makes, and the fields it adds (drift, never a rejection).
RENAMED = {"orders": ("customer_id", "customer_ref"), "customers": ("segment", "customer_segment")}
ADDED = {"orders": "channel", "customers": "loyalty_tier"}


def _truth(generator: Generator, entity: str) -> Truth:
    text = ",".join(f"{k}={v}" for k, v in FAULTS.items())
    return truth(generator.config, Entity(entity), START, END, parse_faults(text))


def _batch(pg: psycopg.Connection, batch_id: object) -> dict[str, Any]:
    cur = pg.execute("select * from ops.ingest_batches where batch_id = %s", [batch_id])
    row = cur.fetchone()
    assert row is not None
    return dict(zip([c.name for c in cur.description or []], row, strict=True))


def _rows(pg: psycopg.Connection, table: str, batch_id: object) -> int:
    stmt = sql.SQL("select count(*) from {} where batch_id = %s").format(sql.Identifier(*table.split(".")))
    row = pg.execute(stmt, [batch_id]).fetchone()
    assert row is not None
    return int(row[0])


def _drift_drill(settings: Settings, generator: Generator, source: str, entity: str) -> BatchResult:
    """Load the drifted day: every record is quarantined, the load is rejected."""
    with pytest.raises(BatchRejectedError) as caught:
        load_interval(
            settings, entity, START, END, api_base_url=generator.url, faults=FAULTS,
            source_system=source, client_config=FAST_RETRIES,
        )  # fmt: skip
    result = caught.value.result
    assert result is not None
    field, alias = RENAMED[entity]
    assert f"`{field}` missing" in str(caught.value)
    assert result.loaded == 0 and result.quarantined > 0
    assert result.quarantined_by_reason[f"missing_field:{field}"] == result.quarantined
    assert result.drift[alias] == result.quarantined
    return result


def _assert_matches_truth(result: BatchResult, expected: Truth, entity: str) -> None:
    assert result.received == expected.served
    assert result.loaded == expected.valid > 0
    assert result.quarantined == expected.invalid > 0
    assert result.duplicates == expected.duplicates > 0
    want = {REASON_MAP[entity][r]: n for r, n in expected.invalid_by_reason.items() if n}
    assert result.quarantined_by_reason == want
    # The alias is not drift any more; the added field still is, on every record received.
    assert RENAMED[entity][1] not in result.drift
    assert result.drift[ADDED[entity]] == result.received


@pytest.mark.parametrize("entity", ["orders", "customers"])
def test_drift_drill_then_alias_then_replay_matches_the_ground_truth(
    entity: str,
    settings: Settings,
    generator: Generator,
    source: str,
    pg: psycopg.Connection,
    tmp_path: Path,
) -> None:
    expected = _truth(generator, entity)
    assert expected.drifted == expected.served > 0  # the whole day drifted
    drilled = _drift_drill(settings, generator, source, entity)
    assert drilled.received == expected.served

    field, alias = RENAMED[entity]
    # Through the packaged contract a replay is quarantined again: it checks the current contract.
    with pytest.raises(BatchRejectedError):
        replay_interval(settings, entity, START, END, source_system=source)

    aliased = settings.model_copy(
        update={"contracts_dir": edited_contracts(tmp_path, add_alias(entity, field, alias))}
    )
    replayed = replay_interval(aliased, entity, START, END, source_system=source, batch_id=drilled.batch_id)
    _assert_matches_truth(replayed, expected, entity)

    spec = specs(aliased.contracts_dir)[Entity(entity)]
    row = _batch(pg, replayed.batch_id)
    assert row["status"] == "succeeded" and row["replay_of"] == drilled.batch_id
    assert _batch(pg, drilled.batch_id)["status"] == "replaced"
    assert _rows(pg, spec.raw_table, replayed.batch_id) == expected.valid
    assert _rows(pg, spec.rejected_table, replayed.batch_id) == expected.invalid
    column = spec.raw_columns[[f.name for f in spec.fields].index(field)]
    nulls = pg.execute(
        sql.SQL("select count(*) from {} where batch_id = %s and {} is null").format(
            sql.Identifier(*spec.raw_table.split(".")), sql.Identifier(column)
        ),
        [replayed.batch_id],
    ).fetchone()
    assert nulls == (0,)  # every loaded row holds the value the source sent under the alias

    # From the quarantine: the drilled batch's stored records. It quarantined every record, its
    # duplicates too (only valid records are deduplicated), so the outcome is the same.
    again = replay_interval(
        aliased, entity, START, END, source="quarantine", batch_id=drilled.batch_id, source_system=source
    )
    _assert_matches_truth(again, expected, entity)
    assert _batch(pg, again.batch_id)["replay_of"] == drilled.batch_id
    assert _batch(pg, replayed.batch_id)["status"] == "replaced"
    # The drilled batch's rows are all still there: raw is append-only.
    assert _rows(pg, spec.rejected_table, drilled.batch_id) == drilled.quarantined


def test_a_tampered_archive_fails_the_replay_and_commits_nothing(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    loaded = load_interval(
        settings, "products", day(3), day(4), api_base_url=generator.url, source_system=source,
        client_config=FAST_RETRIES,
    )  # fmt: skip
    assert loaded.received > 2
    s3 = s3_client(settings)
    response = s3.get_object(settings.s3_bucket_raw, loaded.archive_key)
    try:
        lines = gzip.decompress(response.read()).splitlines(keepends=True)
    finally:
        response.close()
        response.release_conn()
    body = gzip.compress(b"".join(lines[:-1]))  # one record lost
    s3.put_object(settings.s3_bucket_raw, loaded.archive_key, io.BytesIO(body), len(body))

    with pytest.raises(IngestError, match=f"holds {loaded.received - 1} records, the registry says"):
        replay_interval(settings, "products", day(3), day(4), source_system=source)
    rows = pg.execute(
        "select status, replay_of from ops.ingest_batches where source_system = %s order by started_at",
        [source],
    ).fetchall()
    assert rows == [("succeeded", None), ("failed", loaded.batch_id)]


def test_replay_refuses_what_it_cannot_replay(settings: Settings, generator: Generator, source: str) -> None:
    def replay(entity: str, start: datetime, end: datetime, **kwargs: Any) -> None:
        replay_interval(settings, entity, start, end, source_system=source, **kwargs)

    with pytest.raises(ReplayError, match="no committed batch of exactly this interval has an archive"):
        replay("products", day(5), day(6))
    with pytest.raises(ReplayError, match="unknown entity 'invoices'"):
        replay("invoices", day(5), day(6))
    with pytest.raises(ReplayError, match="unknown replay source"):
        replay("products", day(5), day(6), source="api")
    with pytest.raises(ReplayError, match="no batch"):
        replay("products", day(5), day(6), batch_id=uuid4())
    loaded = load_interval(
        settings, "products", day(5), day(6), api_base_url=generator.url, source_system=source,
        client_config=FAST_RETRIES,
    )  # fmt: skip
    with pytest.raises(ReplayError, match=r"covers .*; replay that exact interval"):
        replay("products", day(5), day(7), batch_id=loaded.batch_id)
    with pytest.raises(ReplayError, match="holds products, not orders"):
        replay("orders", day(5), day(6), batch_id=loaded.batch_id)


def test_cli_replays_with_one_line_and_fails_with_one_line(generator: Generator, source: str) -> None:
    runner = CliRunner()
    window = ["--start", day(6).date().isoformat(), "--end", day(7).date().isoformat()]
    result = runner.invoke(app, ["replay", "--entity", "products", *window, "--source-system", source])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "no committed batch" in result.stderr

    load = runner.invoke(
        app,
        ["ingest", "--entity", "products", *window, "--api-url", generator.url, "--source-system", source],
    )
    assert load.exit_code == 0, load.output
    result = runner.invoke(
        app, ["replay", "--entity", "products", *window, "--from", "quarantine", "--source-system", source]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok products [2003-03-07T00:00:00Z, 2003-03-08T00:00:00Z): received=")

    for bad, message in [
        (["--entity", "invoices"], "--entity must be one of"),
        (["--entity", "products", "--from", "api"], "--from must be archive or quarantine"),
        (["--entity", "products", "--batch", "nope"], "--batch is not a batch id"),
    ]:
        result = runner.invoke(app, ["replay", *bad, *window])
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ")
        assert message in result.stderr and result.stderr.strip().count("\n") == 0
