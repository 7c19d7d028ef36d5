"""`make up` twice is a no-op; `make down` leaves no process; `make up` brings it all back.

Ordered last by tests/conftest.py, because it stops and restarts every service.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drp.settings import Settings
from drpctl.stack import health
from drpctl.stack.native import stack_processes
from drpctl.stack.supervisor import Supervisor

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]
DRP = str(Path(sys.executable).parent / "drp")


def _drp(*args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRP, *args], capture_output=True, text=True, check=False, timeout=timeout)


def test_up_down_up(settings: Settings) -> None:
    # Already up (make test started it): a second `up` changes nothing.
    sup = Supervisor(settings)
    programs_before = {info["name"]: info["pid"] for info in sup.all_info()}
    assert programs_before, "the stack is not running under supervisord"
    second = _drp("up")
    assert second.returncode == 0, second.stderr
    assert "already up and healthy" in second.stdout
    assert {info["name"]: info["pid"] for info in sup.all_info()} == programs_before  # nothing restarted

    # Down: every process the stack started is gone and every port is free.
    procs = stack_processes(settings)
    down = _drp("down")
    assert down.returncode == 0, down.stderr
    time.sleep(0.5)
    alive = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left behind: {[(p.pid, p.name()) for p in alive]}"
    for host, port in [
        (settings.s3_host, settings.s3_port),
        (settings.airflow_host, settings.airflow_port),
        (settings.generator_host, settings.generator_port),
    ]:
        assert not health.port_in_use(host, port), f"port {port} still open after down"
    status = _drp("status")
    assert status.returncode == 1  # services are down and status says so

    # Up again from cold: healthy, and the figure is printed.
    started = time.monotonic()
    up = _drp("up")
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stdout + up.stderr
    assert "stack up in" in up.stdout
    print(f"\n`drp up` from stopped to healthy: {elapsed:.1f}s")
    assert _drp("status").returncode == 0
