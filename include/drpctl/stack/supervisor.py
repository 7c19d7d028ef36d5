"""The native stack's services under supervisord, which owns their process groups.

supervisord starts every program in its own process group and stops the whole group
(`stopasgroup`/`killasgroup`), which matters for Airflow: LocalExecutor workers ignore SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import psutil
from supervisor.xmlrpc import SupervisorTransport

from drp.errors import StackError
from drp.settings import PROJECT_ROOT, SECRET_FIELDS, Settings
from drpctl.stack import airflow, postgres

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Program:
    """One supervised service."""

    name: str
    command: str
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stopsignal: str = "TERM"
    stopwaitsecs: int = 20
    group: str | None = None
    # Working directory; default the project root.
    directory: Path | None = None


def state_paths(settings: Settings) -> dict[str, Path]:
    base = settings.state_dir
    return {
        "conf": base / "supervisord.conf",
        "sock": base / "supervisor.sock",
        "pid": base / "supervisord.pid",
        "logs": base / "logs",
        # The settings that decide which data the running services read and write (native.up).
        "data_settings": base / "stack-data-settings.json",
    }


def log_path(settings: Settings, name: str) -> Path:
    return state_paths(settings)["logs"] / f"{name}.log"


def seaweed_config_path(settings: Settings) -> Path:
    return settings.state_dir / "seaweedfs" / "s3.json"


def generator_env(settings: Settings) -> dict[str, str]:
    """The settings that define the generator's world (seed, volume) and its default faults, and
    its API key (which supervisord does not pass on from the caller's environment)."""
    return {
        "DRP_GENERATOR_API_KEY": settings.generator_api_key.get_secret_value(),
        "DRP_GENERATOR_SEED": str(settings.generator_seed),
        "DRP_GENERATOR_ORDERS_PER_DAY": str(settings.generator_orders_per_day),
        "DRP_GENERATOR_FAULTS": settings.generator_faults,
    }


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# Read by `make up` alone: the superuser DSN that creates the role and databases, and how to run
# the stack.
OPERATOR_ONLY_FIELDS = ("postgres_admin_dsn", "runtime")
# Settings that reach Airflow processes only as connections (drp.connections): not secrets every
# deployment must set, but often secret (a Slack webhook URL carries its token).
CONNECTION_ONLY_FIELDS = ("alert_webhook_url",)
# What no Airflow process is given, nor inherits from supervisord.
WITHHELD_FIELDS = (*SECRET_FIELDS, *OPERATOR_ONLY_FIELDS, *CONNECTION_ONLY_FIELDS)


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting except the secrets (and what only `make up` reads), as `DRP_*` variables:
    what a process that reads no `.env` needs to see the same platform."""
    return {
        f"DRP_{name.upper()}": _env_value(value)
        for name in Settings.model_fields
        if name not in WITHHELD_FIELDS and (value := getattr(settings, name)) is not None
    }


def airflow_program_env(settings: Settings) -> dict[str, str]:
    """The environment of every Airflow process: the platform's settings without a secret, no
    `.env`, and credentials from the platform's Airflow Connections (drp.connections), which
    `airflow.airflow_env` defines with the rest of Airflow's configuration."""
    return {
        **settings_env(settings),
        "DRP_ENV_FILE": os.devnull,
        **airflow.CREDENTIALS_FROM_CONNECTIONS,
        **airflow.airflow_env(settings),
    }


def daemon_env() -> dict[str, str]:
    """supervisord's own environment, which every program inherits: the caller's, without a
    `DRP_*` secret or operator-only setting someone exported (each program gets what it needs in
    its config)."""
    withheld = {f"DRP_{name.upper()}" for name in WITHHELD_FIELDS}
    return {key: value for key, value in os.environ.items() if key not in withheld}


def worker_names(settings: Settings) -> list[str]:
    """The Celery workers' programs (none under LocalExecutor)."""
    if settings.executor != "celery":
        return []
    return [f"airflow-worker-{n}" for n in range(1, settings.celery_workers + 1)]


def worker_dir(settings: Settings, name: str) -> Path:
    """A worker's own working and state directory, as if it ran on a host of its own."""
    return settings.state_dir / "workers" / name


def worker_settings(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"state_dir": worker_dir(settings, name) / "state"})


def _worker_programs(settings: Settings, base_env: dict[str, str]) -> list[Program]:
    airflow_bin = VENV_BIN / "airflow"
    result = []
    for name in worker_names(settings):
        own = worker_settings(settings, name)
        env = {
            **base_env,
            # Its own state (ingest spool, DuckDB extensions) and local logs, and its own name in
            # the metadata DB; task logs reach the API server through the object store.
            "DRP_STATE_DIR": str(own.state_dir),
            "DRP_WORKER_HOSTNAME": name,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(worker_dir(settings, name) / "logs"),
        }
        result.append(
            Program(
                name,
                f"{airflow_bin} celery worker --skip-serve-logs "
                f"--celery-hostname {airflow.celery_node_name(settings, name)}@%%h "
                f"--concurrency {settings.celery_worker_concurrency}",
                env=env,
                group="airflow",
                directory=worker_dir(settings, name),
                # A warm shutdown lets running tasks finish; then the group is killed.
                stopwaitsecs=60,
            )
        )
    return result


def programs(settings: Settings, *, local_postgres: bool, local_redis: bool = False) -> list[Program]:
    """Every service the native stack runs, in start order."""
    af_env = airflow_program_env(settings)
    airflow_bin = VENV_BIN / "airflow"
    result: list[Program] = []
    if local_postgres:
        data = postgres.local_data_dir(settings)
        bindir = postgres.find_bindir()
        result.append(
            Program(
                "postgres",
                f"{bindir / 'postgres'} -D {data} -p {settings.postgres_port} -k {data} "
                f"-c listen_addresses={settings.postgres_host}",
                user=postgres.cluster_os_user(),
                stopsignal="INT",
            )
        )
    result += [
        Program(
            "seaweedfs",
            f"{VENV_BIN / 'weed'} mini -dir={settings.state_dir / 'seaweedfs' / 'data'} "
            f"-ip={settings.s3_host} -ip.bind={settings.s3_host} -s3.port={settings.s3_port} "
            f"-s3.config={seaweed_config_path(settings)} -admin.ui=false -webdav=false "
            "-s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false",
        ),
        # Explicit, so that the config shows which source world the API serves.
        Program("generator", f"{sys.executable} -m drp_generator", env=generator_env(settings)),
        Program("airflow-api-server", f"{airflow_bin} api-server", env=af_env, group="airflow"),
        Program(
            "airflow-scheduler", f"{airflow_bin} scheduler --skip-serve-logs", env=af_env, group="airflow"
        ),
        Program("airflow-dag-processor", f"{airflow_bin} dag-processor", env=af_env, group="airflow"),
        Program(
            "airflow-triggerer", f"{airflow_bin} triggerer --skip-serve-logs", env=af_env, group="airflow"
        ),
    ]
    if settings.executor == "celery":
        if local_redis:
            host, port = redis_address(settings)
            result.insert(
                0,
                Program(
                    "redis",
                    f"{redis_server()} --bind {host} --port {port} --save '' --appendonly no",
                    directory=settings.state_dir,
                ),
            )
        result += _worker_programs(settings, af_env)
        result.append(Program("airflow-flower", f"{airflow_bin} celery flower", env=af_env, group="airflow"))
    return result


def redis_address(settings: Settings) -> tuple[str, int]:
    url = urlsplit(settings.redis_url)
    return url.hostname or "127.0.0.1", url.port or 6379


def redis_server() -> str:
    """The `redis-server` binary (Debian's redis-server package) for a broker of our own."""
    found = shutil.which("redis-server")
    if found is None:
        raise StackError(
            "DRP_EXECUTOR=celery needs Redis: nothing answers at DRP_REDIS_URL and no redis-server "
            "is installed (Debian: apt-get install redis-server)",
            service="redis",
        )
    return found


def _env_line(env: dict[str, str]) -> str:
    # supervisord's environment syntax: KEY="value",… with % escaped for its interpolation.
    def quote(value: str) -> str:
        return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'

    return ",".join(f"{key}={quote(value)}" for key, value in env.items())


def render_config(settings: Settings, progs: list[Program]) -> str:
    """supervisord.conf for the given programs; every program starts only when asked."""
    paths = state_paths(settings)
    lines = [
        "[unix_http_server]",
        f"file={paths['sock']}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={paths['logs'] / 'supervisord.log'}",
        f"pidfile={paths['pid']}",
        f"directory={PROJECT_ROOT}",
        "nodaemon=false",
        "silent=true",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{paths['sock']}",
        "",
    ]
    for prog in progs:
        lines += [
            f"[program:{prog.name}]",
            f"command={prog.command}",
            f"directory={prog.directory or PROJECT_ROOT}",
            "autostart=false",
            "autorestart=unexpected",
            "startsecs=2",
            "startretries=2",
            f"stopsignal={prog.stopsignal}",
            f"stopwaitsecs={prog.stopwaitsecs}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={log_path(settings, prog.name)}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if prog.user:
            lines.append(f"user={prog.user}")
        if prog.env:
            lines.append(f"environment={_env_line(prog.env)}")
        lines.append("")
    return "\n".join(lines)


class Supervisor:
    """A handle on the project's supervisord (through its XML-RPC unix socket)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = state_paths(settings)

    def _proxy(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.paths['sock']}")
        # The URL host is ignored by the unix transport.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def running(self) -> bool:
        if not self.paths["sock"].exists():
            return False
        try:
            return bool(self._proxy().supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Fault):
            return False

    def pid(self) -> int | None:
        try:
            return int(self.paths["pid"].read_text().strip())
        except (OSError, ValueError):
            return None

    def start_daemon(self, config: str) -> None:
        """Write the config and start supervisord (or reload it when already running)."""
        self.paths["logs"].mkdir(parents=True, exist_ok=True)
        self.paths["conf"].write_text(config)
        self.paths["conf"].chmod(0o600)  # it holds secrets in program environments
        if self.running():
            self._apply_reloaded_config()
            return
        supervisord = shutil.which("supervisord", path=str(VENV_BIN)) or "supervisord"
        result = subprocess.run(
            [supervisord, "-c", str(self.paths["conf"])],
            capture_output=True,
            text=True,
            check=False,
            env=daemon_env(),
        )
        if result.returncode != 0:
            raise StackError(
                f"supervisord failed to start: {result.stderr.strip()}",
                service="supervisord",
                log=str(self.paths["logs"] / "supervisord.log"),
            )
        deadline = time.monotonic() + 15
        while not self.running():
            if time.monotonic() > deadline:
                raise StackError(
                    "supervisord did not answer on its socket",
                    service="supervisord",
                    log=str(self.paths["logs"] / "supervisord.log"),
                )
            time.sleep(0.1)

    def _apply_reloaded_config(self) -> None:
        """Pick up a rewritten config: add new programs, restart changed ones, drop removed ones."""
        rpc = self._proxy().supervisor
        added, changed, removed = rpc.reloadConfig()[0]
        for name in [*changed, *removed]:
            with contextlib.suppress(xmlrpc.client.Fault):
                rpc.stopProcessGroup(name)
            rpc.removeProcessGroup(name)
        for name in [*added, *changed]:
            rpc.addProcessGroup(name)

    def start(self, name: str) -> None:
        info = self.info(name)
        if info and info["statename"] in {"RUNNING", "STARTING"}:
            return
        try:
            self._proxy().supervisor.startProcess(name, True)
        except xmlrpc.client.Fault as exc:
            raise StackError(
                f"could not start: {exc.faultString}", service=name, log=str(log_path(self.settings, name))
            ) from None

    def info(self, name: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self._proxy().supervisor.getProcessInfo(name))
        except (OSError, xmlrpc.client.Fault):
            return None

    def all_info(self) -> list[dict[str, Any]]:
        if not self.running():
            return []
        return cast(list[dict[str, Any]], self._proxy().supervisor.getAllProcessInfo())

    def shutdown(self, timeout: float = 120) -> None:
        """Stop every program (whole process groups) and supervisord itself, and wait for it."""
        pid = self.pid()
        if not self.running():
            return
        self._proxy().supervisor.shutdown()
        deadline = time.monotonic() + timeout
        while pid and _alive(pid):
            if time.monotonic() > deadline:
                raise StackError(
                    "supervisord did not exit in time",
                    service="supervisord",
                    log=str(self.paths["logs"] / "supervisord.log"),
                )
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
