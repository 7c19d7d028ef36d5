"""Run the drp dbt project in a subprocess and return what it did.

dbt runs in a child process, never in-process, so each build starts from a clean DuckDB
instance attached to the lake and releases everything when it exits (docs/transform.md).
The child gets its credentials as `DRP_*` environment variables built from `Settings`, which is
what `dbt_project/profiles.yml` reads; results come from `target/run_results.json`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from drp.errors import PlatformError
from drp.intervals import to_utc
from drp.lake.extensions import ensure_extensions, extension_directory
from drp.settings import PROJECT_ROOT, Settings
from drp.warehouse import postgres

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
"""The dbt project (`dbt_project.yml`)."""
DBT_PROFILES_DIR = DBT_PROJECT_DIR
"""Where `profiles.yml` lives (profile `drp`, targets `duckdb` and `postgres`)."""
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
"""The manifest the DAG renders its dbt tasks from (installed by `parse_project`); dbt commands
work in `work_target_dir`, the docs site beside it."""
DBT_MANIFEST_PATH = DBT_TARGET_DIR / "manifest.json"
DBT_PROFILE_NAME = "drp"

Target = Literal["duckdb", "postgres"]
WRITING_COMMANDS = frozenset({"build", "run", "seed", "snapshot"})
"""dbt commands that write the warehouse's head."""
TARGETS: tuple[Target, ...] = ("duckdb", "postgres")
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
LOG_TAIL_LINES = 60


class DbtError(PlatformError):
    """dbt failed: a node errored or failed, or dbt itself did not run to completion."""

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        returncode: int | None = None,
        failed_nodes: Sequence[NodeResult] = (),
        log_tail: str = "",
        result: DbtResult | None = None,
    ) -> None:
        detail = message
        if failed_nodes:
            listed = "; ".join(
                f"{node.resource_type} {node.name} ({node.status}: {_one_line(node.message)})"
                for node in failed_nodes[:20]
            )
            more = f" and {len(failed_nodes) - 20} more" if len(failed_nodes) > 20 else ""
            detail = f"{detail}: {listed}{more}"
        super().__init__(detail)
        self.command = command
        self.returncode = returncode
        self.failed_nodes = list(failed_nodes)
        self.log_tail = log_tail
        self.result = result


@dataclass(frozen=True)
class NodeResult:
    """One node of a dbt invocation, as run_results.json (or sources.json) reports it."""

    unique_id: str
    name: str
    resource_type: str  # model, test, unit_test, snapshot, seed, source, ...
    status: str  # success, error, skipped, pass, fail, warn, runtime error
    execution_time: float
    message: str | None = None
    failures: int | None = None
    rows_affected: int | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class DbtResult:
    """What one dbt invocation did."""

    command: str
    target: str
    args: list[str]
    returncode: int
    elapsed_seconds: float  # wall clock of the subprocess, startup included
    dbt_elapsed_seconds: float | None  # dbt's own `elapsed_time` (execution only)
    nodes: list[NodeResult] = field(default_factory=list)
    invocation_id: str | None = None
    results_path: Path | None = None
    log_tail: str = ""

    @property
    def success(self) -> bool:
        return self.returncode == 0 and not self.failed_nodes

    def _named(self, resource_types: Iterable[str], statuses: Iterable[str]) -> list[str]:
        types, wanted = set(resource_types), set(statuses)
        return [n.name for n in self.nodes if n.resource_type in types and n.status in wanted]

    @property
    def models_built(self) -> list[str]:
        return self._named(("model", "snapshot", "seed"), ("success",))

    @property
    def models_failed(self) -> list[str]:
        return self._named(("model", "snapshot", "seed"), FAILED_STATUSES)

    @property
    def skipped(self) -> list[str]:
        return [n.name for n in self.nodes if n.status == "skipped"]

    @property
    def tests_passed(self) -> list[str]:
        return self._named(("test", "unit_test"), ("pass",))

    @property
    def tests_failed(self) -> list[str]:
        return self._named(("test", "unit_test"), FAILED_STATUSES)

    @property
    def tests_warned(self) -> list[str]:
        return self._named(("test", "unit_test"), ("warn",))

    @property
    def failed_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.failed]

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per node name, slowest first."""
        ordered = sorted(self.nodes, key=lambda n: n.execution_time, reverse=True)
        return {n.name: n.execution_time for n in ordered}

    def summary(self) -> str:
        return (
            f"dbt {self.command} ({self.target}): {len(self.models_built)} models built, "
            f"{len(self.tests_passed)} tests passed, {len(self.tests_warned)} warned, "
            f"{len(self.tests_failed)} failed, {len(self.skipped)} skipped in {self.elapsed_seconds:.1f}s"
        )


# --- environment -------------------------------------------------------------------------


def dbt_env(
    settings: Settings, target: Target | None = None, *, threads: int | None = None
) -> dict[str, str]:
    """The environment `profiles.yml` reads, on top of the current process environment."""
    return {**os.environ, **profile_env(settings, target, threads=threads)}


def profile_env(
    settings: Settings, target: Target | None = None, *, threads: int | None = None
) -> dict[str, str]:
    """The variables `profiles.yml` reads (credentials included), built from `settings`: inside
    Airflow they come from the platform's connections when the task runs (drp.connections).
    `target` defaults to the warehouse engine's (`settings.dbt_target`)."""
    env: dict[str, str] = {}
    env.update(
        {
            "DRP_DBT_TARGET": target or settings.dbt_target,
            "DRP_POSTGRES_HOST": settings.postgres_host,
            "DRP_POSTGRES_PORT": str(settings.postgres_port),
            "DRP_POSTGRES_USER": settings.postgres_user,
            "DRP_POSTGRES_PASSWORD": settings.postgres_password.get_secret_value(),
            "DRP_POSTGRES_DB": settings.postgres_db,
            "DRP_LAKE_CATALOG_DB": settings.lake_catalog_db,
            "DRP_LAKE_DATA_PATH": settings.lake_data_path,
            "DRP_S3_ENDPOINT": settings.s3_endpoint,
            "DRP_S3_ACCESS_KEY": settings.s3_access_key.get_secret_value(),
            "DRP_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
            "DRP_S3_REGION": settings.s3_region,
            "DRP_S3_USE_SSL": str(settings.s3_secure).lower(),
            "DRP_DUCKDB_EXTENSION_DIR": str(extension_directory(settings)),
            "DRP_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_VERSION_CHECK": "false",
            "DBT_USE_COLORS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if threads is not None or settings.dbt_threads is not None:
        env["DRP_DBT_THREADS"] = str(threads or settings.dbt_threads)
    return env


def interval_vars(
    data_interval_start: datetime | str | None, data_interval_end: datetime | str | None
) -> dict[str, str]:
    """The dbt vars for a half-open data interval (ISO 8601, UTC); empty for all history."""
    if data_interval_start is None and data_interval_end is None:
        return {}
    if data_interval_start is None or data_interval_end is None:
        raise DbtError("data_interval_start and data_interval_end go together (or neither, for all history)")
    start, end = (
        to_utc(data_interval_start, name="data interval start"),
        to_utc(data_interval_end, name="data interval end"),
    )
    if start >= end:
        raise DbtError(f"empty data interval [{start.isoformat()}, {end.isoformat()})")
    return {"data_interval_start": start.isoformat(), "data_interval_end": end.isoformat()}


# --- running -----------------------------------------------------------------------------


def dbt_executable() -> list[str]:
    """The dbt CLI of this interpreter's environment."""
    script = Path(sys.executable).parent / "dbt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dbt.cli.main"]


def run_dbt(
    settings: Settings,
    command: str = "build",
    *,
    target: Target | None = None,
    data_interval_start: datetime | str | None = None,
    data_interval_end: datetime | str | None = None,
    full_refresh: bool = False,
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    extra_args: Sequence[str] = (),
    project_dir: Path = DBT_PROJECT_DIR,
    profiles_dir: Path = DBT_PROFILES_DIR,
    target_path: Path | None = None,
    log_path: Path | None = None,
    threads: int | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> DbtResult:
    """Run one dbt command against the drp project in a subprocess.

    Args:
        settings: Platform settings; Postgres, lake and object-store credentials come from here.
        command: The dbt command, e.g. "build", "run", "test", "source freshness", "parse".
        target: "duckdb" (the lake, reading Postgres raw through ATTACH) or "postgres"; default
            the warehouse engine's (`settings.dbt_target`).
        data_interval_start: Start of the half-open interval to process (tz-aware); with
            data_interval_end. Both None: all history.
        data_interval_end: End of the interval (exclusive).
        full_refresh: Rebuild incremental models from all history (up to data_interval_end).
        select: dbt selection (`--select`), a string or several.
        exclude: dbt exclusion (`--exclude`).
        extra_vars: More dbt vars, merged after the interval vars.
        extra_args: Further CLI arguments, appended as given.
        project_dir: The dbt project directory.
        profiles_dir: The directory holding profiles.yml.
        target_path: dbt's target path (default `work_target_dir`); tests use their own.
        log_path: dbt's log path (default: dbt's, `<project_dir>/logs`).
        threads: Override the profile's thread count.
        timeout: Seconds before the subprocess is killed (None: no limit).
        check: Raise DbtError when dbt fails (default). With False, return the result anyway.

    Returns:
        The parsed results: nodes with status and timing, models built, tests passed/failed/warned.

    Raises:
        DbtError: dbt failed (listing the failed nodes), could not start, or timed out.
    """
    target = target or settings.dbt_target
    if target not in TARGETS:
        raise DbtError(f"unknown dbt target {target!r}; expected one of {', '.join(TARGETS)}")
    words = command.split()
    if not words:
        raise DbtError("empty dbt command")
    if target == "duckdb":
        ensure_extensions(extension_directory(settings))
    elif words[0] in WRITING_COMMANDS:
        postgres.mark_written(settings)  # the head no longer equals a snapshot

    target_dir = Path(target_path) if target_path else work_target_dir(settings, project_dir)
    variables: dict[str, Any] = interval_vars(data_interval_start, data_interval_end)
    variables.update(extra_vars or {})

    args = [*words, "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir)]
    args += ["--target", target, "--target-path", str(target_dir)]
    if log_path is not None:
        args += ["--log-path", str(log_path)]
    if variables:
        args += ["--vars", json.dumps(variables)]
    if full_refresh:
        args.append("--full-refresh")
    for flag, value in (("--select", select), ("--exclude", exclude)):
        if value:
            args += [flag, *([value] if isinstance(value, str) else value)]
    args += list(extra_args)

    results_file = target_dir / (
        "sources.json" if words[:2] == ["source", "freshness"] else "run_results.json"
    )
    results_file.unlink(missing_ok=True)  # never report a previous invocation's results

    returncode, elapsed, tail = _run_subprocess(
        [*dbt_executable(), *args],
        env=dbt_env(settings, target, threads=threads),
        cwd=project_dir,
        timeout=timeout,
    )
    result = _parse_results(
        results_file,
        command=command,
        target=target,
        args=args,
        returncode=returncode,
        elapsed=elapsed,
        log_tail=tail,
    )
    log.info("%s", result.summary())
    if check and not result.success:
        if result.failed_nodes:
            raise DbtError(
                f"dbt {command} failed",
                command=command,
                returncode=returncode,
                failed_nodes=result.failed_nodes,
                log_tail=tail,
                result=result,
            )
        raise DbtError(
            f"dbt {command} exited with code {returncode}: {_last_error_line(tail)}",
            command=command,
            returncode=returncode,
            log_tail=tail,
            result=result,
        )
    return result


def work_target_dir(settings: Settings, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Where a dbt command writes its results unless told otherwise: the platform's state directory.

    Not `DBT_TARGET_DIR`: dbt rewrites `manifest.json` in place on every command, and a task or the
    DAG processor reading it then would fail to parse the DAG.
    """
    return (settings.state_dir / "dbt" / Path(project_dir).name / "target").resolve()


def parse_project(settings: Settings) -> Path:
    """`dbt parse`, then its manifest moved into `DBT_MANIFEST_PATH` by one rename.

    The DAG processor and every task that parses the DAG read the old manifest or the new one,
    never half of one (dbt writes its own in place). The partial-parse state goes along: Cosmos
    copies it into each build's project copy.
    """
    work = work_target_dir(settings)
    run_dbt(settings, "parse", target_path=work)
    if not (work / "manifest.json").exists():
        raise DbtError(f"dbt parse wrote no manifest into {work}")
    DBT_TARGET_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("partial_parse.msgpack", "manifest.json"):
        if (work / name).exists():
            staged = DBT_TARGET_DIR / f".{name}.{os.getpid()}"
            shutil.copyfile(work / name, staged)
            os.replace(staged, DBT_TARGET_DIR / name)
    return DBT_MANIFEST_PATH


def generate_docs(
    settings: Settings,
    *,
    target: Target | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
    profiles_dir: Path = DBT_PROFILES_DIR,
    target_path: Path | None = None,
    timeout: float | None = None,
) -> Path:
    """Build the dbt docs site and return its single-file static index.

    Returns:
        `<target_path>/static_index.html` (default `<state_dir>/dbt/<project>/docs/`, beside
        `work_target_dir`: not `DBT_TARGET_DIR`, whose manifest the DAG is parsed from and which
        `docs generate` would rewrite in place), a self-contained page; `index.html`,
        `manifest.json` and `catalog.json` sit next to it.
    """
    target_dir = Path(target_path) if target_path else work_target_dir(settings, project_dir).parent / "docs"
    run_dbt(
        settings,
        "docs generate",
        target=target,
        project_dir=project_dir,
        profiles_dir=profiles_dir,
        target_path=target_dir,
        extra_args=["--static"],
        timeout=timeout,
    )
    index = target_dir / "static_index.html"
    if not index.exists():
        raise DbtError(f"dbt docs generate did not write {index}")
    return index


def _run_subprocess(
    cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float | None
) -> tuple[int, float, str]:
    """Run dbt, streaming its output into our log; return code, wall seconds and the output's tail."""
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
    except OSError as exc:
        raise DbtError(f"could not start dbt ({cmd[0]}): {exc}") from exc
    assert proc.stdout is not None
    try:
        deadline = None if timeout is None else started + timeout
        for raw_line in proc.stdout:
            line = raw_line.rstrip("\n")
            tail.append(line)
            log.info("dbt | %s", line)
            if deadline is not None and time.perf_counter() > deadline:
                raise subprocess.TimeoutExpired(cmd, timeout or 0)
        returncode = proc.wait(timeout=None if deadline is None else max(deadline - time.perf_counter(), 1))
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise DbtError(
            f"dbt timed out after {timeout}s", command=" ".join(cmd[1:3]), log_tail="\n".join(tail)
        ) from exc
    finally:
        proc.stdout.close()
    return returncode, time.perf_counter() - started, "\n".join(tail)


def _parse_results(
    path: Path,
    *,
    command: str,
    target: str,
    args: list[str],
    returncode: int,
    elapsed: float,
    log_tail: str,
) -> DbtResult:
    if not path.exists():
        return DbtResult(
            command=command,
            target=target,
            args=args,
            returncode=returncode,
            elapsed_seconds=elapsed,
            dbt_elapsed_seconds=None,
            log_tail=log_tail,
        )
    data = json.loads(path.read_text())
    nodes = [_node(item) for item in data.get("results", [])]
    return DbtResult(
        command=command,
        target=target,
        args=args,
        returncode=returncode,
        elapsed_seconds=elapsed,
        dbt_elapsed_seconds=data.get("elapsed_time"),
        nodes=nodes,
        invocation_id=data.get("metadata", {}).get("invocation_id"),
        results_path=path,
        log_tail=log_tail,
    )


def parse_run_results(path: Path) -> list[NodeResult]:
    """The nodes of a dbt `run_results.json` (empty when the file is missing)."""
    if not path.exists():
        return []
    return [_node(item) for item in json.loads(path.read_text()).get("results", [])]


def _node(item: Mapping[str, Any]) -> NodeResult:
    unique_id = str(item["unique_id"])
    parts = unique_id.split(".")
    resource_type = parts[0]
    if resource_type == "unit_test":
        name = ".".join(parts[2:])  # <model>.<test name>
    elif resource_type == "source":
        name = ".".join(parts[2:4])
    else:
        name = parts[2] if len(parts) > 2 else unique_id
    adapter_response = item.get("adapter_response") or {}
    rows = adapter_response.get("rows_affected")
    failures = item.get("failures")
    return NodeResult(
        unique_id=unique_id,
        name=name,
        resource_type=resource_type,
        status=str(item.get("status")),
        execution_time=float(item.get("execution_time") or 0.0),
        message=item.get("message") or item.get("error"),
        failures=int(failures) if isinstance(failures, int) else None,
        rows_affected=int(rows) if isinstance(rows, int) else None,
    )


def _one_line(text: str | None, limit: int = 200) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _last_error_line(tail: str) -> str:
    """The error dbt printed: the last line naming an error and the few lines after it."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if "error" in lines[index].lower():
            return _one_line(" ".join(lines[index : index + 4]), limit=400)
    return _one_line(lines[-1]) if lines else "no output"
