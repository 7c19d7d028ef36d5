"""The suites as data, and the committed GX project generated from them."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from minio import Minio

from drp.quality.docs import build_data_docs, download_data_docs, site_url
from drp.quality.errors import QualityError
from drp.quality.project import GX_ROOT, checkpoint_name, open_context, sync_project
from drp.quality.suites import (
    CONTRACTS,
    SUITES,
    Severity,
    contract_signatures,
    expectation_parameters,
)
from drp.settings import Settings
from drp.storage.object_store import client as s3_client

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
def test_build_data_docs_writes_the_site_to_the_object_store(
    tmp_path: Path, quality_settings: Settings
) -> None:
    root = tmp_path / "great_expectations"
    shutil.copytree(GX_ROOT, root, ignore=shutil.ignore_patterns("uncommitted"))
    assert build_data_docs(root, settings=quality_settings) == site_url(quality_settings)
    # Written to the object store, not under the project (another host reads the same site).
    assert not (root / "uncommitted" / "data_docs").exists()

    # Each build copies GX's static assets (about 4 MB): only those that differ are uploaded.
    s3, bucket = s3_client(quality_settings), quality_settings.s3_bucket_analytics
    css = f"{quality_settings.quality_docs_prefix}/static/styles/data_docs_default_styles.css"
    icon = f"{quality_settings.quality_docs_prefix}/static/images/favicon.ico"
    content = _object_bytes(s3, bucket, css)
    s3.put_object(bucket, css, io.BytesIO(content), len(content), metadata={"marker": "kept"})
    s3.put_object(bucket, icon, io.BytesIO(b"stale"), 5)
    assert build_data_docs(root, settings=quality_settings, sync=False) == site_url(quality_settings)
    assert s3.stat_object(bucket, css).metadata.get("x-amz-meta-marker") == "kept"  # not uploaded again
    assert _object_bytes(s3, bucket, icon) != b"stale"  # a changed asset is uploaded

    index = download_data_docs(quality_settings, tmp_path / "copy")
    assert index == tmp_path / "copy" / "index.html"
    assert "staging.orders" in index.read_text()
    assert (index.parent / "expectations" / "staging" / "orders.html").is_file()
    assert (index.parent / "static" / "styles" / "data_docs_default_styles.css").is_file()


def _object_bytes(s3: Minio, bucket: str, name: str) -> bytes:
    response = s3.get_object(bucket, name)
    try:
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()


@pytest.mark.integration
def test_download_without_a_site_is_one_clear_error(tmp_path: Path, quality_settings: Settings) -> None:
    empty = quality_settings.model_copy(
        update={"quality_docs_prefix": f"{quality_settings.quality_docs_prefix}-none"}
    )
    with pytest.raises(QualityError, match=r"^no Data Docs site at s3://.*-none/index.html: run `make docs`"):
        download_data_docs(empty, tmp_path / "copy")
