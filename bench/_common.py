"""Helpers shared by the benchmark harness (`bench/run.py`) and its own bench scripts.

Statistics (median with min/max), running a bench script as a subprocess and parsing the JSON it
prints, machine facts (cores, memory, load average), a throw-away generator API process, and a
throw-away lake (its own catalog database and data prefix) for benches that build.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from drp.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"


def log(message: str) -> None:
    """A timestamped progress line on stderr (stdout is reserved for tables and JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- statistics ---------------------------------------------------------------------------------


def summarize(values: Iterable[float | int | None], digits: int = 3) -> dict[str, Any] | None:
    """Median, min, max and the samples of the numbers among `values`; None when there are none."""
    numbers = [float(v) for v in values if v is not None]
    if not numbers:
        return None
    return {
        "median": round(statistics.median(numbers), digits),
        "min": round(min(numbers), digits),
        "max": round(max(numbers), digits),
        "n": len(numbers),
        "samples": [round(v, digits) for v in numbers],
    }


# --- machine ------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: cores, memory, CPU model, load average now."""
    mem_gb = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    cpu_model = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu_model": cpu_model,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- subprocess runs ----------------------------------------------------------------------------


def extract_json(text: str) -> Any:
    """The last JSON object a script printed: a single-line document or an indented one.

    Scans lines from the end for one that opens an object and decodes from there to the end of
    the output (allowing only whitespace after it).
    """
    lines = text.splitlines(keepends=True)
    decoder = json.JSONDecoder()
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line)
    for index in range(len(lines) - 1, -1, -1):
        if not lines[index].startswith("{"):
            continue
        try:
            value, end = decoder.raw_decode(text, offsets[index])
        except json.JSONDecodeError:
            continue
        if text[end:].strip() == "":
            return value
    raise ValueError("no JSON document at the end of the output")


@dataclass
class ScriptRun:
    """One run of a bench script: its parsed JSON (or why there is none) and where its log is."""

    name: str
    command: list[str]
    seconds: float
    returncode: int | None
    log_path: Path
    result: Any = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": " ".join(self.command),
            "seconds": round(self.seconds, 1),
            "returncode": self.returncode,
            "log": str(self.log_path),
            "error": self.error,
            **self.extra,
        }


def run_script(
    name: str,
    args: Sequence[str],
    *,
    log_path: Path,
    timeout: float,
    json_file: Path | None = None,
    accept_returncodes: Sequence[int] = (0,),
) -> ScriptRun:
    """Run `python <args>` from the project root; stdout+stderr go to `log_path`.

    The result is the JSON in `json_file` when given (and written), else the last JSON document
    on stdout. A crash, a timeout or unparsable output is recorded in `error`, never raised.
    """
    command = [sys.executable, *args]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if json_file is not None:
        json_file.unlink(missing_ok=True)
    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    returncode: int | None = None
    error: str | None = None
    with log_path.open("w") as log_file:
        # stdout to a pipe (parsed), stderr merged into the log file as it happens.
        proc = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            start_new_session=True,  # so a timeout can stop the script and everything it started
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            stdout, _ = proc.communicate()
            error = f"timed out after {timeout:.0f}s"
        log_file.write("\n----- stdout -----\n")
        log_file.write(stdout or "")
    seconds = time.perf_counter() - started
    run = ScriptRun(name, command, seconds, returncode, log_path)
    # The 1-minute load average around the run: how much else the machine was doing.
    run.extra = {"load_avg_1m_before": load_before, "load_avg_1m_after": round(os.getloadavg()[0], 2)}
    if error is None and returncode not in accept_returncodes:
        error = f"exit code {returncode}"
    try:
        if json_file is not None and json_file.exists():
            run.result = json.loads(json_file.read_text())
        else:
            run.result = extract_json(stdout or "")
    except (ValueError, OSError) as exc:
        error = error or f"no JSON result: {exc}"
    run.error = error
    return run


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the script's process group, then SIGKILL what is left after 15 s."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


# --- a throw-away generator API -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_generator(orders_per_day: int, *, faults: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """`python -m drp_generator` on a free loopback port with its own volume; (process, base URL).

    Same seed and API key as the platform's generator (read from `.env`), so a window served here
    holds the same records as the same window served by another bench at the same volume.
    """
    port = free_port()
    env = dict(
        os.environ,
        DRP_GENERATOR_ORDERS_PER_DAY=str(orders_per_day),
        DRP_GENERATOR_FAULTS=faults,
        DRP_GENERATOR_PORT=str(port),
    )
    command = [sys.executable, "-m", "drp_generator", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"generator exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError("generator did not answer /health within 60 s")


def stop_process(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


# --- a throw-away lake --------------------------------------------------------------------------


@contextmanager
def isolated_lake(base: Settings, tag: str = "bench") -> Iterator[dict[str, object]]:
    """Settings overrides (`lake_catalog_db`, `lake_data_prefix`) of a new, initialised lake.

    The platform's lake (`drp_lake`, `s3://<analytics>/lake/`) is never touched: a bench gets a
    catalog database `drp_<tag>_lake_<random>` and the prefix `bench-lakes/<random>/`, both
    removed on exit (database dropped, every object under the prefix deleted).
    """
    import secrets  # _common is imported by unit tests: drp imports stay lazy

    from drp.lake.connection import init_lake
    from drpctl.db_admin import create_database, drop_database

    token = secrets.token_hex(4)
    catalog, prefix = f"drp_{tag}_lake_{token}", f"bench-lakes/{token}"
    # The gate's validation results and Data Docs beside the lake (not inside its data path, whose
    # files lake maintenance would take for orphans), removed with it.
    results = f"bench-quality/{token}"
    overrides: dict[str, object] = {
        "lake_catalog_db": catalog,
        "lake_data_prefix": prefix,
        "quality_results_prefix": f"{results}/validations",
        "quality_docs_prefix": f"{results}/data_docs",
    }
    create_database(base.postgres_admin_dsn, catalog, base.postgres_user)
    try:
        init_lake(base.model_copy(update=overrides))
        yield overrides
    finally:
        drop_database(base.postgres_admin_dsn, catalog)
        remove_objects(base, prefix)
        remove_objects(base, results)


def remove_objects(settings: Settings, prefix: str) -> int:
    """Delete every object under `prefix/` in the analytics bucket; returns how many."""
    from minio.deleteobjects import DeleteObject

    from drp.storage.object_store import client

    s3 = client(settings)
    bucket = settings.s3_bucket_analytics
    names = [
        o.object_name
        for o in s3.list_objects(bucket, prefix=f"{prefix.strip('/')}/", recursive=True)
        if o.object_name
    ]
    for error in s3.remove_objects(bucket, (DeleteObject(n) for n in names)):
        log(f"  could not delete s3://{bucket}/{error.name}: {error.message}")
    return len(names)


def prefix_bytes(settings: Settings, prefix: str) -> tuple[int, int]:
    """(bytes, objects) under `prefix/` in the analytics bucket."""
    from drp.storage.object_store import client

    s3 = client(settings)
    total = count = 0
    for obj in s3.list_objects(settings.s3_bucket_analytics, prefix=f"{prefix.strip('/')}/", recursive=True):
        total += obj.size or 0
        count += 1
    return total, count


@contextmanager
def overridden_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block; restore (or remove) them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
