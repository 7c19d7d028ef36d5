"""Credentials from the platform's Airflow Connections, for code running inside Airflow.

Airflow processes (`make up` starts them with `DRP_CREDENTIALS_FROM=airflow`) hold no `DRP_*`
secret and read no `.env`: a task asks Airflow's secrets backends for three connections and takes
the hosts, ports and credentials of Postgres, the object store and the generator API from them,
and a fourth: the alert webhook's URL (often a secret: Slack's carries a token), if any.
Which backend answers (environment variables here, Vault or a cloud secrets manager on a cluster)
is Airflow's configuration, not ours. Everything downstream (psycopg, DuckDB's S3 secret, dbt's
profile, the generator client) is built from the resulting `Settings`, so there is one definition
of each credential per process.

The connections are rendered from `.env` by `drpctl.stack.connections`; this module reads them
back. The field mapping is the inverse of that rendering (tested as a round trip).
"""

from __future__ import annotations

from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from drp.errors import ConfigError

POSTGRES_CONN_ID: Final = "drp_postgres"
OBJECT_STORE_CONN_ID: Final = "drp_object_store"
GENERATOR_CONN_ID: Final = "drp_generator"
# Always defined, with no host when no webhook is set (alerts are then recorded, not sent): a
# lookup of an undefined connection falls through to the metadata-DB backend, which inside the
# scheduler (the audit listener reads the settings) closed the scheduler loop's session and
# detached its DagRuns: the scheduler crashed in a loop.
ALERT_WEBHOOK_CONN_ID: Final = "drp_alert_webhook"
CONN_IDS: Final = (POSTGRES_CONN_ID, OBJECT_STORE_CONN_ID, GENERATOR_CONN_ID, ALERT_WEBHOOK_CONN_ID)

# The secrets the connections carry: the only ones a task needs.
CONNECTION_SECRET_FIELDS: Final = ("postgres_password", "s3_access_key", "s3_secret_key", "generator_api_key")


class ConnectionLike(Protocol):
    """What is read of an Airflow `Connection` (the Task SDK's and the core one alike)."""

    host: str | None
    port: int | None
    login: str | None
    password: str | None
    schema: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def _required(conn_id: str, name: str, value: Any) -> Any:
    if value in (None, ""):
        raise ConfigError(f"Airflow connection {conn_id} has no {name}: recreate it with `make up`")
    return value


def postgres_fields(conn: ConnectionLike) -> dict[str, Any]:
    """Settings fields from the Postgres connection (`schema` is the database)."""
    cid = POSTGRES_CONN_ID
    return {
        "postgres_host": _required(cid, "host", conn.host),
        "postgres_port": conn.port or 5432,
        "postgres_user": _required(cid, "login", conn.login),
        "postgres_password": _required(cid, "password", conn.password),
        "postgres_db": _required(cid, "schema (database)", conn.schema),
    }


def object_store_fields(conn: ConnectionLike) -> dict[str, Any]:
    """Settings fields from the AWS connection of the object store (endpoint_url in its extra)."""
    cid = OBJECT_STORE_CONN_ID
    extra = conn.extra_dejson
    endpoint = urlsplit(str(_required(cid, "endpoint_url extra", extra.get("endpoint_url"))))
    if endpoint.scheme not in {"http", "https"} or not endpoint.hostname:
        raise ConfigError(f"Airflow connection {cid}: endpoint_url must be http(s)://host:port")
    fields: dict[str, Any] = {
        "s3_host": endpoint.hostname,
        "s3_port": endpoint.port or (443 if endpoint.scheme == "https" else 80),
        "s3_secure": endpoint.scheme == "https",
        "s3_access_key": _required(cid, "login (access key)", conn.login),
        "s3_secret_key": _required(cid, "password (secret key)", conn.password),
    }
    if extra.get("region_name"):
        fields["s3_region"] = extra["region_name"]
    return fields


def generator_fields(conn: ConnectionLike) -> dict[str, Any]:
    """Settings fields from the generator's HTTP connection (the API key is its password)."""
    cid = GENERATOR_CONN_ID
    return {
        "generator_host": _required(cid, "host", conn.host),
        "generator_port": conn.port or 80,
        "generator_api_key": _required(cid, "password (API key)", conn.password),
    }


def alert_webhook_fields(conn: ConnectionLike) -> dict[str, Any]:
    """Settings fields from the alert webhook's HTTP connection: its host is the whole URL
    (`make up` writes it quoted whole: `http://https%3A%2F%2Fhost%2Fpath`), none for no webhook."""
    cid = ALERT_WEBHOOK_CONN_ID
    url = conn.host or ""
    if not url:
        return {"alert_webhook_url": ""}
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"Airflow connection {cid}: host must be the webhook's http(s):// URL")
    return {"alert_webhook_url": url}


def credential_fields(connections: dict[str, ConnectionLike]) -> dict[str, Any]:
    """All settings fields the platform's connections define, keyed by field name."""
    return {
        **postgres_fields(connections[POSTGRES_CONN_ID]),
        **object_store_fields(connections[OBJECT_STORE_CONN_ID]),
        **generator_fields(connections[GENERATOR_CONN_ID]),
        **alert_webhook_fields(connections[ALERT_WEBHOOK_CONN_ID]),
    }


def airflow_connections() -> dict[str, ConnectionLike]:
    """The platform's connections, from Airflow's secrets backends (any Airflow process)."""
    # Lazy: the CLI and the tests import the runtime package without Airflow's machinery.
    from airflow.sdk import Connection  # noqa: PLC0415

    found: dict[str, ConnectionLike] = {}
    for conn_id in CONN_IDS:
        try:
            found[conn_id] = Connection.get(conn_id)
        except Exception as exc:  # AirflowNotFoundException, or a backend that failed
            raise ConfigError(
                f"Airflow connection {conn_id} is not available ({type(exc).__name__}: {exc}); "
                "`make up` defines it from .env (AIRFLOW_CONN_" + conn_id.upper() + ")"
            ) from exc
    return found
