"""The platform's Airflow connections, used through the providers' hooks as a task would."""

from __future__ import annotations

import uuid

import pytest

from drp.settings import Settings
from drpctl.stack.connections import GENERATOR_CONN_ID, OBJECT_STORE_CONN_ID, POSTGRES_CONN_ID

pytestmark = pytest.mark.integration


def test_the_hooks_reach_postgres_the_object_store_and_the_generator(settings: Settings) -> None:
    """Each hook looks its connection up by id (Airflow's environment-variables backend, as every
    Airflow process `make up` starts has it) and uses it: no DRP_* value involved."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: PLC0415 - Airflow is slow to import
    from airflow.providers.http.hooks.http import HttpHook  # noqa: PLC0415
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
    http = HttpHook(method="GET", http_conn_id=GENERATOR_CONN_ID)
    key_header = {"X-API-Key": http.get_connection(GENERATOR_CONN_ID).password}
    assert http.run("/v1/config", headers=key_header).status_code == 200
    assert http.run("/v1/config", extra_options={"check_response": False}).status_code == 401
