"""A lake of its own for a test: a fresh catalog database and a data prefix nobody else uses.

The platform's lake (`drp_lake`, `s3://<analytics>/lake/`) belongs to everyone on this machine;
tests that build or publish take their own and remove it (database and objects) on exit.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from drp.lake.connection import init_lake
from drp.settings import Settings
from drp.storage.object_store import client
from drpctl.db_admin import create_database, drop_database


@contextmanager
def isolated_lake(base: Settings) -> Iterator[dict[str, str]]:
    """Settings overrides (`lake_catalog_db`, `lake_data_prefix`) of a new, initialised lake."""
    token = secrets.token_hex(4)
    overrides = {"lake_catalog_db": f"drp_test_lake_{token}", "lake_data_prefix": f"test-lakes/{token}"}
    create_database(base.postgres_admin_dsn, overrides["lake_catalog_db"], base.postgres_user)
    try:
        init_lake(base.model_copy(update=overrides))
        yield overrides
    finally:
        drop_database(base.postgres_admin_dsn, overrides["lake_catalog_db"])
        remove_objects(base, overrides["lake_data_prefix"])


def remove_objects(settings: Settings, prefix: str) -> None:
    """Delete every object under `prefix/` in the analytics bucket."""
    s3 = client(settings)
    bucket = settings.s3_bucket_analytics
    for obj in s3.list_objects(bucket, prefix=f"{prefix.strip('/')}/", recursive=True):
        if obj.object_name:
            s3.remove_object(bucket, obj.object_name)


def lake_bytes(settings: Settings) -> int:
    """Bytes of every object under the lake's data prefix."""
    s3 = client(settings)
    objects = s3.list_objects(
        settings.s3_bucket_analytics, prefix=f"{settings.lake_data_prefix}/", recursive=True
    )
    return sum(obj.size or 0 for obj in objects)
