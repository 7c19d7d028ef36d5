"""The quality gate: validate a run's data interval and block publication on critical failures.

`run_quality_gate()` is what the pipeline calls between dbt and publication:

1. open the GX file project (`great_expectations/`) and bring it in step with `suites.py` (a
   no-op on a clean checkout);
2. open the warehouse (`drp.warehouse`) **read-only, pinned at one snapshot** (of its head when
   the gate starts: what the run's build wrote, which consumers do not see yet), scope the run's
   interval, then suite by suite read its pandas frame (`drp.quality.frames`) and run its
   checkpoint on it, all under one GX run id (`run_name` = the pipeline's run id); GX writes each
   validation result to the object store (`drp.quality.object_store_backend`), where every host
   finds it. One frame is in memory at a time; the warehouse is closed afterwards. The report
   names the snapshot, and publish publishes exactly that one;
3. build Data Docs for this run's results (incrementally: its pages and the index);
4. record one summary row per suite in `ops.quality_results` (replacing a previous attempt's);
5. raise `QualityGateError` listing every failed critical expectation, or return the report
   (whose warnings the DAG alerts on).

Severity is read from each expectation's `meta["severity"]`; an expectation without one counts
as critical (fail closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import psycopg
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

from drp.intervals import to_utc
from drp.quality.docs import site_lock
from drp.quality.errors import QualityGateError, QualityInputError
from drp.quality.frames import Frame, FrameReader
from drp.quality.project import DATA_DOCS_SITE, checkpoint_name, open_context, project_lock, sync_project
from drp.quality.report import MAX_EXAMPLES, Failure, QualityReport, SuiteResult
from drp.quality.results import record_results
from drp.quality.suites import SUITES, Severity, SuiteSpec, expectation_parameters
from drp.warehouse import open_warehouse, snapshot_head

if TYPE_CHECKING:
    from drp.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["QualityGateError", "QualityReport", "run_quality_gate"]


def run_quality_gate(
    settings: Settings,
    *,
    run_id: str,
    data_interval_start: datetime,
    data_interval_end: datetime,
    lake_snapshot_id: int | None = None,
    duckdb_path: Path | None = None,
    gx_root: Path | None = None,
    build_docs: bool = True,
    suites: Sequence[str] | None = None,
    scope_start: datetime | None = None,
    scope_end: datetime | None = None,
    orders_batches: Sequence[tuple[datetime, datetime]] = (),
) -> QualityReport:
    """Validate the warehouse for one run's interval; raise if publication must be blocked.

    Args:
        settings: platform settings (Postgres for `ops.quality_results`, the lake, and
            `generator_orders_per_day`, the volume the daily volume is judged against).
        run_id: the pipeline run (Airflow `run_id`); GX's run name, and the key of the rows in
            `ops.quality_results` (a retry replaces them).
        data_interval_start: inclusive start of the interval, timezone-aware.
        data_interval_end: exclusive end, timezone-aware.
        lake_snapshot_id: the warehouse snapshot to validate (default: a snapshot of the head when
            the gate starts).
        duckdb_path: validate a DuckDB file laid out like the lake instead (tests, benchmarks).
        gx_root: the GX project directory (default: the repository's `great_expectations/`).
        build_docs: build Data Docs for this run (on by default).
        suites: validate only these suites (default: every suite of `suites.SUITES`). The
            pipeline always runs them all; a subset serves re-checks and tests.
        scope_start: inclusive start of the interval the run's build wrote (default: the run's
            interval). The pipeline passes dbt's interval: a day the build carried in (its own
            run failed or never ran) is published with this run, so it is validated with it.
        scope_end: exclusive end of it.
        orders_batches: intervals of raw's live orders batches in the scope: the days they cover
            outside the run's interval are judged for volume even when none of their orders
            reached the warehouse (a day whose every order was quarantined).

    Returns:
        The report: per-suite success and counts, warning failures, the Data Docs URL, timings.

    Raises:
        QualityGateError: a critical expectation failed (the report is attached and recorded).
        QualityInputError: the gate could not run (bad interval, no lake or file, no GX project).
        QualityError: the results could not be recorded in Postgres.
    """
    started = time.perf_counter()
    _check_interval(data_interval_start, data_interval_end)
    data_interval_start, data_interval_end = to_utc(data_interval_start), to_utc(data_interval_end)
    scope_start = min(to_utc(scope_start or data_interval_start), data_interval_start)
    scope_end = max(to_utc(scope_end or data_interval_end), data_interval_end)
    selected = _select(suites)
    if duckdb_path is not None and not Path(duckdb_path).is_file():
        raise QualityInputError(f"no DuckDB warehouse at {duckdb_path}")
    timings = {"open_project": 0.0, "read_frames": 0.0, "validate": 0.0}

    mark = time.perf_counter()
    context = open_context(gx_root, settings)
    with project_lock(gx_root):
        changes = sync_project(context)
    if changes:
        log.warning("GX project was out of step with suites.py; wrote: %s", ", ".join(changes))
    timings["open_project"] = time.perf_counter() - mark

    validated_at = datetime.now(UTC)
    gx_run_id = RunIdentifier(run_name=run_id, run_time=validated_at)
    parameters = expectation_parameters(
        scope_start, scope_end, orders_per_day=settings.generator_orders_per_day
    )
    results: list[SuiteResult] = []
    keys: list[Any] = []
    # One frame in memory at a time: read, validate, drop. The warehouse stays open (read-only)
    # until the last frame is read, and is closed before anything else happens.
    with _read_only(settings, lake_snapshot_id, duckdb_path) as (conn, validated_snapshot):
        mark = time.perf_counter()
        reader = FrameReader(
            conn,
            data_interval_start=data_interval_start,
            data_interval_end=data_interval_end,
            orders_per_day=settings.generator_orders_per_day,
            scope_start=scope_start,
            scope_end=scope_end,
            orders_batches=orders_batches,
        )
        carried_days = tuple(reader.carried_days())
        timings["read_frames"] += time.perf_counter() - mark
        for spec in selected:
            mark = time.perf_counter()
            frame = reader.read(spec.name)
            timings["read_frames"] += time.perf_counter() - mark
            mark = time.perf_counter()
            result, key = _validate(context, spec, frame, parameters, gx_run_id)
            timings["validate"] += time.perf_counter() - mark
            results.append(result)
            if key is not None:
                keys.append(key)
            del frame

    docs_url: str | None = None
    if build_docs and keys:
        mark = time.perf_counter()
        suite_ids = [ExpectationSuiteIdentifier(name=spec.name) for spec in selected]
        try:
            with site_lock(settings):
                sites = context.build_data_docs(
                    site_names=[DATA_DOCS_SITE], resource_identifiers=keys + suite_ids
                )
            docs_url = sites.get(DATA_DOCS_SITE)
            urls = {}
            for key in keys:
                found = context.get_docs_sites_urls(resource_identifier=key, site_names=[DATA_DOCS_SITE])
                urls[key.expectation_suite_identifier.name] = found[0]["site_url"] if found else None
            results = [_with_url(result, urls.get(result.suite)) for result in results]
        except Exception:
            # The verdict does not depend on the pages: record it and decide without them
            # (`make docs` rebuilds the site). Logged with its traceback, and data_docs_url is None.
            log.exception("Data Docs could not be built for run %s", run_id)
        timings["data_docs"] = time.perf_counter() - mark

    report = QualityReport(
        run_id=run_id,
        data_interval_start=data_interval_start,
        data_interval_end=data_interval_end,
        suites=tuple(results),
        validated_at=validated_at,
        data_docs_url=docs_url,
        elapsed_seconds=time.perf_counter() - started,
        timings=timings,
        lake_snapshot_id=validated_snapshot,
        scope_start=scope_start,
        scope_end=scope_end,
        carried_days=carried_days,
    )

    mark = time.perf_counter()
    record_results(settings, report)
    timings["record"] = time.perf_counter() - mark
    report = replace(report, elapsed_seconds=time.perf_counter() - started)

    log.info("%s", report.summary())
    if not report.passed:
        raise QualityGateError(report)
    return report


def _select(names: Sequence[str] | None) -> tuple[SuiteSpec, ...]:
    if names is None:
        return SUITES
    known = {spec.name for spec in SUITES}
    unknown = sorted(set(names) - known)
    if unknown:
        raise QualityInputError(f"unknown quality suite(s): {', '.join(unknown)}")
    return tuple(spec for spec in SUITES if spec.name in set(names))


def _check_interval(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise QualityInputError("data_interval_start and data_interval_end must be timezone-aware")
    if end <= start:
        raise QualityInputError(f"empty data interval: [{start.isoformat()}, {end.isoformat()})")


@contextmanager
def _read_only(
    settings: Settings, version: int | None, path: Path | None
) -> Iterator[tuple[duckdb.DuckDBPyConnection, int | None]]:
    """The data to validate, read-only, closed on exit whatever happens: the warehouse pinned at
    snapshot `version` (a snapshot of its head when None), or a DuckDB file. Yields the connection
    and the snapshot."""
    if path is not None:
        try:
            conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise QualityInputError(f"cannot open the DuckDB file {path} read-only: {exc}") from exc
    else:
        try:
            if version is None:
                version = snapshot_head(settings)
            conn = open_warehouse(settings, version=version)
        except (duckdb.Error, psycopg.Error, LookupError) as exc:
            raise QualityInputError(f"cannot open the warehouse at snapshot {version}: {exc}") from exc
    try:
        yield conn, version
    finally:
        conn.close()


def _validate(
    context: Any, spec: SuiteSpec, frame: Frame, parameters: dict[str, Any], run_id: Any
) -> tuple[SuiteResult, Any]:
    """Run the suite's checkpoint on its frame; returns the result and GX's result key."""
    if frame.data is None:
        return _not_validated(spec, "frame_readable", "read_frame", frame.error), None
    started = time.perf_counter()
    try:
        checkpoint = context.checkpoints.get(checkpoint_name(spec.name))
        outcome = checkpoint.run(
            batch_parameters={"dataframe": frame.data},
            expectation_parameters=parameters,
            run_id=run_id,
        )
    except Exception as exc:  # not swallowed: logged, and recorded as a critical failure
        log.exception("Great Expectations could not validate %s", spec.name)
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return _not_validated(spec, "validation_ran", "run_checkpoint", error, rows=frame.rows), None
    ((key, validation),) = outcome.run_results.items()
    store = context.validation_results_store.store_backend
    result = _summarize(
        spec,
        frame,
        validation,
        result_path=store.get_url_for_key(key.to_tuple()),
        elapsed=time.perf_counter() - started,
    )
    return result, key


def _not_validated(
    spec: SuiteSpec, check: str, expectation: str, error: str | None, *, rows: int = 0
) -> SuiteResult:
    """A suite that could not be validated fails critically, on one synthetic check."""
    failure = Failure(
        suite=spec.name,
        check=check,
        expectation=expectation,
        column=None,
        severity=Severity.CRITICAL,
        error=error,
    )
    return SuiteResult(
        suite=spec.name,
        success=False,
        evaluated=1,
        failed=1,
        critical=1,
        warning=0,
        critical_failures=(failure,),
        rows=rows,
    )


def _summarize(
    spec: SuiteSpec, frame: Frame, validation: Any, *, result_path: str | None, elapsed: float
) -> SuiteResult:
    counts = {Severity.CRITICAL: 0, Severity.WARNING: 0}
    failures: dict[Severity, list[Failure]] = {Severity.CRITICAL: [], Severity.WARNING: []}
    for item in validation.results:
        config = item.expectation_config
        meta = config.meta or {}
        severity = _severity(meta.get("severity"))
        counts[severity] += 1
        error = _exception_message(item.exception_info)
        if item.success and not error:
            continue
        check = str(meta.get("check") or config.type)
        result = item.result or {}
        failures[severity].append(
            Failure(
                suite=spec.name,
                check=check,
                expectation=config.type,
                column=_column(config.kwargs),
                severity=severity,
                observed=_observed(result),
                unexpected_count=_int_or_none(result.get("unexpected_count")),
                examples=_examples(config.type, config.kwargs, result, frame.examples.get(check)),
                error=error,
            )
        )
    failed = len(failures[Severity.CRITICAL]) + len(failures[Severity.WARNING])
    evaluated = counts[Severity.CRITICAL] + counts[Severity.WARNING]
    return SuiteResult(
        suite=spec.name,
        success=failed == 0,
        evaluated=evaluated,
        failed=failed,
        critical=counts[Severity.CRITICAL],
        warning=counts[Severity.WARNING],
        critical_failures=tuple(failures[Severity.CRITICAL]),
        warning_failures=tuple(failures[Severity.WARNING]),
        rows=frame.rows,
        result_path=result_path,
        elapsed_seconds=elapsed,
    )


def _severity(value: object) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        return Severity.CRITICAL  # unknown or missing: fail closed


def _exception_message(info: object) -> str | None:
    """GX reports errors either flat or keyed by metric; return the first message, if any."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and (value.get("raised_exception") or value.get("exception_message")):
            return " ".join(str(value.get("exception_message")).split())[:300]
    return None


def _column(kwargs: dict[str, Any]) -> str | None:
    for key in ("column", "column_A"):
        if kwargs.get(key) is not None:
            return str(kwargs[key])
    if kwargs.get("column_list"):
        return ",".join(str(column) for column in kwargs["column_list"])
    return None


def _observed(result: dict[str, Any]) -> str | None:
    if "observed_value" not in result:
        return None
    value = result["observed_value"]
    if isinstance(value, list) and len(value) > MAX_EXAMPLES:
        return f"{len(value)} values"
    return _text(value)


def _examples(
    expectation: str, kwargs: dict[str, Any], result: dict[str, Any], derived: list[str] | None
) -> tuple[str, ...]:
    if derived:
        return tuple(derived[:MAX_EXAMPLES])
    details = result.get("details") or {}
    if expectation == "expect_table_columns_to_match_set":
        mismatched = details.get("mismatched") or {}
        return tuple(
            f"{kind}: {column}" for kind in ("missing", "unexpected") for column in mismatched.get(kind) or []
        )[:MAX_EXAMPLES]
    if expectation == "expect_column_distinct_values_to_contain_set":
        observed = set(map(str, result.get("observed_value") or []))
        wanted = kwargs.get("value_set") or []
        return tuple(f"missing: {value}" for value in wanted if str(value) not in observed)[:MAX_EXAMPLES]
    values = result.get("partial_unexpected_list") or []
    return tuple(_text(value) for value in values[:MAX_EXAMPLES])


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _text(value.item())
    return str(value)


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def _with_url(result: SuiteResult, url: str | None) -> SuiteResult:
    return replace(result, result_url=url)
