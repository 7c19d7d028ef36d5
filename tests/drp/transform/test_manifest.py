"""The published marts come from one place: the dbt exposure `published_marts`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from drp.errors import PlatformError
from drp.transform.dbt_runner import DBT_MANIFEST_PATH, DBT_PROJECT_DIR
from drp.transform.manifest import PUBLISHED_EXPOSURE, DbtManifestError, published_marts

pytestmark = pytest.mark.unit

# What publication wrote before the list moved into the exposure: its keys must not change.
PUBLISHED = (
    "daily_order_metrics",
    "fct_orders",
    "fct_order_lines",
    "dim_customers",
    "dim_products",
    "dim_date",
)
EXPOSURES_YML = DBT_PROJECT_DIR / "models" / "marts" / "core" / "_core__exposures.yml"


@pytest.fixture(scope="module")
def manifest_path() -> Path:
    if not DBT_MANIFEST_PATH.exists():
        pytest.fail(f"{DBT_MANIFEST_PATH} is missing: `drp prepare` (run by `make up`) writes it")
    return DBT_MANIFEST_PATH


def test_the_exposure_yields_exactly_the_published_marts_in_publish_order(manifest_path: Path) -> None:
    assert published_marts(manifest_path) == PUBLISHED
    assert published_marts() == PUBLISHED  # the default path is the manifest the DAG renders


def test_the_order_is_the_one_written_in_the_exposure(manifest_path: Path) -> None:
    # A stale manifest (yml changed, no `drp prepare`) shows up here, not as a wrong publish.
    exposure = next(
        e for e in yaml.safe_load(EXPOSURES_YML.read_text())["exposures"] if e["name"] == PUBLISHED_EXPOSURE
    )
    written = tuple(re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in exposure["depends_on"])  # type: ignore[union-attr]
    assert published_marts(manifest_path) == written


def _manifest(tmp_path: Path, exposures: dict[str, Any], nodes: dict[str, Any]) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"metadata": {"project_name": "drp"}, "exposures": exposures, "nodes": nodes}))
    return path


def test_models_keep_the_exposure_order_and_sources_are_not_marts(tmp_path: Path) -> None:
    nodes = {f"model.drp.{m}": {"name": m} for m in ("zeta", "alpha", "mid")}
    exposure = {
        "name": PUBLISHED_EXPOSURE,
        "depends_on": {
            "nodes": ["model.drp.zeta", "source.drp.raw.orders", "model.drp.alpha", "model.drp.mid"]
        },
    }
    path = _manifest(tmp_path, {f"exposure.drp.{PUBLISHED_EXPOSURE}": exposure}, nodes)
    assert published_marts(path) == ("zeta", "alpha", "mid")


def test_a_missing_manifest_says_to_run_drp_prepare(tmp_path: Path) -> None:
    with pytest.raises(DbtManifestError, match=r"manifest\.json is missing: run `drp prepare`") as caught:
        published_marts(tmp_path / "target" / "manifest.json")
    assert isinstance(caught.value, PlatformError)
    assert "\n" not in str(caught.value)


def test_a_broken_manifest_says_to_run_drp_prepare(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"exposures": ')
    with pytest.raises(DbtManifestError, match=r"unreadable .*`drp prepare`"):
        published_marts(path)


def test_a_manifest_without_the_exposure_or_its_models_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DbtManifestError, match=f"no exposure '{PUBLISHED_EXPOSURE}'"):
        published_marts(_manifest(tmp_path, {}, {}))
    empty = {"name": PUBLISHED_EXPOSURE, "depends_on": {"nodes": ["source.drp.raw.orders"]}}
    with pytest.raises(DbtManifestError, match="depends on no model"):
        published_marts(_manifest(tmp_path, {"exposure.drp.x": empty}, {}))
