"""The gate on what dbt really builds: the suites' contracts must match the dbt project.

Builds `dbt_project/` (dbt-duckdb, a subprocess) over the dbt tests' hand-made three-day raw story
(`tests/drp/transform/raw_fixtures.py`) in an isolated database and lake, then runs the gate on the
lake for each day. The
story is tiny and its amounts are not the source system's (~50 instead of ~400), so the amount
distribution bands are the only critical checks expected to fail; every contract, structural,
reconciliation and integrity check must pass. This is what catches a column renamed or retyped in
dbt without the suites following.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from drp.quality.errors import QualityGateError
from drp.quality.report import QualityReport
from drp.settings import Settings, load_settings
from drp.transform import run_dbt
from tests.drp.quality.gate_runner import RunGate
from tests.drp.transform.dbt_helpers import connect, isolated_database
from tests.drp.transform.raw_fixtures import load_all_days

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

DISTRIBUTION_BANDS = {"staging.orders:amount_mean_in_band", "staging.orders:amount_median_in_band"}


@pytest.fixture(scope="module")
def dbt_story(tmp_path_factory: pytest.TempPathFactory, quality_settings: Settings) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("dbt_story")
    with isolated_database(load_settings(), tmp / "state") as settings:
        with connect(settings) as conn:
            load_all_days(conn)
        result = run_dbt(settings, "build", target_path=tmp / "target")
        assert result.success, "dbt build failed: the dbt project, not the gate, is broken"
        # The gate reads the story's lake; results go to the quality session's database; 0
        # disables the volume checks (a story of 1-5 orders a day has no configured volume).
        yield quality_settings.model_copy(
            update={
                "lake_catalog_db": settings.lake_catalog_db,
                "lake_data_prefix": settings.lake_data_prefix,
                "generator_orders_per_day": 0,
            }
        )


@pytest.mark.parametrize("day", [1, 2, 3])
def test_real_dbt_output_meets_every_contract_and_structural_check(
    dbt_story: Settings, run_gate: RunGate, day: int
) -> None:
    start, end = datetime(2026, 11, day, tzinfo=UTC), datetime(2026, 11, day + 1, tzinfo=UTC)
    try:
        report: QualityReport = run_gate(None, start=start, end=end, settings=dbt_story)
    except QualityGateError as exc:
        report = exc.report
    critical = {f"{failure.suite}:{failure.check}" for failure in report.critical_failures}
    assert critical <= DISTRIBUTION_BANDS, report.summary()
    assert report.result("contracts.columns").success, report.summary()
    assert report.result("reconciliation.daily_orders").success, report.summary()
    assert report.result("staging.orders").rows > 0
    assert report.lake_snapshot_id is not None  # the lake itself was validated, not a file
