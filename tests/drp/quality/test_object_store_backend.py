"""The GX store backend in the object store (GX 1.x ships none): GX's store operations on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from great_expectations.exceptions.exceptions import InvalidKeyError

from drp.quality.object_store_backend import ObjectStoreBackend
from drp.settings import Settings
from drp.storage.object_store import client
from tests.isolated_lake import remove_objects

pytestmark = [pytest.mark.integration, pytest.mark.isolated]


@pytest.fixture
def backend(settings: Settings, tmp_path: Path) -> Iterator[ObjectStoreBackend]:
    prefix = f"tests/gx-store-{secrets.token_hex(4)}"
    store = ObjectStoreBackend(bucket=settings.s3_bucket_analytics, prefix=prefix, filepath_suffix=".json")
    store.use_settings(settings.model_copy(update={"state_dir": tmp_path}))
    try:
        yield store
    finally:
        remove_objects(settings, prefix)


def test_gx_keys_round_trip_through_the_object_store(settings: Settings, backend: ObjectStoreBackend) -> None:
    # An Airflow run id: '+' and ':' must survive the object store's listing.
    first = ("orders.suite", "scheduled__2026-01-01T00:00:00+00:00", "20260101T000000.000000Z", "batch=a b")
    second = ("orders.suite", "run 2", "20260102T000000.000000Z", "batch")
    assert not backend.has_key(first)
    backend.set(first, '{"success": true}')
    backend.set(second, '{"success": false}')

    assert backend.has_key(first)
    assert backend.get(first) == '{"success": true}'
    assert sorted(backend.list_keys()) == sorted([first, second])
    assert backend.list_keys(("orders.suite", "run 2")) == [second]
    url = backend.get_url_for_key(first)
    assert url.startswith(
        f"s3://{settings.s3_bucket_analytics}/{backend.prefix}/orders.suite/scheduled__2026-01-01T00:00:00+00:00/"
    )
    assert url.endswith(".json")
    # The object is where the URL says, readable by any other client of the store.
    name = url.removeprefix(f"s3://{settings.s3_bucket_analytics}/")
    assert client(settings).stat_object(settings.s3_bucket_analytics, name).size == len('{"success": true}')

    moved = ("orders.suite", "run 3", "20260103T000000.000000Z", "batch")
    assert backend.move(first, moved) == moved
    assert not backend.has_key(first) and backend.get(moved) == '{"success": true}'
    assert backend.remove_key(moved) and not backend.has_key(moved)
    with pytest.raises(InvalidKeyError):
        backend.get(moved)
    assert backend.config["class_name"] == "ObjectStoreBackend" and backend.config["bucket"]


def test_another_host_reads_the_results_and_keeps_a_local_copy(
    settings: Settings, backend: ObjectStoreBackend, tmp_path: Path
) -> None:
    """What one worker wrote, another reads from the object store (then from its own copy)."""
    key = ("suite", "run", "20260101T000000.000000Z", "batch")
    backend.set(key, '{"success": true}')
    other = ObjectStoreBackend(bucket=backend.bucket, prefix=backend.prefix, filepath_suffix=".json")
    other.use_settings(settings.model_copy(update={"state_dir": tmp_path / "other-host"}))
    assert other.list_keys() == [key]
    assert other.get(key) == '{"success": true}'
    copies = list((tmp_path / "other-host").rglob("*.json"))
    assert len(copies) == 1 and copies[0].read_text() == '{"success": true}'
    assert other.remove_key(key) and not copies[0].exists()
