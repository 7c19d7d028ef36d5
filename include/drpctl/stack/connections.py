"""The platform's Airflow Connections, rendered from `.env` into Airflow's environment-variables
secrets backend (`AIRFLOW_CONN_<ID>`, as URIs) for every Airflow process `make up` starts. Tasks
take their credentials from them (`drp.connections` reads them back).

Why not rows in the metadata DB: those are encrypted with the Fernet key of the `.env` that
created them, and a `.env` with another key (a regenerated one, or a second checkout sharing the
database) made the API fail on them (`InvalidToken`, HTTP 500). And the task-log shipper of a
worker uploads after the task's try has ended: with `drp_object_store` only in the metadata DB
(through the execution API), a third of the uploads of our first Celery runs failed with
`NoCredentialsError` and those logs were lost. Every process reads this backend first; a cluster
would use a shared secrets backend (Vault, a cloud secrets manager) the same way.

URIs, not JSON: supervisord's environment syntax cannot carry JSON's quotes.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from drp.connections import ALERT_WEBHOOK_CONN_ID, GENERATOR_CONN_ID, OBJECT_STORE_CONN_ID, POSTGRES_CONN_ID
from drp.settings import Settings

__all__ = [
    "ALERT_WEBHOOK_CONN_ID",
    "GENERATOR_CONN_ID",
    "OBJECT_STORE_CONN_ID",
    "POSTGRES_CONN_ID",
    "connections_env",
    "platform_connections",
]


def _credentials(login: str, password: str) -> str:
    return f"{quote(login, safe='')}:{quote(password, safe='')}"


def _url_as_host(url: str) -> str:
    """An HTTP connection whose host is a whole URL, quoted whole. Not `http://https://...`, the
    form Airflow's `get_uri` writes for another protocol: Airflow's parser strips every
    `http://` from a URI, so an `http://` webhook would read back as no host at all."""
    return f"http://{quote(url, safe='')}"


def platform_connections(settings: Settings) -> dict[str, str]:
    """Connection id → Airflow connection URI."""
    scheme = "https" if settings.s3_secure else "http"
    s3_extra = urlencode(
        {"endpoint_url": f"{scheme}://{settings.s3_endpoint}", "region_name": settings.s3_region}
    )
    pg_login = _credentials(settings.postgres_user, settings.postgres_password.get_secret_value())
    s3_login = _credentials(
        settings.s3_access_key.get_secret_value(), settings.s3_secret_key.get_secret_value()
    )
    return {
        POSTGRES_CONN_ID: (
            f"postgres://{pg_login}@{settings.postgres_host}:{settings.postgres_port}/{quote(settings.postgres_db)}"
        ),
        OBJECT_STORE_CONN_ID: f"aws://{s3_login}@/?{s3_extra}",
        # The generator's key goes in the X-API-Key header; the password carries it.
        GENERATOR_CONN_ID: (
            f"http://:{quote(settings.generator_api_key.get_secret_value(), safe='')}"
            f"@{settings.generator_host}:{settings.generator_port}"
        ),
        # Always defined: `http://` (no host) when no webhook is set (drp.connections says why).
        ALERT_WEBHOOK_CONN_ID: _url_as_host(settings.alert_webhook_url),
    }


def connections_env(settings: Settings) -> dict[str, str]:
    """`AIRFLOW_CONN_<ID>` variables of the platform's connections."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": uri for conn_id, uri in platform_connections(settings).items()}
