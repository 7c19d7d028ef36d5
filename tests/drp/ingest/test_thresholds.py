"""Ingestion thresholds: the rules on their own, then through real loads (generator + Postgres)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from drp.ingest import BatchRejectedError, BatchResult, load_interval, registry
from drp.ingest.thresholds import appeared_with, evaluate, percent
from drp.settings import Settings
from tests.drp.ingest.source import Generator, day


def _with(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


# --- the rules ---------------------------------------------------------------------------------
def test_percent_is_whole_when_exact() -> None:
    assert (percent(1.0), percent(0.2), percent(0.2031), percent(0.0004)) == ("100%", "20%", "20.3%", "0%")


def test_a_renamed_field_is_named_before_other_new_fields() -> None:
    drift = {"channel": 100, "customer_ref": 100, "rare": 3}
    assert appeared_with("customer_id", 100, drift) == ["customer_ref"]
    # Nothing resembles the missing field: every common new field is named.
    assert appeared_with("segment", 100, {"tier": 90, "zone": 60, "rare": 3}) == ["tier", "zone"]
    assert appeared_with("segment", 100, {}) == []


def test_missing_field_names_the_cause_first(settings: Settings) -> None:
    verdict = evaluate(
        settings, entity="orders", received=200, quarantined=200,
        reasons={"missing_field:customer_id": 200}, drift={"customer_ref": 200, "channel": 200},
        history=None,
    )  # fmt: skip
    assert [v.kind for v in verdict.violations] == ["missing_field", "quarantined_share"]
    assert verdict.message() == (
        "`customer_id` missing in 100% of records, `customer_ref` appeared; "
        "100% of 200 records quarantined (limit 20%)"
    )


def test_shares_at_the_limit_pass_and_above_fail(settings: Settings) -> None:
    def judge(quarantined: int, missing: int) -> Any:
        return evaluate(
            settings, entity="orders", received=100, quarantined=quarantined,
            reasons={"missing_field:amount": missing} if missing else {}, drift={}, history=None,
        )  # fmt: skip

    assert not judge(20, 0).rejected  # exactly 20%: allowed
    assert [v.kind for v in judge(21, 0).violations] == ["quarantined_share"]
    assert judge(5, 0).warnings == ()  # exactly the warning share: quiet
    assert judge(6, 0).warnings == ("orders: 6% of 100 records quarantined (warning above 5%)",)
    assert judge(21, 0).warnings == ()  # a violation is not also a warning
    loose = _with(settings, ingest_max_quarantined_share=1.0)
    assert not evaluate(
        loose, entity="orders", received=100, quarantined=50, reasons={"missing_field:amount": 50},
        drift={}, history=None,
    ).rejected  # fmt: skip
    assert [
        v.field
        for v in evaluate(
            loose, entity="orders", received=100, quarantined=51, reasons={"missing_field:amount": 51},
            drift={}, history=None,
        ).violations
    ] == ["amount"]  # fmt: skip


def test_volume_needs_enough_history_and_volume(settings: Settings) -> None:
    def judge(received: int, history: list[int] | None) -> Any:
        return evaluate(
            settings, entity="orders", received=received, quarantined=0, reasons={}, drift={},
            history=history,
        )  # fmt: skip

    assert not judge(10, None).rejected  # not a one-day batch
    assert not judge(10, [1000, 1000]).rejected  # too little history
    assert not judge(1, [40, 40, 40]).rejected  # median too small for a ratio
    assert not judge(500, [1000, 1000, 990]).rejected  # ratio 0.5: allowed
    (low,) = judge(100, [1000, 900, 1100]).violations
    assert low.kind == "volume" and low.limit == 0.5 and low.observed == 0.1
    assert "0.10x the median 1000" in low.message
    (high,) = judge(2500, [1000, 1000, 1000]).violations
    assert high.limit == 2.0


# --- through real loads ------------------------------------------------------------------------


def _load(settings: Settings, generator: Generator, source: str, start: datetime, **kw: Any) -> BatchResult:
    return load_interval(
        settings, "orders", start, start + timedelta(days=1), api_base_url=generator.url,
        source_system=source, **kw,
    )  # fmt: skip


def _status(pg: psycopg.Connection, batch_id: UUID) -> str:
    row = pg.execute("select status from ops.ingest_batches where batch_id = %s", [batch_id]).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.integration
def test_quarantined_share_just_over_and_under_the_threshold(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start = day(30)
    faults = {"invalid": "0.1"}
    baseline = _load(settings, generator, source, start, faults=faults)
    share = baseline.quarantined / baseline.received
    assert 0.05 < share < 0.2
    # The default warning share (5%) is passed: the load succeeds and warns.
    assert len(baseline.warnings) == 1 and "quarantined (warning above 5%)" in baseline.warnings[0]

    # The same data (the generator is deterministic) against a limit just under its share: held.
    strict = _with(settings, ingest_max_quarantined_share=share - 0.001)
    with pytest.raises(BatchRejectedError, match="records quarantined") as info:
        _load(strict, generator, source, start, faults=faults)
    assert info.value.held and _status(pg, baseline.batch_id) == "succeeded"
    assert info.value.result is not None and info.value.result.quarantined == baseline.quarantined

    # A limit at exactly its share: allowed, it supersedes the baseline.
    at_limit = _with(settings, ingest_max_quarantined_share=share, ingest_warn_quarantined_share=share)
    passed = _load(at_limit, generator, source, start, faults=faults)
    assert passed.replaced == (baseline.batch_id,) and passed.warnings == ()
    assert _status(pg, baseline.batch_id) == "replaced"


def _history(settings: Settings, source: str, start: datetime, received: list[int]) -> None:
    """Live one-day batches of the same weekday, 1..n weeks before `start`, through the registry."""
    for weeks, count in enumerate(received, start=1):
        day_start = start - timedelta(weeks=weeks)
        batch_id = uuid4()
        with registry.Registry(settings.postgres_conninfo()) as reg:
            reg.start(batch_id, source, "orders", day_start, day_start + timedelta(days=1))
            with psycopg.connect(settings.postgres_conninfo()) as conn:
                assert registry.succeed(
                    conn, batch_id, registry.Counts(count, count, 0, 0), drift={},
                    archive_key=f"pytest-thresholds/{batch_id}", duration_seconds=0.0,
                )  # fmt: skip
                conn.commit()


@pytest.mark.integration
def test_volume_against_the_same_weekday_history(
    settings: Settings, generator: Generator, source: str, pg: psycopg.Connection
) -> None:
    start = day(60)
    first = _load(settings, generator, source, start)  # no history yet: no volume check
    n = first.received
    assert n > 100

    # Two weeks of history five times this volume: not enough history to judge.
    _history(settings, source, start, [5 * n, 5 * n])
    second = _load(settings, generator, source, start)
    assert second.threshold_violations == ()

    # A third week: the median is 5n, the load is 0.2x of it. Held; the live batch stays.
    _history(settings, source, start - timedelta(weeks=2), [5 * n])
    with pytest.raises(BatchRejectedError, match=r"0\.20x the median") as info:
        _load(settings, generator, source, start)
    assert info.value.held and info.value.kept_live == (second.batch_id,)
    assert _status(pg, second.batch_id) == "succeeded"

    # A window longer than a day is never judged on volume.
    wide = load_interval(
        settings, "orders", start + timedelta(days=1), start + timedelta(days=3),
        api_base_url=generator.url, source_system=source,
    )  # fmt: skip
    assert wide.threshold_violations == ()
