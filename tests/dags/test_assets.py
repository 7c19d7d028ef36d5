"""The DAG's Asset URIs come from settings and are already in the form Airflow normalises them to."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from drp.assets import published_asset_uri, raw_asset_uri
from drp.ingest.contract import SPECS
from drp.settings import load_settings
from drp_domain import ENTITIES

pytestmark = pytest.mark.unit


def test_raw_assets_name_the_configured_database_and_the_contract_tables() -> None:
    settings = load_settings(
        check_secrets=False, postgres_host="db.internal", postgres_port=6543, postgres_db="platform"
    )
    for entity in ENTITIES:
        uri = raw_asset_uri(settings, entity)
        schema, table = SPECS[entity].raw_table.split(".")
        assert uri == f"postgres://db.internal:6543/platform/{schema}/{table}"
        # Airflow's postgres rules (host:port/database/schema/table) leave it as it is.
        assert Asset(uri).uri == uri


def test_an_ipv6_postgres_host_is_bracketed() -> None:
    settings = load_settings(check_secrets=False, postgres_host="::1")
    uri = raw_asset_uri(settings, "orders")
    assert uri == f"postgres://[::1]:{settings.postgres_port}/{settings.postgres_db}/raw/orders_raw"
    assert Asset(uri).uri == uri


def test_published_assets_name_the_configured_bucket() -> None:
    settings = load_settings(check_secrets=False, s3_bucket_analytics="analytics-prod")
    uri = published_asset_uri(settings, "fct_orders")
    assert uri == "s3://analytics-prod/lake/analytics/fct_orders"  # the mart's folder in the lake
    assert Asset(uri).uri == uri


def test_airflow_refuses_a_postgres_uri_without_a_table() -> None:
    # The rule the raw URIs must meet, so the checks above can fail.
    with pytest.raises(ValueError, match="database, schema, and table"):
        Asset("postgres://db.internal:6543/platform/raw")
