"""`make up` / `make down` / `make status` without Docker: real services under supervisord."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psutil
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from drp.db import migrate
from drp.errors import ConfigError, StackError
from drp.lake.connection import init_lake
from drp.lake.extensions import ensure_extensions, extension_directory
from drp.pools import WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION, WAREHOUSE_POOL_SLOTS
from drp.settings import Settings, env_file_path, load_settings
from drp.storage.object_store import ensure_buckets
from drp.transform.dbt_runner import parse_project
from drpctl.driver.airflow_api import AirflowClient
from drpctl.stack import airflow, health, lake, postgres
from drpctl.stack.secrets import set_env_value
from drpctl.stack.supervisor import (
    VENV_BIN,
    Supervisor,
    log_path,
    programs,
    redis_address,
    render_config,
    seaweed_config_path,
    state_paths,
    worker_dir,
    worker_names,
    worker_settings,
)

Echo = Callable[[str], None]

# SeaweedFS's internal ports (master, volume, filer, admin) besides the S3 port we configure.
SEAWEED_INTERNAL_PORTS = (9333, 9340, 8888, 23646)

# Which supervised programs back each health check.
CHECK_PROGRAMS = {
    "postgres": ("postgres",),
    "object-store": ("seaweedfs",),
    "generator": ("generator",),
    "airflow": ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"),
}


def check_programs(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The supervised programs behind each health check of this configuration."""
    celery = (*worker_names(settings), "airflow-flower")
    return {
        name: celery if name == "celery" else CHECK_PROGRAMS[name] for name in health.check_names(settings)
    }


@dataclass
class UpReport:
    """What `up` did."""

    already_up: bool
    postgres_mode: str
    seconds: float
    checks: list[health.Check] = field(default_factory=list)


def _local_admin_dsn(settings: Settings) -> str:
    """The superuser DSN of the project-local cluster: its socket (trust), as a postgresql:// URL."""
    data = postgres.local_data_dir(settings).resolve()
    return f"postgresql://postgres@/postgres?host={quote(str(data), safe='/')}&port={settings.postgres_port}"


def expose_local_admin_dsn(settings: Settings, env_file: Path) -> Settings:
    """Write the local cluster's admin DSN to `.env`, so tests and tools reach it like a server's.

    Without it, everything that creates databases through DRP_POSTGRES_ADMIN_DSN (the isolated
    databases of the transform, quality and lake tests) would find nothing answering there.
    """
    dsn = _local_admin_dsn(settings)
    if settings.postgres_admin_dsn == dsn:
        return settings
    set_env_value(env_file, "DRP_POSTGRES_ADMIN_DSN", dsn)
    return settings.model_copy(update={"postgres_admin_dsn": dsn})


def postgres_mode(settings: Settings, sup: Supervisor) -> str:
    """'local' when our own cluster runs (or must), 'external' when a server answers the admin DSN."""
    if sup.info("postgres") is not None or (postgres.local_data_dir(settings) / "PG_VERSION").exists():
        return "local"
    return "external" if postgres.answers(settings.postgres_admin_dsn) else "local"


def _check_port_free(host: str, port: int, setting: str) -> None:
    if health.port_in_use(host, port):
        raise ConfigError(
            f"{setting}={port} is already in use by another process on {host}: "
            f"stop that process or set {setting} to a free port in .env"
        )


def _check_ports(settings: Settings, sup: Supervisor) -> None:
    """Fail fast, naming the setting, when a port we are about to bind is taken by someone else."""

    def ours_running(name: str) -> bool:
        info = sup.info(name)
        return bool(info and info["statename"] in {"RUNNING", "STARTING"})

    if not ours_running("generator"):
        _check_port_free(settings.generator_host, settings.generator_port, "DRP_GENERATOR_PORT")
    if not ours_running("airflow-api-server"):
        _check_port_free(settings.airflow_host, settings.airflow_port, "DRP_AIRFLOW_PORT")
    if not ours_running("seaweedfs"):
        _check_port_free(settings.s3_host, settings.s3_port, "DRP_S3_PORT")
        for port in SEAWEED_INTERNAL_PORTS:
            _check_port_free(settings.s3_host, port, f"(SeaweedFS internal port) {port} and DRP_S3_PORT")
    if settings.executor == "celery" and not ours_running("airflow-flower"):
        _check_port_free(settings.flower_host, settings.flower_port, "DRP_FLOWER_PORT")


def _write_service_configs(settings: Settings) -> None:
    s3_config = {
        "identities": [
            {
                "name": "drp",
                "credentials": [
                    {
                        "accessKey": settings.s3_access_key.get_secret_value(),
                        "secretKey": settings.s3_secret_key.get_secret_value(),
                    }
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path = seaweed_config_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(s3_config))
    path.chmod(0o600)
    (settings.state_dir / "seaweedfs" / "data").mkdir(parents=True, exist_ok=True)
    airflow.write_passwords_file(settings)


def _wait(
    settings: Settings, sup: Supervisor, check_names: tuple[str, ...], deadline: float, echo: Echo
) -> list[health.Check]:
    """Poll the checks until all pass; fail naming the service and its log on timeout or crash."""
    pending = set(check_names)
    done: list[health.Check] = []
    last: dict[str, health.Check] = {}
    while pending:
        for name in sorted(pending):
            check = health.CHECKS[name](settings)
            last[name] = check
            if check.healthy:
                pending.discard(name)
                done.append(check)
                echo(f"  {name:<13} healthy  {check.url}")
                continue
            for prog in check_programs(settings)[name]:
                info = sup.info(prog)
                if info and info["statename"] in {"FATAL", "EXITED", "BACKOFF"}:
                    raise StackError(
                        f"exited while starting ({info['statename']})",
                        service=prog,
                        log=str(log_path(settings, prog)),
                    )
        if pending and time.monotonic() > deadline:
            name = sorted(pending)[0]
            prog = check_programs(settings)[name][0]
            raise StackError(
                f"not healthy before the timeout ({last[name].detail or 'no answer'})",
                service=name,
                log=str(log_path(settings, prog)),
            )
        if pending:
            time.sleep(0.5)
    return done


def airflow_db_migrate(settings: Settings) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"],
        env=airflow.cli_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log = settings.state_dir / "logs" / "airflow-db-migrate.log"
        log.write_text(result.stdout + result.stderr)
        raise StackError("`airflow db migrate` failed", service="airflow", log=str(log))


def ensure_airflow_pools(settings: Settings) -> None:
    """The pools the DAG's tasks name (a task in a missing pool is never scheduled)."""
    client = AirflowClient(settings)
    try:
        client.ensure_pool(WAREHOUSE_POOL, WAREHOUSE_POOL_SLOTS, WAREHOUSE_POOL_DESCRIPTION)
    finally:
        client.close()


def prepare_workers(settings: Settings) -> None:
    """Each Celery worker's own directory, with the DuckDB extensions in its state dir: what a
    worker host's image would hold."""
    for name in worker_names(settings):
        (worker_dir(settings, name) / "logs").mkdir(parents=True, exist_ok=True)
        ensure_extensions(extension_directory(worker_settings(settings, name)))


def parse_dbt_project(settings: Settings) -> None:
    """Create the lake's catalog tables (first ATTACH) and write dbt's manifest, which the DAG
    renders its dbt tasks from (Cosmos, no dbt at parse time)."""
    init_lake(settings)
    parse_project(settings)


def _local_postgres_port(settings: Settings, env_file: Path) -> Settings:
    """A free port for a new local cluster, persisted to .env when the configured one is taken."""
    if not health.port_in_use(settings.postgres_host, settings.postgres_port):
        return settings
    with socket.socket() as sock:
        sock.bind((settings.postgres_host, 0))
        port = sock.getsockname()[1]
    set_env_value(env_file, "DRP_POSTGRES_PORT", str(port))
    return load_settings(postgres_port=port)


# Settings that decide which data the services read and write (databases, warehouse, buckets, the
# generator's world). `up` restarts a running stack started with other values instead of reusing it.
DATA_SETTINGS = (
    "postgres_db",
    "airflow_db",
    "lake_catalog_db",
    "lake_data_prefix",
    "warehouse_engine",
    "s3_bucket_raw",
    "s3_bucket_analytics",
    "generator_seed",
    "generator_orders_per_day",
    "generator_faults",
    # and which executor runs the tasks, with how many workers
    "executor",
    "celery_workers",
    "celery_worker_concurrency",
    "redis_url",
)


# Compared only under CeleryExecutor: under LocalExecutor they configure nothing that runs.
CELERY_ONLY_SETTINGS = ("celery_workers", "celery_worker_concurrency", "redis_url")


def data_settings(settings: Settings) -> dict[str, str]:
    return {
        name: ""
        if name in CELERY_ONLY_SETTINGS and settings.executor != "celery"
        else str(getattr(settings, name))
        for name in DATA_SETTINGS
    }


def changed_data_settings(settings: Settings) -> list[str]:
    """`DRP_*` names whose value differs from the running stack's (empty when unknown)."""
    path = state_paths(settings)["data_settings"]
    try:
        running = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    now = data_settings(settings)
    # A stack started before a setting existed ran with its default (LocalExecutor).
    defaults = data_settings(Settings.model_construct())
    return [f"DRP_{name.upper()}" for name in DATA_SETTINGS if running.get(name, defaults[name]) != now[name]]


def _local_redis(settings: Settings, sup: Supervisor) -> bool:
    """Whether the stack runs its own Redis: ours when we run one already (it answers then, but
    must stay in the config), or when none answers."""
    return settings.executor == "celery" and (
        sup.info("redis") is not None or not health.redis_answers(settings)
    )


def _config(settings: Settings, *, local_postgres: bool, local_redis: bool) -> str:
    """The supervisord config of the configured stack."""
    return render_config(settings, programs(settings, local_postgres=local_postgres, local_redis=local_redis))


def up(settings: Settings, *, timeout: float = 240, echo: Echo = print) -> UpReport:
    """Bring every service up and healthy; a no-op when they already are."""
    started = time.monotonic()
    deadline = started + timeout
    sup = Supervisor(settings)
    programs_of_check = check_programs(settings)
    all_checks = tuple(programs_of_check)
    if sup.running():
        changed = changed_data_settings(settings)
        if changed:
            # Reusing it would serve another world or write another database than .env says.
            echo(f"the running stack has other {', '.join(changed)} than now configured: restarting it")
            down(settings, echo=echo)
        else:
            checks = [health.CHECKS[name](settings) for name in all_checks]
            if all(c.healthy for c in checks):
                current = sup.paths["conf"].read_text() if sup.paths["conf"].exists() else ""
                # What runs decides which Postgres and Redis are ours: no probe of the admin DSN.
                wanted = _config(
                    settings,
                    local_postgres=sup.info("postgres") is not None,
                    local_redis=sup.info("redis") is not None,
                )
                if current == wanted:
                    return UpReport(True, postgres_mode(settings, sup), time.monotonic() - started, checks)
                # A newer checkout renders other commands or environments: reload what changed.
                echo("the services' configuration changed: restarting the services it changes")

    mode = postgres_mode(settings, sup)
    if mode == "local" and sup.info("postgres") is None:
        settings = _local_postgres_port(settings, env_file_path())
        echo(
            f"no PostgreSQL answers at DRP_POSTGRES_ADMIN_DSN: using a project-local cluster on "
            f"port {settings.postgres_port}"
        )
        postgres.init_local_cluster(settings)
    _check_ports(settings, sup)
    _write_service_configs(settings)
    local_redis = _local_redis(settings, sup)
    sup.start_daemon(_config(settings, local_postgres=mode == "local", local_redis=local_redis))
    sup.paths["data_settings"].write_text(json.dumps(data_settings(settings), indent=2))

    if mode == "local":
        sup.start("postgres")
        settings = expose_local_admin_dsn(settings, env_file_path())
        admin_dsn = settings.postgres_admin_dsn
        while not postgres.answers(admin_dsn):
            if time.monotonic() > deadline:
                raise StackError(
                    "local cluster did not accept connections",
                    service="postgres",
                    log=str(log_path(settings, "postgres")),
                )
            time.sleep(0.3)
    else:
        admin_dsn = settings.postgres_admin_dsn
    postgres.ensure_role_and_databases(settings, admin_dsn)
    migrate.upgrade(settings)

    for prog in ("seaweedfs", "generator"):
        sup.start(prog)
    if local_redis:
        if not health.redis_answers(settings):
            echo(f"no Redis answers at DRP_REDIS_URL: starting redis-server on {settings.redis_url}")
        sup.start("redis")  # a no-op when ours runs
        _wait_for_port(settings, *redis_address(settings), "redis", deadline, what="redis-server")
    # Buckets need the S3 API up; check_object_store fails until they exist, so wait on the port.
    _wait_for_port(settings, settings.s3_host, settings.s3_port, "seaweedfs", deadline, what="S3 API")
    _retry_until(lambda: ensure_buckets(settings), deadline, "seaweedfs", settings)

    reset = lake.reset_orphaned_lake(settings, admin_dsn)
    if reset:
        echo(reset)
    parse_dbt_project(settings)
    airflow_db_migrate(settings)
    prepare_workers(settings)
    for name in all_checks:
        if name in {"airflow", "celery"}:
            for prog in programs_of_check[name]:
                sup.start(prog)

    checks = _wait(settings, sup, all_checks, deadline, echo)
    ensure_airflow_pools(settings)
    return UpReport(False, mode, time.monotonic() - started, checks)


def _wait_for_port(
    settings: Settings, host: str, port: int, service: str, deadline: float, *, what: str = ""
) -> None:
    """Until something accepts connections at host:port; fail naming the service and its log."""
    while not health.port_in_use(host, port):
        if time.monotonic() > deadline:
            raise StackError(
                f"{what or service} did not open its port",
                service=service,
                log=str(log_path(settings, service)),
            )
        time.sleep(0.3)


def _retry_until(action: Callable[[], object], deadline: float, service: str, settings: Settings) -> None:
    while True:
        try:
            action()
            return
        except (S3Error, HTTPError, OSError) as exc:
            if time.monotonic() > deadline:
                raise StackError(
                    f"not ready: {exc}", service=service, log=str(log_path(settings, service))
                ) from exc
            time.sleep(0.5)


def stack_processes(settings: Settings) -> list[psutil.Process]:
    """supervisord and every process below it."""
    pid = Supervisor(settings).pid()
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def down(settings: Settings, *, echo: Echo = print) -> int:
    """Stop everything `up` started; returns how many processes were stopped."""
    sup = Supervisor(settings)
    procs = stack_processes(settings) if sup.running() else []
    if not procs:
        echo("stack is not running")
        return 0
    sup.shutdown()
    _gone, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive:  # a process that escaped its group: never leave it behind
        echo(f"  killing leftover process {proc.pid} ({proc.name()})")
        proc.kill()
    psutil.wait_procs(alive, timeout=5)
    echo(f"stopped {len(procs)} processes")
    return len(procs)


def status(settings: Settings) -> tuple[list[health.Check], list[dict[str, object]]]:
    """Health of each service, and supervisord's view of each program."""
    return health.check_all(settings), list(Supervisor(settings).all_info())
