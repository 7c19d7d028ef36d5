"""Airflow 3 configuration for the native stack, as environment variables.

Everything Airflow needs is derived from our settings, so `.env` stays the one place to
configure the platform. The same environment is used by the supervised services and by
`drp airflow …` CLI calls.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

from drp.settings import PROJECT_ROOT, Settings
from drpctl.stack.connections import OBJECT_STORE_CONN_ID, connections_env


def airflow_home(settings: Settings) -> Path:
    return settings.state_dir / "airflow"


def passwords_file(settings: Settings) -> Path:
    return airflow_home(settings) / "simple_auth_manager_passwords.json"


def celery_queue(settings: Settings) -> str:
    """This deployment's Celery queue. One per Airflow metadata DB: deployments sharing a Redis
    (ours and the benches' on one machine) never take each other's tasks. The scheduler sends
    every task there and the workers consume it (`[operators] default_queue` is both defaults)."""
    return f"drp.{settings.airflow_db}"


def celery_node_name(settings: Settings, worker: str) -> str:
    """A worker's Celery node name (before `@host`): its own name within this deployment's."""
    return f"{worker}.{celery_queue(settings)}"


def executor_env(settings: Settings) -> dict[str, str]:
    """The executor and, for Celery, its broker (Redis), result backend (the metadata DB) and Flower."""
    if settings.executor == "local":
        return {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": settings.redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
        + settings.sqlalchemy_url(settings.airflow_db, driver="psycopg2"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.celery_worker_concurrency),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": celery_queue(settings),
        "AIRFLOW__CELERY__FLOWER_HOST": settings.flower_host,
        "AIRFLOW__CELERY__FLOWER_PORT": str(settings.flower_port),
        # A task whose worker died (its heartbeats stop) is failed, and retried elsewhere, after a
        # minute instead of five.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
    }


def remote_log_folder(settings: Settings) -> str:
    """Where task logs live in the object store: `<this>/dag_id=…/run_id=…/task_id=…/attempt=N.log`."""
    return f"s3://{settings.s3_bucket_logs}/airflow"


def remote_logging_env(settings: Settings) -> dict[str, str]:
    """Task logs go to the object store, so the API server reads a log wherever the task ran."""
    return {
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": remote_log_folder(settings),
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": OBJECT_STORE_CONN_ID,
        "AIRFLOW__LOGGING__ENCRYPT_S3_LOGS": "False",
    }


# Every Airflow process's tasks take their credentials from the platform's connections
# (drp.connections), not from DRP_* variables or `.env`.
CREDENTIALS_FROM_CONNECTIONS: Final = {"DRP_CREDENTIALS_FROM": "airflow"}


def airflow_env(settings: Settings) -> dict[str, str]:
    """AIRFLOW__* variables for the configured executor on the Postgres metadata DB."""
    home = airflow_home(settings)
    return {
        **executor_env(settings),
        **remote_logging_env(settings),
        **connections_env(settings),
        # Which worker ran a task, in the metadata DB (drp.worker_identity).
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "drp.worker_identity.hostname",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": settings.airflow_fernet_key.get_secret_value(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.airflow_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.sqlalchemy_url(
            settings.airflow_db, driver="psycopg2"
        ),
        "AIRFLOW__API__HOST": settings.airflow_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.airflow_url,
        "AIRFLOW__API__SECRET_KEY": settings.airflow_api_secret_key.get_secret_value(),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": settings.airflow_jwt_secret.get_secret_value(),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # A dead scheduler's tasks are reset (and retried) this often, not every 5 minutes: a run
        # resumes within a minute of a scheduler crash (ADR 0004).
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG": "False",
        # Keep dbt quiet and offline inside tasks.
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def write_passwords_file(settings: Settings) -> Path:
    """The simple auth manager's password file, holding the generated admin password."""
    path = passwords_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({settings.airflow_admin_user: settings.airflow_admin_password.get_secret_value()})
    )
    path.chmod(0o600)
    return path


def cli_env(settings: Settings) -> dict[str, str]:
    """The current environment plus Airflow's, for running `airflow …` commands."""
    return {**os.environ, **airflow_env(settings)}
