"""The URIs of the Airflow Assets the daily run updates, built from settings.

The DAG names its Assets with these at parse time, so they take settings loaded without secrets
(`load_settings(check_secrets=False)`) and do no I/O. They return plain strings: the runtime does
not import Airflow; tests check that Airflow accepts them unchanged.
"""

from __future__ import annotations

from drp.publish.layout import lake_table_prefix
from drp.settings import Settings

RAW_SCHEMA = "raw"


def raw_asset_uri(settings: Settings, entity: str) -> str:
    """An entity's raw table, `postgres://host:port/database/raw/<entity>_raw`.

    The form the Postgres provider's Asset URI rules require (host, port, database, schema,
    table); the table is the one the ingest contract loads (`raw.<entity>_raw`). Restated, not read
    from `drp.ingest.contract.SPECS`: importing `drp.ingest` at DAG parse time costs ~1.4 s (it
    loads the loader); tests/dags/test_assets.py checks the two agree.
    """
    host = settings.postgres_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"postgres://{host}:{settings.postgres_port}/{settings.postgres_db}/{RAW_SCHEMA}/{entity}_raw"


def published_asset_uri(settings: Settings, model: str) -> str:
    """A published mart: its table's folder in the lake,
    `s3://<analytics bucket>/<lake prefix>/analytics/<model>`."""
    return lake_table_prefix(settings.lake_data_path, model)
