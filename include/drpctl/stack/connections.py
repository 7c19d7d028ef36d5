"""The platform's Airflow Connections, from `.env`.

`drp_postgres` and `drp_generator` live in the metadata DB (encrypted with the Fernet key, shown
under Admin → Connections), created by `make up` through the REST API; tasks reach them through
the execution API wherever they run.

`drp_object_store` is different: a worker's task-log shipper uploads the log after the task's try
has ended. With the connection only in the metadata DB (looked up through the execution API
there), a third of the uploads of our first Celery runs failed with `NoCredentialsError` and
those logs were lost. It is therefore given to every Airflow process by the environment-variables
secrets backend (`AIRFLOW_CONN_DRP_OBJECT_STORE`), which the shipper reads first; a cluster would
put it in a shared secrets backend instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from drp.settings import Settings
from drpctl.driver.airflow_api import AirflowClient

POSTGRES_CONN_ID = "drp_postgres"
GENERATOR_CONN_ID = "drp_generator"


def platform_connections(settings: Settings) -> list[dict[str, Any]]:
    """The REST API bodies of the platform's connections."""
    return [
        {
            "connection_id": POSTGRES_CONN_ID,
            "conn_type": "postgres",
            "description": "drp: platform data (schemas raw, ops)",
            "host": settings.postgres_host,
            "port": settings.postgres_port,
            "login": settings.postgres_user,
            "password": settings.postgres_password.get_secret_value(),
            "schema": settings.postgres_db,
        },
        {
            "connection_id": GENERATOR_CONN_ID,
            "conn_type": "http",
            "description": "drp: the generator API (the source system); the key goes in X-API-Key",
            "host": settings.generator_url,
            "password": settings.generator_api_key.get_secret_value(),
        },
    ]


def object_store_connection(settings: Settings) -> str:
    """`drp_object_store` as an Airflow connection URI (an AWS connection to our endpoint).

    A URI, not JSON: supervisord's environment syntax cannot carry JSON's quotes.
    """
    scheme = "https" if settings.s3_secure else "http"
    login = quote(settings.s3_access_key.get_secret_value(), safe="")
    password = quote(settings.s3_secret_key.get_secret_value(), safe="")
    extra = urlencode(
        {"endpoint_url": f"{scheme}://{settings.s3_endpoint}", "region_name": settings.s3_region}
    )
    return f"aws://{login}:{password}@/?{extra}"


def ensure_connections(settings: Settings, client: AirflowClient) -> list[str]:
    """Create or update each connection (idempotent); returns their ids."""
    ids = []
    for body in platform_connections(settings):
        conn_id = body["connection_id"]
        if client.exists(f"/connections/{conn_id}"):
            client.call("PATCH", f"/connections/{conn_id}", json=body)
        else:
            client.call("POST", "/connections", json=body)
        ids.append(conn_id)
    return ids
