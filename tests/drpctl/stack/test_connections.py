"""The platform's Airflow connections, as `make up` leaves them, used through the providers' hooks."""

from __future__ import annotations

import uuid

import pytest

from drp.settings import Settings
from drpctl.driver.airflow_api import AirflowClient
from drpctl.stack.airflow import OBJECT_STORE_CONN_ID
from drpctl.stack.connections import GENERATOR_CONN_ID, POSTGRES_CONN_ID

pytestmark = pytest.mark.integration


def test_make_up_created_the_connections_from_the_settings(settings: Settings) -> None:
    api = AirflowClient(settings)
    try:
        postgres = api.call("GET", f"/connections/{POSTGRES_CONN_ID}")
        generator = api.call("GET", f"/connections/{GENERATOR_CONN_ID}")
        # One definition: the object store's lives in the environment, not also in the metadata DB.
        assert not api.exists(f"/connections/{OBJECT_STORE_CONN_ID}")
    finally:
        api.close()
    assert (postgres["conn_type"], postgres["host"], postgres["port"]) == (
        "postgres",
        settings.postgres_host,
        settings.postgres_port,
    )
    assert (postgres["login"], postgres["schema"]) == (settings.postgres_user, settings.postgres_db)
    assert (generator["conn_type"], generator["host"]) == ("http", settings.generator_url)


def test_the_hooks_reach_postgres_and_the_object_store_through_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook looks the connection up by id and uses it, with no DRP_* value. A task reaches the
    metadata DB's connections through the execution API; this process, like the API server,
    reads them from the metadata DB (Airflow's server context)."""
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: PLC0415 - Airflow is slow to import
    from airflow.providers.postgres.hooks.postgres import PostgresHook  # noqa: PLC0415

    assert PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_first("select current_database()") == (
        settings.postgres_db,
    )
    s3 = S3Hook(aws_conn_id=OBJECT_STORE_CONN_ID)
    key = f"tests/{uuid.uuid4()}.txt"
    s3.load_string("hello", key, bucket_name=settings.s3_bucket_logs)
    try:
        assert s3.read_key(key, bucket_name=settings.s3_bucket_logs) == "hello"
    finally:
        s3.delete_objects(settings.s3_bucket_logs, [key])
