"""What a supervised Airflow process was started with (tasks inherit it)."""

from __future__ import annotations

import configparser
from pathlib import Path

from supervisor.datatypes import dict_of_key_value_pairs

from drp.connections import CONNECTION_SECRET_FIELDS
from drp.settings import SECRET_FIELDS, Settings
from drpctl.stack.supervisor import Supervisor


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def program_environ(settings: Settings, program: str) -> dict[str, str]:
    """The environment supervisord started `program` with: its own environment (read from /proc:
    what every program inherits) overlaid with the program's `environment=` in the running config.

    Not the program's own /proc environ: a Celery worker retitles itself (setproctitle), which
    overwrites the memory /proc/<pid>/environ shows.
    """
    sup = Supervisor(settings)
    daemon_pid = int(sup.paths["pid"].read_text().strip())
    config = configparser.RawConfigParser()
    config.read_string(sup.paths["conf"].read_text())
    line = config[f"program:{program}"].get("environment", "")
    own = {key: value.replace("%%", "%") for key, value in dict_of_key_value_pairs(line).items()}
    info = sup.info(program)
    assert info and info["statename"] == "RUNNING", (program, info)
    return {**_environ(daemon_pid), **own}


def assert_no_drp_secret(env: dict[str, str], settings: Settings, where: str) -> None:
    """An Airflow process's environment: no `.env`, no DRP_* secret (by name or by value), not the
    superuser DSN, and credentials from the connections."""
    assert not {f"DRP_{name.upper()}" for name in SECRET_FIELDS} & set(env), where
    values = {getattr(settings, name).get_secret_value() for name in CONNECTION_SECRET_FIELDS}
    assert not [k for k, v in env.items() if k.startswith("DRP_") and v in values], where
    assert "DRP_POSTGRES_ADMIN_DSN" not in env, where  # the superuser's: `make up` alone reads it
    assert "DRP_ALERT_WEBHOOK_URL" not in env, where  # a connection (drp_alert_webhook) when set
    assert env.get("DRP_ENV_FILE") == "/dev/null", where
    assert env.get("DRP_CREDENTIALS_FROM") == "airflow", where


def assert_holds_no_drp_secret(settings: Settings, program: str) -> None:
    """The running program was started with an environment `assert_no_drp_secret` accepts."""
    assert_no_drp_secret(program_environ(settings, program), settings, program)
