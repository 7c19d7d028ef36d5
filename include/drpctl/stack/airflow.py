"""Airflow 3 configuration for the native stack, as environment variables.

Everything Airflow needs is derived from our settings, so `.env` stays the one place to
configure the platform. The same environment is used by the supervised services and by
`drp airflow …` CLI calls.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drp.settings import PROJECT_ROOT, Settings


def airflow_home(settings: Settings) -> Path:
    return settings.state_dir / "airflow"


def passwords_file(settings: Settings) -> Path:
    return airflow_home(settings) / "simple_auth_manager_passwords.json"


def airflow_env(settings: Settings) -> dict[str, str]:
    """AIRFLOW__* variables for LocalExecutor on the Postgres metadata DB."""
    home = airflow_home(settings)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
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
