"""`drp run` / `drp backfill` with Airflow down: one line naming Airflow's URL, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drp.settings import load_settings
from drpctl.driver.airflow_api import AirflowClient, AirflowUnreachableError
from drpctl.stack.secrets import ensure_secrets

pytestmark = pytest.mark.unit
DRP = str(Path(sys.executable).parent / "drp")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    """A complete .env of our own (generated secrets), so the test needs no checkout's .env."""
    path = tmp_path / ".env"
    ensure_secrets(path)
    return path


@pytest.mark.parametrize(
    "args", [("run", "--date", "2024-02-10"), ("backfill", "--start", "2024-02-10", "--end", "2024-02-11")]
)
def test_cli_with_airflow_down_prints_one_line(args: tuple[str, ...], env_file: Path) -> None:
    port = _free_port()  # nothing listens here
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRP_")}
    env |= {"DRP_ENV_FILE": str(env_file), "DRP_AIRFLOW_HOST": "127.0.0.1", "DRP_AIRFLOW_PORT": str(port)}
    result = subprocess.run([DRP, *args], capture_output=True, text=True, check=False, env=env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Airflow does not answer at "), lines[0]
    assert f"http://127.0.0.1:{port}" in lines[0]
    assert "make up" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_a_timeout_is_an_unreachable_error(
    env_file: Path, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRP_ENV_FILE", str(env_file))
    settings = load_settings(airflow_host="127.0.0.1", airflow_port=silent_port)
    with pytest.raises(
        AirflowUnreachableError, match=f"Airflow does not answer at http://127.0.0.1:{silent_port}"
    ):
        AirflowClient(settings, timeout=0.5)
