"""The suites as data, and the committed GX project generated from them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drp.quality.docs import build_data_docs
from drp.quality.project import GX_ROOT, checkpoint_name, open_context, sync_project
from drp.quality.suites import (
    CONTRACTS,
    SUITES,
    Severity,
    contract_signatures,
    expectation_parameters,
)
from drp.settings import Settings

pytestmark = pytest.mark.isolated  # the session's own quality database (conftest)


@pytest.mark.unit
def test_what_the_dag_imports_at_parse_time_does_not_import_great_expectations() -> None:
    # The DAG file imports the task bodies and the gate's errors; GX (7-9 s) loads only in the gate.
    code = (
        "import sys, drp.tasks, drp.quality, drp.quality.errors, drp.quality.suites; "
        "print(sorted(m for m in ('great_expectations', 'pandas', 'duckdb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.unit
def test_every_check_is_named_and_has_a_severity_and_a_reason() -> None:
    for spec in SUITES:
        assert spec.checks, spec.name
        for check in spec.checks:
            assert check.severity in (Severity.CRITICAL, Severity.WARNING)
            assert check.name.replace("_", "").isalnum(), check.name
            assert check.expectation.startswith("expect_")
            assert check.why


@pytest.mark.unit
def test_the_platforms_six_staging_checks_are_critical() -> None:
    staging = next(spec for spec in SUITES if spec.name == "staging.orders")
    for name in (
        "row_count_min",
        "source_order_id_not_null",
        "source_order_id_unique",
        "customer_id_not_null",
        "amount_non_negative",
        "order_created_at_not_null",
    ):
        assert staging.check(name).severity is Severity.CRITICAL


@pytest.mark.unit
def test_contracts_cover_every_validated_relation() -> None:
    relations = {spec.name for spec in SUITES if spec.name.split(".")[0] in ("staging", "analytics")}
    assert relations == set(CONTRACTS)
    for spec in SUITES:
        if spec.name in CONTRACTS:
            columns = spec.check("columns_match_contract").kwargs["column_set"]
            assert set(columns) == set(CONTRACTS[spec.name])
    assert len(contract_signatures()) == sum(len(columns) for columns in CONTRACTS.values())


@pytest.mark.unit
def test_expectation_parameters_follow_the_interval() -> None:
    start, end = datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
    params = expectation_parameters(start, end, orders_per_day=10)
    assert params["min_orders"] == 1
    assert params["order_created_at_max"] > end
    assert params["order_created_at_min"] < params["order_created_at_recent_min"] < start
    assert expectation_parameters(start, end, orders_per_day=0)["min_orders"] == 0
    used = {
        value["$PARAMETER"]
        for spec in SUITES
        for check in spec.checks
        for value in check.kwargs.values()
        if isinstance(value, dict) and "$PARAMETER" in value
    }
    assert used == set(params)


@pytest.mark.integration
def test_committed_project_is_in_step_with_suites_py(tmp_path: Path) -> None:
    """The JSON under great_expectations/ is generated from suites.py: it must not be stale."""
    root = tmp_path / "great_expectations"
    shutil.copytree(GX_ROOT, root, ignore=shutil.ignore_patterns("uncommitted"))
    assert sync_project(open_context(root), dry_run=True) == [], "run `drp quality sync`"

    for spec in SUITES:
        suite_file = GX_ROOT / "expectations" / (spec.name.replace(".", "/") + ".json")
        body = json.loads(suite_file.read_text())
        assert [e["meta"]["check"] for e in body["expectations"]] == [c.name for c in spec.checks]
        assert [e["meta"]["severity"] for e in body["expectations"]] == [
            c.severity.value for c in spec.checks
        ]
        checkpoint = json.loads((GX_ROOT / "checkpoints" / f"{checkpoint_name(spec.name)}.json").read_text())
        assert [vd["name"] for vd in checkpoint["validation_definitions"]] == [spec.name]


@pytest.mark.integration
def test_sync_writes_a_fresh_project_then_nothing(tmp_path: Path) -> None:
    root = tmp_path / "great_expectations"
    root.mkdir()
    shutil.copy(GX_ROOT / "great_expectations.yml", root / "great_expectations.yml")
    text = (root / "great_expectations.yml").read_text()
    (root / "great_expectations.yml").write_text(text.split("fluent_datasources:")[0])

    context = open_context(root)
    written = sync_project(context)
    assert (
        f"suite {SUITES[0].name}" in written and f"checkpoint {checkpoint_name(SUITES[-1].name)}" in written
    )
    assert sync_project(open_context(root)) == []
    # GX rewrote the YAML: the store's settings stay variables (no bucket of this machine's).
    stores = (root / "great_expectations.yml").read_text()
    assert (
        "bucket: ${DRP_S3_BUCKET_ANALYTICS}" in stores and "prefix: ${DRP_QUALITY_RESULTS_PREFIX}" in stores
    )


@pytest.mark.integration
def test_build_data_docs_returns_the_index(tmp_path: Path, quality_settings: Settings) -> None:
    root = tmp_path / "great_expectations"
    shutil.copytree(GX_ROOT, root, ignore=shutil.ignore_patterns("uncommitted"))
    index = build_data_docs(root, settings=quality_settings)
    assert index == root / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert "staging.orders" in index.read_text()
    assert (index.parent / "expectations" / "staging" / "orders.html").is_file()
