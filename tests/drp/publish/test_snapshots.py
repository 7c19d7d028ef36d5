"""Publication writes one snapshot per mart of the dbt exposure, in its order, then the manifest."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from drp.publish.snapshots import manifest_key, publish_marts, snapshot_key
from drp.settings import Settings
from drp.storage.object_store import client
from drp.transform.manifest import published_marts

pytestmark = pytest.mark.integration
DAY = date(1999, 1, 4)


@pytest.fixture
def own_bucket(settings: Settings) -> Iterator[Settings]:
    """The platform's object store with a bucket of the test's own, removed afterwards."""
    local = settings.model_copy(update={"s3_bucket_analytics": f"drp-test-publish-{uuid.uuid4().hex[:8]}"})
    s3 = client(local)
    s3.make_bucket(local.s3_bucket_analytics)
    try:
        yield local
    finally:
        for obj in s3.list_objects(local.s3_bucket_analytics, recursive=True):
            s3.remove_object(local.s3_bucket_analytics, str(obj.object_name))
        s3.remove_bucket(local.s3_bucket_analytics)


def test_publish_exports_every_mart_of_the_exposure_in_its_order(
    own_bucket: Settings, tmp_path: Path
) -> None:
    marts = published_marts()
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema analytics")
        for rows, model in enumerate(marts, start=1):
            con.execute(f"create table analytics.{model} as select range as id from range({rows})")

    result = publish_marts(own_bucket, DAY, run_id="test-run", duckdb_path=warehouse)

    assert [s.model for s in result.snapshots] == list(marts)
    assert result.keys() == [f"analytics/{m}/snapshot_date=1999-01-04/{m}.parquet" for m in marts]
    assert result.keys() == [snapshot_key(m, DAY) for m in marts]
    assert [s.rows for s in result.snapshots] == list(range(1, len(marts) + 1))
    s3 = client(own_bucket)
    stored = {str(o.object_name) for o in s3.list_objects(own_bucket.s3_bucket_analytics, recursive=True)}
    assert stored == {*result.keys(), manifest_key(DAY)}
    response = s3.get_object(own_bucket.s3_bucket_analytics, manifest_key(DAY))
    try:
        manifest = json.loads(response.read())
    finally:
        response.close()
        response.release_conn()
    assert [s["model"] for s in manifest["snapshots"]] == list(marts)
