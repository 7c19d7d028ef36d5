"""The running stack: every service answers, with the generated credentials and nothing else."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from minio import Minio
from minio.error import S3Error

from drp.db import migrate
from drp.settings import Settings
from drp.storage.object_store import client

pytestmark = pytest.mark.integration
DRP = str(Path(sys.executable).parent / "drp")


def test_status_lists_every_service_healthy() -> None:
    result = subprocess.run([DRP, "status"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for service in ("postgres", "object-store", "generator", "airflow"):
        line = next(ln for ln in result.stdout.splitlines() if ln.startswith(service))
        assert "healthy" in line and ("http://" in line or "postgresql://" in line), line
    lake = next(ln for ln in result.stdout.splitlines() if ln.startswith("Lake:"))
    assert "catalog drp_lake" in lake and "head snapshot" in lake, lake


def test_airflow_api_accepts_the_generated_password_and_rejects_a_wrong_one(settings: Settings) -> None:
    url = f"{settings.airflow_url}/auth/token"
    user = settings.airflow_admin_user
    good = httpx.post(
        url, json={"username": user, "password": settings.airflow_admin_password.get_secret_value()}
    )
    assert good.status_code == 201
    token = good.json()["access_token"]
    bad = httpx.post(url, json={"username": user, "password": "wrong-" + uuid.uuid4().hex})
    assert bad.status_code == 401
    # The token opens the REST API; no token does not.
    assert (
        httpx.get(
            f"{settings.airflow_url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    assert httpx.get(f"{settings.airflow_url}/api/v2/dags").status_code == 401
    # The UI is served.
    assert httpx.get(settings.airflow_url + "/", follow_redirects=True).status_code == 200


def test_a_file_round_trips_through_the_object_store(settings: Settings) -> None:
    s3 = client(settings)
    key = f"tests/roundtrip/{uuid.uuid4()}.bin"
    payload = uuid.uuid4().bytes * 1000
    s3.put_object(settings.s3_bucket_raw, key, io.BytesIO(payload), len(payload))
    try:
        response = s3.get_object(settings.s3_bucket_raw, key)
        assert response.read() == payload
        response.close()
    finally:
        s3.remove_object(settings.s3_bucket_raw, key)


def test_the_object_store_rejects_wrong_credentials(settings: Settings) -> None:
    intruder = Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key="not-the-secret",
        secure=False,
        region=settings.s3_region,
    )
    with pytest.raises(S3Error) as info:
        intruder.list_objects(settings.s3_bucket_raw).__next__()
    assert info.value.code in {"SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"}


def test_buckets_exist(settings: Settings) -> None:
    s3 = client(settings)
    assert s3.bucket_exists(settings.s3_bucket_raw)
    assert s3.bucket_exists(settings.s3_bucket_analytics)


def _schema_snapshot(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        """
        select table_schema, table_name, column_name, data_type, is_nullable
        from information_schema.columns where table_schema in ('raw', 'ops')
        order by 1, 2, 3
        """
    ).fetchall()


def test_migrations_are_applied_and_reapplying_changes_nothing(
    settings: Settings, pg: psycopg.Connection
) -> None:
    assert migrate.current_revisions(settings) == migrate.head_revisions(settings)
    schemas = {row[0] for row in pg.execute("select nspname from pg_namespace").fetchall()}
    assert {"raw", "ops"} <= schemas
    before = _schema_snapshot(pg)
    assert before, "migrations created no tables"
    migrate.upgrade(settings)
    assert _schema_snapshot(pg) == before
    assert migrate.current_revisions(settings) == migrate.head_revisions(settings)


def test_platform_and_airflow_metadata_use_separate_databases(
    settings: Settings, pg: psycopg.Connection
) -> None:
    with psycopg.connect(settings.postgres_conninfo(settings.airflow_db)) as af:
        tables = {
            r[0] for r in af.execute("select tablename from pg_tables where schemaname='public'").fetchall()
        }
    assert "dag_run" in tables  # Airflow's metadata
    platform_tables = {r[0] for r in pg.execute("select tablename from pg_tables where schemaname='public'")}
    assert "dag_run" not in platform_tables


def test_the_lake_catalog_is_a_database_of_its_own_initialised_by_up(settings: Settings) -> None:
    with psycopg.connect(settings.postgres_conninfo(settings.lake_catalog_db)) as lake_db:
        tables = {r[0] for r in lake_db.execute("select tablename from pg_tables where schemaname='public'")}
        data_path = lake_db.execute("select value from ducklake_metadata where key = 'data_path'").fetchone()
    assert {"ducklake_snapshot", "ducklake_table", "ducklake_data_file"} <= tables
    assert data_path == (settings.lake_data_path,)
