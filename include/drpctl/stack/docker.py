"""The Docker path: `docker compose` when a Docker engine answers."""

from __future__ import annotations

import os
import shutil
import subprocess

from drp.settings import PROJECT_ROOT


def engine_available() -> bool:
    """True when a Docker engine answers (the client alone is not enough).

    `DRP_RUNTIME=native` forces the native stack even where Docker runs.
    """
    if os.environ.get("DRP_RUNTIME", "auto") == "native":
        return False
    if os.environ.get("DRP_RUNTIME") == "docker":
        return True
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def compose(*args: str) -> int:
    """Run `docker compose <args>` in the project root with `.env`; returns its exit code."""
    cmd = ["docker", "compose", "--env-file", str(PROJECT_ROOT / ".env"), *args]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, check=False).returncode
