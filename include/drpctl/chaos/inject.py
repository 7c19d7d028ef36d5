"""Faults on the running stack: SIGKILL of a component, and short outages of a service.

Supervised services (the Airflow scheduler, DAG processor, triggerer) are killed by the pid
supervisord reports; supervisord restarts a program that died unexpectedly. A task process is
found among the stack's processes (supervisord's descendants, so never another stack's or a
test's): the LocalExecutor runs each task in a child process titled
`airflow worker -- <task instance id>` (its parent, `airflow worker -- LocalExecutor: <id>`,
supervises it and reports the kill). `dbt` is the dbt build the transform group's producer runs.
An outage stops a supervised service (seaweedfs, the generator) and starts it again.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any, Final

import psutil
from supervisor.xmlrpc import SupervisorTransport

from drp.settings import Settings
from drpctl.stack.native import stack_processes
from drpctl.stack.supervisor import state_paths

SUPERVISED: Final = frozenset({"airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"})
TASK_TITLE: Final = "airflow worker -- "
EXECUTOR_TITLE: Final = "airflow worker -- LocalExecutor"
# How long a kill waits for its target to exist (a task process, the dbt build, which starts only
# after the loads) before giving up.
FIND_TIMEOUT: Final = 300.0


@dataclass
class Injection:
    """What was injected, when (seconds after the run was triggered) and what happened."""

    kind: str
    target: str
    at: float = 0.0
    done: bool = False
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "at": round(self.at, 1), "done": self.done,
                "detail": self.detail}  # fmt: skip


def _supervisor(settings: Settings) -> Any:
    transport = SupervisorTransport(None, None, f"unix://{state_paths(settings)['sock']}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def program_states(settings: Settings) -> dict[str, str]:
    return {p["name"]: p["statename"] for p in _supervisor(settings).getAllProcessInfo()}


def ensure_running(settings: Settings, timeout: float = 60) -> dict[str, str]:
    """Start every supervised program that is not running; wait until all are. Returns states."""
    rpc = _supervisor(settings)
    deadline = time.monotonic() + timeout
    while True:
        states = program_states(settings)
        down = [n for n, s in states.items() if s not in {"RUNNING", "STARTING"}]
        if not down and all(s == "RUNNING" for s in states.values()):
            return states
        if time.monotonic() > deadline:
            return states
        for name in down:
            with contextlib.suppress(xmlrpc.client.Fault):
                rpc.startProcess(name, False)
        time.sleep(1)


def _cmdlines(settings: Settings) -> list[tuple[psutil.Process, list[str]]]:
    """This stack's processes (supervisord's descendants) with their command lines: never a
    task or dbt of another stack or test on the same machine."""
    found = []
    for proc in stack_processes(settings):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            found.append((proc, proc.cmdline()))
    return found


def _task_processes(settings: Settings) -> list[psutil.Process]:
    found = []
    for proc, cmd in _cmdlines(settings):
        title = " ".join(cmd)
        if title.startswith(TASK_TITLE) and not title.startswith(EXECUTOR_TITLE):
            found.append(proc)
    return found


def _dbt_processes(settings: Settings) -> list[psutil.Process]:
    found = []
    for proc, cmd in _cmdlines(settings):
        if any(part.endswith("/dbt") or part == "dbt" for part in cmd[:2]) and "build" in cmd:
            found.append(proc)
    return found


def _kill(settings: Settings, target: str, rng: random.Random, stop: threading.Event) -> str:
    """SIGKILL one process of `target`; returns what was killed (or why nothing was)."""
    if target in SUPERVISED:
        pid = int(_supervisor(settings).getProcessInfo(target)["pid"])
        if not pid:
            return f"{target} was not running"
        os.kill(pid, signal.SIGKILL)
        return f"killed {target} pid {pid}"
    finder = _task_processes if target == "task" else _dbt_processes
    deadline = time.monotonic() + FIND_TIMEOUT
    while time.monotonic() < deadline and not stop.is_set():
        procs = sorted(finder(settings), key=lambda p: p.pid)
        if procs:
            proc = rng.choice(procs)
            try:
                title = " ".join(proc.cmdline())[:120]
                proc.send_signal(signal.SIGKILL)
            except psutil.Error as exc:
                return f"{target} pid {proc.pid} vanished before the kill ({type(exc).__name__})"
            return f"killed pid {proc.pid}: {title}"
        time.sleep(0.5)
    return f"no {target} process ran before the run ended or within {FIND_TIMEOUT:.0f}s: nothing killed"


def _outage(settings: Settings, target: str, seconds: float) -> str:
    rpc = _supervisor(settings)
    rpc.stopProcess(target, True)
    time.sleep(seconds)
    rpc.startProcess(target, True)
    return f"stopped {target} for {seconds:.1f}s"


@dataclass
class Injector:
    """Runs the profile's kill and outage in background threads, timed from `start()`."""

    settings: Settings
    seed: str
    injections: list[Injection] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _started: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self, *, kill: str | None, kill_after: float, outage: str | None, outage_after: float,
              outage_seconds: float) -> None:  # fmt: skip
        self._started = time.monotonic()
        rng = random.Random(f"drp-chaos-kill:{self.seed}")
        if kill:
            self._spawn(
                Injection("kill", kill), kill_after, lambda: _kill(self.settings, kill, rng, self._stop)
            )
        if outage:
            self._spawn(
                Injection("outage", outage),
                outage_after,
                lambda: _outage(self.settings, outage, outage_seconds),
            )

    def _spawn(self, injection: Injection, after: float, action: Any) -> None:
        self.injections.append(injection)

        def body() -> None:
            if self._stop.wait(after):  # the run ended first: nothing injected
                injection.detail = "the run ended before the fault's moment"
                return
            injection.at = time.monotonic() - self._started
            try:
                injection.detail = action()
                injection.done = (
                    "nothing killed" not in injection.detail and "vanished" not in injection.detail
                )
            except Exception as exc:  # noqa: BLE001 - a failed injection is reported, not raised
                injection.detail = f"injection failed: {type(exc).__name__}: {exc}"

        thread = threading.Thread(target=body, name=f"chaos-{injection.kind}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def finish(self) -> list[Injection]:
        """Cancel what has not fired yet, wait for what has, bring every service back."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        ensure_running(self.settings)
        return self.injections
