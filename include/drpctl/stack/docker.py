"""The Docker path: `docker compose` when `DRP_RUNTIME` says so, or (auto) when an engine answers."""

from __future__ import annotations

import shutil
import subprocess

from drp.errors import ConfigError
from drp.settings import PROJECT_ROOT, Settings, env_file_path

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


def engine_answers() -> bool:
    """True when a Docker engine answers `docker info` (the client alone is not enough)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def use_docker(settings: Settings) -> bool:
    """Whether the stack runs under docker compose, as `DRP_RUNTIME` (`settings.runtime`) decides.

    `native` never asks Docker; `auto` uses Docker when an engine answers; `docker` insists on it.

    Raises:
        ConfigError: `DRP_RUNTIME=docker` and no Docker engine answers.
    """
    if settings.runtime == "native":
        return False
    answers = engine_answers()
    if settings.runtime == "docker" and not answers:
        raise ConfigError(
            "DRP_RUNTIME=docker but no Docker engine answers (`docker info` failed): start Docker, "
            "or set DRP_RUNTIME=auto or native in .env"
        )
    return answers


def compose_profiles(settings: Settings) -> tuple[str, ...]:
    """The compose profiles the settings need: `celery` (Redis, workers, Flower) for that executor."""
    return ("celery",) if settings.executor == "celery" else ()


def compose_argv(*args: str, profiles: tuple[str, ...] = ()) -> list[str]:
    """`docker compose <args>` for the project's compose file, interpolated from `.env`."""
    return [
        "docker",
        "compose",
        "--file",
        str(COMPOSE_FILE),
        "--project-directory",
        str(PROJECT_ROOT),
        "--env-file",
        str(env_file_path()),
        *(arg for profile in profiles for arg in ("--profile", profile)),
        *args,
    ]


def logs_argv(service: str | None, *, lines: int, follow: bool) -> list[str]:
    """What `drp logs` runs in Docker mode: the last `lines` of one service or all, optionally followed."""
    return compose_argv(
        "logs", "-n", str(lines), *(["-f"] if follow else []), *([service] if service else [])
    )


def compose(*args: str, profiles: tuple[str, ...] = ()) -> int:
    """Run `docker compose <args>` (from any directory); returns its exit code."""
    return subprocess.run(compose_argv(*args, profiles=profiles), check=False).returncode
