from __future__ import annotations

import configparser
import os
import re
from pathlib import Path

import pytest

from drp.settings import SECRET_FIELDS, Settings, load_settings
from drpctl.stack.airflow import airflow_env
from drpctl.stack.supervisor import programs, render_config, worker_names

pytestmark = pytest.mark.unit


def test_rendered_config_stops_process_groups_and_binds_loopback(tmp_path: Path) -> None:
    settings = load_settings(
        state_dir=tmp_path, **{name: f"secret-{name}-with-%-sign" for name in SECRET_FIELDS}
    )
    progs = programs(settings, local_postgres=False)
    parser = configparser.RawConfigParser()
    parser.read_string(render_config(settings, progs))
    names = {section.split(":", 1)[1] for section in parser.sections() if section.startswith("program:")}
    assert names == {
        "seaweedfs",
        "generator",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    for name in names:
        section = parser[f"program:{name}"]
        assert section["stopasgroup"] == "true"
        assert section["killasgroup"] == "true"
        assert section["autostart"] == "false"  # `up` starts them in dependency order
    assert f"-ip.bind={settings.s3_host}" in parser["program:seaweedfs"]["command"]
    assert "--skip-serve-logs" in parser["program:airflow-scheduler"]["command"]
    # '%' is escaped for supervisord's interpolation.
    assert "%%-sign" in parser["program:airflow-scheduler"]["environment"]


def _programs_config(settings: Settings, **kwargs: bool) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(render_config(settings, programs(settings, local_postgres=False, **kwargs)))
    return parser


def _environment(section: configparser.SectionProxy) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', section["environment"]))


def test_celery_adds_workers_each_with_its_own_directory_and_name(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, executor="celery", celery_workers=2)
    parser = _programs_config(settings)
    workers = [s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:airflow-worker-")]
    assert workers == worker_names(settings) == ["airflow-worker-1", "airflow-worker-2"]
    assert "program:airflow-flower" in parser and "program:redis" not in parser
    dirs, state_dirs = set(), set()
    for name in workers:
        section = parser[f"program:{name}"]
        env = _environment(section)
        # supervisord expands %(...)s and reads a lone % as an error: Celery's %h is doubled.
        assert f"--celery-hostname {name}.drp.{settings.airflow_db}@%%h" in section["command"]
        assert env["DRP_WORKER_HOSTNAME"] == name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        # No secret and no `.env`: credentials come from the connections (drp.connections).
        assert env["DRP_CREDENTIALS_FROM"] == "airflow" and env["DRP_ENV_FILE"] == os.devnull
        assert "DRP_POSTGRES_PASSWORD" not in env and "AIRFLOW_CONN_DRP_POSTGRES" in env
        dirs.add(section["directory"])
        state_dirs.add(env["DRP_STATE_DIR"])
    assert len(dirs) == len(state_dirs) == 2
    scheduler = _environment(parser["program:airflow-scheduler"])
    assert scheduler["AIRFLOW__CELERY__BROKER_URL"] == settings.redis_url
    assert scheduler["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert "DRP_WORKER_HOSTNAME" not in scheduler


def test_celery_starts_its_own_redis_only_when_none_answers(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, executor="celery", redis_url="redis://127.0.0.1:6390/0")
    command = _programs_config(settings, local_redis=True)["program:redis"]["command"]
    assert "--port 6390" in command and "--bind 127.0.0.1" in command


def test_the_local_executor_has_no_workers(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    parser = _programs_config(settings, local_redis=True)
    assert worker_names(settings) == []
    assert not [s for s in parser.sections() if "worker" in s or "flower" in s or "redis" in s]
    assert _environment(parser["program:airflow-scheduler"])["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_task_logs_go_to_the_object_store_through_an_aws_connection(tmp_path: Path) -> None:
    settings = load_settings(
        state_dir=tmp_path, s3_access_key="key/with:odd@chars", s3_secret_key="s3cr+t", s3_port=9123
    )
    env = airflow_env(settings)
    assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "True"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == f"s3://{settings.s3_bucket_logs}/airflow"
    conn_id = env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"]
    # Airflow parses the URI back to the same credentials and endpoint.
    from airflow.models.connection import Connection  # noqa: PLC0415 - slow import, one test

    conn = Connection(conn_id=conn_id, uri=env[f"AIRFLOW_CONN_{conn_id.upper()}"])
    assert (conn.conn_type, conn.login, conn.password) == ("aws", "key/with:odd@chars", "s3cr+t")
    assert conn.extra_dejson == {"endpoint_url": "http://127.0.0.1:9123", "region_name": settings.s3_region}


def test_supervisord_passes_on_no_exported_drp_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Programs inherit supervisord's environment: a secret exported in the caller's shell stays out."""
    from drpctl.stack.supervisor import daemon_env  # noqa: PLC0415

    monkeypatch.setenv("DRP_POSTGRES_PASSWORD", "exported-by-hand")
    monkeypatch.setenv("DRP_POSTGRES_ADMIN_DSN", "postgresql://postgres:pw@db/postgres")
    monkeypatch.setenv("DRP_S3_HOST", "s3.internal")
    env = daemon_env()
    assert "DRP_POSTGRES_PASSWORD" not in env and "DRP_POSTGRES_ADMIN_DSN" not in env
    assert env["DRP_S3_HOST"] == "s3.internal"


def test_the_generator_gets_its_key_from_its_program_config(tmp_path: Path) -> None:
    """A key only exported in the shell (never written to .env) still reaches the generator."""
    settings = load_settings(state_dir=tmp_path, generator_api_key="exported-key-123")
    (generator,) = [p for p in programs(settings, local_postgres=False) if p.name == "generator"]
    assert generator.env["DRP_GENERATOR_API_KEY"] == "exported-key-123"


def test_deployments_sharing_a_broker_use_queues_of_their_own(tmp_path: Path) -> None:
    """The platform's and a bench's deployment on one Redis: neither takes the other's tasks."""
    ours = load_settings(state_dir=tmp_path, executor="celery")
    bench = load_settings(state_dir=tmp_path, executor="celery", airflow_db="airflow_bench_x")
    queues = {airflow_env(s)["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] for s in (ours, bench)}
    assert queues == {"drp.airflow", "drp.airflow_bench_x"}
    ours_commands = {p.command for p in programs(ours, local_postgres=False) if "worker" in p.name}
    bench_commands = {p.command for p in programs(bench, local_postgres=False) if "worker" in p.name}
    assert len(ours_commands) == 2 and not ours_commands & bench_commands
