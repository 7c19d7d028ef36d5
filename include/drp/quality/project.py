"""The Great Expectations file project in `great_expectations/`, kept in step with `suites.py`.

`suites.py` is the single source of truth. The committed project (suite JSON under
`expectations/`, one validation definition and one checkpoint per suite, the pandas datasource
in `great_expectations.yml`) is generated from it by `sync_project()`, which writes only what
differs: on a clean checkout it writes nothing, so running gates never rewrite committed files.
`drp quality sync` regenerates the project after a change to `suites.py`;
`drp quality check` (and a test) fail while the committed project is stale.

This module imports Great Expectations (7-9 s): only the gate and `drp quality` load it.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import great_expectations as gx
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.exceptions.exceptions import DataContextError
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity

from drp.quality.errors import QualityInputError
from drp.quality.object_store_backend import ObjectStoreBackend
from drp.quality.suites import SUITES, Check, SuiteSpec
from drp.settings import PROJECT_ROOT, Settings, load_settings

if TYPE_CHECKING:
    from great_expectations.checkpoint.checkpoint import Checkpoint
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.data_context.file_data_context import FileDataContext

GX_ROOT: Final = PROJECT_ROOT / "great_expectations"
DATASOURCE: Final = "drp_frames"
BATCH_DEFINITION: Final = "whole_frame"
CHECKPOINT_PREFIX: Final = "gate."
DATA_DOCS_SITE: Final = "shared_site"
# SUMMARY: counts plus up to 10 offending values per expectation (enough to act on, small JSON).
RESULT_FORMAT: Final[dict[str, Any]] = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
LOCK_FILE: Final = "uncommitted/.drp-quality.lock"


def checkpoint_name(suite_name: str) -> str:
    return f"{CHECKPOINT_PREFIX}{suite_name}"


def store_variables(settings: Settings) -> dict[str, str]:
    """The variables `great_expectations.yml` names (where the validation results and Data Docs live)."""
    return {
        "DRP_S3_BUCKET_ANALYTICS": settings.s3_bucket_analytics,
        "DRP_QUALITY_RESULTS_PREFIX": settings.quality_results_prefix,
        "DRP_QUALITY_DOCS_PREFIX": settings.quality_docs_prefix,
    }


def open_context(gx_root: Path | None = None, settings: Settings | None = None) -> FileDataContext:
    """The file data context rooted at `gx_root` (default: the repository's `great_expectations/`),
    its validation results in the object store of `settings` (default: `get_settings()`'s)."""
    root = (gx_root or GX_ROOT).resolve()
    if not (root / "great_expectations.yml").is_file():
        raise QualityInputError(f"no Great Expectations project at {root} (great_expectations.yml missing)")
    variables = store_variables(settings or load_settings(check_secrets=False))
    context = gx.get_context(mode="file", context_root_dir=str(root), runtime_environment=variables)
    backend = context.validation_results_store.store_backend
    if settings is not None and isinstance(backend, ObjectStoreBackend):
        backend.use_settings(settings)  # the object store whose bucket and prefix it was given
    return context  # type: ignore[return-value]


@contextmanager
def project_lock(gx_root: Path | None = None) -> Iterator[None]:
    """Serialise writers of the project's files (`sync_project`) across processes of one host."""
    path = (gx_root or GX_ROOT) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_suite(spec: SuiteSpec) -> ExpectationSuite:
    """The GX suite for a spec: every check with its name and severity in `meta`."""
    return ExpectationSuite(
        name=spec.name,
        expectations=[build_expectation(check) for check in spec.checks],
        meta={"description": spec.description, "source": "include/drp/quality/suites.py"},
    )


def build_expectation(check: Check) -> Any:
    """A GX Expectation from a check.

    The severity is in `meta` (what the gate decides from), in GX's native `severity` field, and
    in the notes, which Data Docs shows on the suite's page.
    """
    config = ExpectationConfiguration(
        type=check.expectation,
        kwargs=json.loads(json.dumps(dict(check.kwargs))),
        meta={"check": check.name, "severity": check.severity.value},
        notes=f"{check.severity.value.upper()} ({check.name}): {check.why}",
        severity=FailureSeverity(check.severity.value),
    )
    return config.to_domain_obj()


def sync_project(
    context: FileDataContext, suites: tuple[SuiteSpec, ...] = SUITES, *, dry_run: bool = False
) -> list[str]:
    """Make the project's datasource, suites, validation definitions and checkpoints match the specs.

    Args:
        context: the file context to update.
        suites: the specs (default: all of `suites.py`).
        dry_run: only report what would change.

    Returns:
        What was (or would be) written, e.g. `["suite staging.orders"]`; empty when in step.
    """
    changes: list[str] = []
    datasource: Any  # a PandasDatasource (GX types data_sources.get() as the base class)
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        changes.append(f"datasource {DATASOURCE}")
        if dry_run:
            return changes + [f"everything for {spec.name}" for spec in suites]
        datasource = context.data_sources.add_pandas(DATASOURCE)

    for spec in suites:
        asset_names = {asset.name for asset in datasource.assets}
        if spec.name in asset_names:
            asset = datasource.get_asset(spec.name)
        else:
            changes.append(f"asset {spec.name}")
            if dry_run:
                continue
            asset = datasource.add_dataframe_asset(spec.name)
        if BATCH_DEFINITION in {bd.name for bd in asset.batch_definitions}:
            batch_definition = asset.get_batch_definition(BATCH_DEFINITION)
        else:
            changes.append(f"batch definition {spec.name}/{BATCH_DEFINITION}")
            if dry_run:
                continue
            batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)

        desired = build_suite(spec)
        suite = _stored_suite(context, spec.name)
        if suite is None or _fingerprint(suite) != _fingerprint(desired):
            changes.append(f"suite {spec.name}")
            if not dry_run:
                suite = context.suites.add_or_update(desired)
        if suite is None:
            continue

        validation = _stored(context.validation_definitions, spec.name)
        if (
            validation is None
            or validation.suite.name != spec.name
            or validation.batch_definition.name != BATCH_DEFINITION
            or validation.asset.name != spec.name
        ):
            changes.append(f"validation definition {spec.name}")
            if dry_run:
                continue
            validation = context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
            )

        name = checkpoint_name(spec.name)
        checkpoint: Checkpoint | None = _stored(context.checkpoints, name)
        if (
            checkpoint is None
            or [vd.name for vd in checkpoint.validation_definitions] != [spec.name]
            or checkpoint.actions
            or checkpoint.result_format != RESULT_FORMAT
        ):
            changes.append(f"checkpoint {name}")
            if not dry_run:
                # No actions: the gate builds Data Docs once for all suites of a run.
                context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=name,
                        validation_definitions=[validation],
                        actions=[],
                        result_format=RESULT_FORMAT,
                    )
                )
    return changes


def _stored_suite(context: FileDataContext, name: str) -> ExpectationSuite | None:
    suite: ExpectationSuite | None = _stored(context.suites, name)
    return suite


def _stored(factory: Any, name: str) -> Any:
    try:
        return factory.get(name)
    except DataContextError:
        return None


def _fingerprint(suite: ExpectationSuite) -> str:
    """The suite's content without ids or the GX version stamp (what a review cares about)."""
    expectations = []
    for expectation in suite.expectations:
        config = expectation.configuration.to_json_dict()
        config.pop("id", None)
        config.pop("rendered_content", None)
        expectations.append(config)
    meta = {key: value for key, value in (suite.meta or {}).items() if key != "great_expectations_version"}
    return json.dumps({"expectations": expectations, "meta": meta}, sort_keys=True, default=str)
