"""Source freshness of one run's interval: `dbt source freshness`, alerted on warn and error.

The thresholds and the measure live in dbt (`_generator__sources.yml`, `macros/source_freshness.sql`):
a source's age is how long before the interval's end its newest change delivered for the
interval was. A `warn` is alerted and the run goes on; an `error` is alerted and raises
`SourceStaleError`, which stops the run before it publishes.

dbt runs on the Postgres target (raw lives there; no lake is opened) into a target directory of
its own, so the manifest the DAG renders from is never touched.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drp.errors import PlatformError
from drp.ingest.errors import format_window
from drp.monitoring.alerts import alert
from drp.settings import Settings

FRESHNESS_TIMEOUT_SECONDS = 600


class SourceStaleError(PlatformError):
    """A source's freshness for the interval is past its `error_after`."""


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """One source table's freshness for the interval, as dbt's sources.json reports it."""

    source: str  # <source>.<table>
    status: str  # pass, warn, error, runtime error
    max_loaded_at: str | None
    snapshotted_at: str | None
    age_seconds: float | None
    criteria: dict[str, Any]
    error: str | None = None

    def line(self) -> str:
        if self.age_seconds is None or self.status == "runtime error":
            return f"{self.source}: {self.status} ({self.error or 'no result'})"
        warn, error = _limit(self.criteria, "warn_after"), _limit(self.criteria, "error_after")
        limits = f"warn after {warn}, error after {error}"
        if str(self.max_loaded_at).startswith("0001-"):  # dbt's "infinitely old": no rows at all
            return f"{self.source}: {self.status}, no change delivered for the interval ({limits})"
        hours = self.age_seconds / 3600
        return (
            f"{self.source}: {self.status}, newest change {self.max_loaded_at}, "
            f"{hours:.1f} h before the interval's end ({limits})"
        )


def _limit(criteria: dict[str, Any], key: str) -> str:
    limit = criteria.get(key) or {}
    return f"{limit.get('count')} {limit.get('period')}s" if limit.get("count") else "never"


def check_source_freshness(settings: Settings, start: datetime, end: datetime) -> list[SourceFreshness]:
    """Run dbt source freshness for `[start, end)`; alert on warn and error; raise on error.

    Returns:
        One entry per source with a freshness check.

    Raises:
        SourceStaleError: a source is past its `error_after` (or dbt could not measure it).
    """
    from drp.transform.dbt_runner import run_dbt  # noqa: PLC0415 - the task needs it, not the import

    with tempfile.TemporaryDirectory(prefix="drp-freshness-") as tmp:
        result = run_dbt(
            settings,
            "source freshness",
            target="postgres",
            data_interval_start=start,
            data_interval_end=end,
            target_path=Path(tmp) / "target",
            log_path=Path(tmp) / "logs",
            timeout=FRESHNESS_TIMEOUT_SECONDS,
            check=False,
        )
        sources = read_sources_json(result.results_path)
    if not sources:
        raise SourceStaleError(
            f"dbt source freshness reported nothing (exit {result.returncode}): {result.log_tail[-500:]}"
        )
    window = format_window(start, end)
    stale = [s for s in sources if s.status in {"error", "runtime error"}]
    late = [s for s in sources if s.status == "warn"]
    if stale or late:
        level = "error" if stale else "warning"
        alert(
            settings,
            "freshness",
            f"drp: sources {'stale' if stale else 'behind'} for {window}",
            [s.line() for s in (*stale, *late)]
            + (["publish is blocked for this run"] if stale else ["the run goes on"]),
            level=level,
            details={"sources": [asdict(s) for s in sources]},
        )
    if stale:
        raise SourceStaleError(f"stale sources for {window}: " + "; ".join(s.line() for s in stale))
    return sources


def read_sources_json(path: Path | None) -> list[SourceFreshness]:
    """The results of dbt's `sources.json` (empty when there is none)."""
    if path is None or not path.exists():
        return []
    out = []
    for item in json.loads(path.read_text()).get("results", []):
        unique_id = str(item.get("unique_id", ""))
        out.append(
            SourceFreshness(
                source=".".join(unique_id.split(".")[2:4]),
                status=str(item.get("status")),
                max_loaded_at=item.get("max_loaded_at"),
                snapshotted_at=item.get("snapshotted_at"),
                age_seconds=item.get("max_loaded_at_time_ago_in_s"),
                criteria=item.get("criteria") or {},
                error=item.get("error") or item.get("message"),
            )
        )
    return out
