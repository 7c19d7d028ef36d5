"""Bad configuration fails fast with one line naming the setting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from drp.errors import ConfigError
from drp.settings import Settings
from drpctl.stack.native import _check_ports
from drpctl.stack.supervisor import Supervisor

DRP = str(Path(sys.executable).parent / "drp")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRP, *args], capture_output=True, text=True, check=False, env={**os.environ, **env}
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DRP_AIRFLOW_ADMIN_PASSWORD": ""}, "DRP_AIRFLOW_ADMIN_PASSWORD"),
        ({"DRP_GENERATOR_API_KEY": "changeme"}, "DRP_GENERATOR_API_KEY"),
        ({"DRP_POSTGRES_ADMIN_DSN": "mysql://root@localhost/x"}, "DRP_POSTGRES_ADMIN_DSN"),
        ({"DRP_POSTGRES_PORT": "fivefourthreetwo"}, "DRP_POSTGRES_PORT"),
    ],
)
def test_cli_reports_bad_config_in_one_line(env: dict[str, str], variable: str) -> None:
    result = _run("status", **env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.unit
def test_port_in_use_is_named(tmp_path: Path, settings: Settings) -> None:
    with socket.socket() as held:
        held.bind((settings.generator_host, 0))
        held.listen()
        port = held.getsockname()[1]
        isolated = settings.model_copy(
            update={
                "state_dir": tmp_path,
                "generator_port": port,
                "s3_port": _free_port(),
                "airflow_port": _free_port(),
            }
        )
        with pytest.raises(ConfigError, match=f"DRP_GENERATOR_PORT={port} is already in use"):
            _check_ports(isolated, Supervisor(isolated))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
