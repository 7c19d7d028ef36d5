"""Fixtures for ingestion tests: the real generator API in a thread, a private source system.

Every test loads under its own `source_system` (so registry rows, advisory locks and batches never
meet another test's or another engineer's) and on far-past windows (2003/2004); the `source`
fixture deletes everything that source wrote - raw rows, lines, rejects, registry rows and
archives - when the test ends. Nothing is truncated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
import uvicorn

from drp.ingest.archive import archive_key
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from drp_generator.config import GeneratorConfig
from tests.drp.ingest.source import EPOCH, Generator
from tests.drp_generator.served import start_server

RAW_TABLES = (
    "orders_raw", "order_lines_raw", "customers_raw", "products_raw",
    "orders_rejected", "customers_rejected", "products_rejected",
)  # fmt: skip


@pytest.fixture(scope="session")
def start_generator(settings: Settings) -> Iterator[Callable[..., Generator]]:
    """Start generator APIs (uvicorn in daemon threads) on free loopback ports; stopped at exit."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: object) -> Generator:
        params: dict[str, object] = {
            "seed": 20030301,
            "orders_per_day": 1_500,
            "epoch": EPOCH,
            "api_key": settings.generator_api_key.get_secret_value(),
        }
        params.update(overrides)
        config = GeneratorConfig(**params)  # type: ignore[arg-type]
        server, thread, url = start_server(config, start_timeout=20)
        servers.append((server, thread))
        return Generator(url, config)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def generator(start_generator: Callable[..., Generator]) -> Generator:
    """The shared test generator: 1,500 orders a day from 2003-03-01."""
    return start_generator()


def purge_source(settings: Settings, source_system: str) -> int:
    """Delete everything `source_system` loaded: rows, registry rows, archives. Returns batches."""
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "select batch_id, entity, started_at, archive_key from ops.ingest_batches "
            "where source_system = %s",
            [source_system],
        ).fetchall()
        ids = [r[0] for r in rows]
        with conn.transaction():
            for table in RAW_TABLES:
                conn.execute(f"delete from raw.{table} where batch_id = any(%s)", [ids])
            conn.execute("delete from ops.ingest_batches where source_system = %s", [source_system])
    s3 = s3_client(settings)
    for batch_id, entity, started_at, key in rows:
        keys = {key} if key else set()
        # A failed load may have uploaded before failing: its key follows from id and date.
        for shift in (-1, 0, 1):
            keys.add(archive_key(entity, (started_at + timedelta(days=shift)).date(), batch_id))
        for candidate in keys:
            with suppress(Exception):
                s3.remove_object(settings.s3_bucket_raw, candidate)
    return len(ids)


@pytest.fixture
def source(settings: Settings) -> Iterator[str]:
    """A source_system of this test's own; everything it loaded is deleted afterwards."""
    name = f"pytest-ingest-{uuid4().hex[:12]}"
    yield name
    purge_source(settings, name)
