"""Did a day's data arrive, complete and correct? The operator's read model over the `ops` tables.

One query module answers for every place an operator looks (`drp status --data` today, the data
health page next): per layer of the day, from source to published, the facts and a verdict. It
holds no SQL: it composes the reads of each table's owner (the ingest registry and loader, the
audit trail, the gate's results, publish's registry, the alert store).

The day's run is its newest daily-DAG run. A day can be published by a later run that carried it
(its own run failed or never ran): its data is then complete and correct though its own run is
not, so the facts of dbt and the gate come from the run that published it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

import psycopg

from drp.errors import PlatformError
from drp.ingest import registry as batches
from drp.ingest.loader import quarantine_reasons
from drp.monitoring import alert_store, flow_audit
from drp.monitoring.alert_store import NO_WEBHOOK, AlertRecord
from drp.monitoring.flow_audit import RunAudit
from drp.publish import registry
from drp.quality.results import run_outcomes
from drp.settings import Settings
from drp.warehouse import identity

DAILY_DAG: Final = "orders_elt_daily"
ENTITIES: Final = ("orders", "customers", "products")


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"  # complete and correct, with something to look at
    FAIL = "fail"  # not complete, or not correct


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer's verdict and the line that explains it."""

    name: str
    verdict: Verdict
    line: str


@dataclass(frozen=True, slots=True)
class EntityLoad:
    """An entity's batches for the day: the live one, and any newer one refused or failed."""

    entity: str
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    drift: Mapping[str, Any] = field(default_factory=dict)
    reasons: Mapping[str, int] = field(default_factory=dict)  # quarantine reason → records
    live: bool = False
    refused: str | None = None  # the newest batch's status when it is not the live one (held, failed)
    error: str | None = None  # why it was refused (its threshold violations) or failed
    violations: tuple[str, ...] = ()  # thresholds the live batch is past (a first load goes live anyway)
    window: tuple[datetime, datetime] | None = None  # the live batch's window, when not the day
    loaded_at: datetime | None = None  # when the live batch committed

    @property
    def quarantined_share(self) -> float:
        return self.quarantined / self.received if self.received else 0.0


@dataclass(frozen=True, slots=True)
class QualityFacts:
    run_id: str
    suites: int
    critical: tuple[str, ...]  # "suite: check"
    warnings: tuple[str, ...]
    docs_url: str | None
    pages: Mapping[str, str] = field(default_factory=dict)  # suite → its Data Docs page (s3://)


@dataclass(frozen=True, slots=True)
class PublishedFacts:
    run_id: str
    lake_snapshot_id: int
    published_at: datetime
    rows: Mapping[str, int]
    carried: bool = False  # published with a later day's run, which carried the day in


@dataclass(frozen=True, slots=True)
class DayHealth:
    """Everything the `ops` tables know about one day, and the verdict per layer."""

    day: date
    run: RunAudit | None
    loads: tuple[EntityLoad, ...]
    freshness: Mapping[str, str]  # source → pass | warn | error
    freshness_error: str | None  # the freshness check itself failed (a stale source fails it)
    dbt: Mapping[str, Any] | None  # dbt_results: models_built, tests_passed, tests_warned, tests_failed
    dbt_failed_tasks: tuple[str, ...]
    failed_tasks: tuple[str, ...]  # of the day's own run: whose logs explain a failure
    quality: QualityFacts | None
    published: PublishedFacts | None
    alerts: tuple[AlertRecord, ...]
    warn_quarantined_share: float

    def layers(self) -> list[Layer]:
        return [
            self._run_layer(),
            self._raw_layer(),
            self._freshness_layer(),
            self._dbt_layer(),
            self._quality_layer(),
            self._published_layer(),
            self._alerts_layer(),
        ]

    @property
    def complete_and_correct(self) -> bool:
        return all(layer.verdict is not Verdict.FAIL for layer in self.layers())

    def _run_layer(self) -> Layer:
        if self.run is None:
            if self.published is not None:
                return Layer(
                    "run", Verdict.WARN, f"no run of its own; published with {self.published.run_id}"
                )
            return Layer("run", Verdict.FAIL, "no run of the daily DAG for this day")
        took = f" in {self.run.duration_seconds:.1f}s" if self.run.duration_seconds is not None else ""
        line = f"{self.run.run_id} {self.run.status}{took}"
        if self.run.status == "success":
            return Layer("run", Verdict.OK, line)
        if self.published is not None and self.published.run_id != self.run.run_id:
            return Layer("run", Verdict.WARN, f"{line}; the day is published with {self.published.run_id}")
        return Layer(
            "run",
            Verdict.FAIL,
            f"{line}: {_first_line(self.run.error_message)}" if self.run.error_message else line,
        )

    def _raw_layer(self) -> Layer:
        verdict, parts = Verdict.OK, []
        for load in self.loads:
            if not load.live:
                verdict = Verdict.FAIL
                what = f"batch {load.refused}" if load.refused else "no batch"
                parts.append(f"{load.entity}: {what}{': ' + _first_line(load.error) if load.error else ''}")
                continue
            part = (
                f"{load.entity} {load.received:,} received, {load.loaded:,} loaded, "
                f"{load.quarantined:,} quarantined, {load.duplicates:,} duplicates"
            )
            if load.window:
                part += f" (a batch of {load.window[0]:%Y-%m-%d %H:%M}..{load.window[1]:%Y-%m-%d %H:%M})"
            if load.reasons:
                top = sorted(load.reasons.items(), key=lambda item: (-item[1], item[0]))[:3]
                part += " (" + ", ".join(f"{reason} {count:,}" for reason, count in top) + ")"
            if load.drift:
                part += f", drift {', '.join(sorted(load.drift))}"
            if load.violations:
                verdict = Verdict.FAIL
                part += f"; past a threshold: {'; '.join(load.violations)}"
            if load.refused:
                verdict = Verdict.FAIL
                part += f"; a newer batch was {load.refused}" + (
                    f": {_first_line(load.error)}" if load.error else ""
                )
            elif load.quarantined_share > self.warn_quarantined_share or load.drift:
                verdict = max(verdict, Verdict.WARN, key=_severity)
            if self.published and load.loaded_at and load.loaded_at > self.published.published_at:
                # A replay or reload after publication: consumers still read the older batch's data.
                verdict = max(verdict, Verdict.WARN, key=_severity)
                part += "; reloaded after the publication (rerun the day to publish it)"
            parts.append(part)
        return Layer("raw", verdict, "; ".join(parts))

    def _freshness_layer(self) -> Layer:
        if self.freshness_error:
            return Layer("freshness", Verdict.FAIL, _first_line(self.freshness_error))
        if not self.freshness:
            return Layer("freshness", Verdict.WARN, "not checked")
        worst = max(
            (_FRESHNESS.get(status, Verdict.FAIL) for status in self.freshness.values()), key=_severity
        )
        return Layer("freshness", worst, ", ".join(f"{s} {v}" for s, v in sorted(self.freshness.items())))

    def _dbt_layer(self) -> Layer:
        if self.dbt is None:
            if self.dbt_failed_tasks:
                return Layer("dbt", Verdict.FAIL, "failed: " + ", ".join(self.dbt_failed_tasks))
            return Layer("dbt", Verdict.FAIL, "no dbt build recorded")
        line = (
            f"{self.dbt.get('models_built', 0)} models built, "
            f"{self.dbt.get('tests_passed', 0)} tests passed, "
            f"{self.dbt.get('tests_warned', 0)} warned, {self.dbt.get('tests_failed', 0)} failed"
        )
        if self.dbt.get("tests_failed"):
            return Layer("dbt", Verdict.FAIL, line)
        return Layer("dbt", Verdict.WARN if self.dbt.get("tests_warned") else Verdict.OK, line)

    def _quality_layer(self) -> Layer:
        if self.quality is None:
            return Layer("quality", Verdict.FAIL, "not validated")
        q = self.quality
        if q.critical:
            return Layer(
                "quality", Verdict.FAIL, f"{len(q.critical)} critical failure(s): {', '.join(q.critical[:5])}"
            )
        line = f"{q.suites} suites passed"
        if q.warnings:
            return Layer(
                "quality", Verdict.WARN, f"{line}; {len(q.warnings)} warning(s): {', '.join(q.warnings[:5])}"
            )
        return Layer("quality", Verdict.OK, line)

    def _published_layer(self) -> Layer:
        if self.published is None:
            return Layer("published", Verdict.FAIL, "nothing published for this day")
        p = self.published
        rows = ", ".join(f"{mart} {count:,}" for mart, count in sorted(p.rows.items()))
        at = p.published_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        how = "with a later day, which carried it in," if p.carried else "by"
        return Layer(
            "published", Verdict.OK, f"snapshot {p.lake_snapshot_id} at {at} {how} {p.run_id}: {rows}"
        )

    def _alerts_layer(self) -> Layer:
        if not self.alerts:
            return Layer("alerts", Verdict.OK, "none")
        kinds = ", ".join(f"{a.kind} ({a.level})" for a in self.alerts)
        line = f"{len(self.alerts)}: {kinds}"
        if all(a.delivery_error == NO_WEBHOOK for a in self.alerts if not a.delivered):
            unsent = sum(not a.delivered for a in self.alerts)
            return Layer(
                "alerts", Verdict.OK, f"{line}; {unsent} recorded, not sent (no webhook)" if unsent else line
            )
        failed = [a for a in self.alerts if not a.delivered and a.delivery_error != NO_WEBHOOK]
        why = failed[-1].delivery_error or "pending"
        return Layer("alerts", Verdict.WARN, f"{line}; {len(failed)} not delivered: {why}")


_FRESHNESS: Final = {"pass": Verdict.OK, "warn": Verdict.WARN, "error": Verdict.FAIL}


def _severity(verdict: Verdict) -> int:
    return (Verdict.OK, Verdict.WARN, Verdict.FAIL).index(verdict)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class DataHealthError(PlatformError):
    """The `ops` tables could not be read (one line: the database and Postgres' reason)."""


def day_health(settings: Settings, day: date) -> DayHealth:
    """Read what the `ops` tables (and raw's quarantine) hold about `day`.

    Raises:
        DataHealthError: Postgres could not be reached or refused a query.
    """
    try:
        return _day_health(settings, day)
    except psycopg.Error as exc:
        reason = _first_line(str(exc)) or type(exc).__name__
        raise DataHealthError(
            f"cannot read the ops tables of database {settings.postgres_db!r}: {reason}"
        ) from None


def _day_health(settings: Settings, day: date) -> DayHealth:
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    run = flow_audit.newest_run(settings, DAILY_DAG, start)
    with psycopg.connect(settings.postgres_conninfo(), connect_timeout=10) as conn:
        lake = identity(settings)
        own = registry.latest(conn, lake, day)
        publication = own or registry.carrying(conn, lake, day)
        loads = tuple(_load(conn, entity, start, end) for entity in ENTITIES)
        # dbt and the gate: of the run that published the day, else of the day's own run.
        facts_run = publication.run_id if publication else (run.run_id if run else None)
        outcomes = run_outcomes(conn, facts_run) if facts_run else []
    published = (
        PublishedFacts(
            run_id=publication.run_id,
            lake_snapshot_id=publication.lake_snapshot_id,
            published_at=publication.published_at,
            rows={mart: int(info.get("rows", 0)) for mart, info in publication.marts.items()},
            carried=own is None,
        )
        if publication
        else None
    )
    tasks = flow_audit.last_tries(settings, DAILY_DAG, facts_run) if facts_run else {}
    own_tasks = (
        tasks
        if run is None or run.run_id == facts_run
        else flow_audit.last_tries(settings, DAILY_DAG, run.run_id)
    )
    dbt_results = tasks.get("dbt_results")
    freshness = tasks.get("source_freshness")
    quality = (
        QualityFacts(
            run_id=facts_run,
            suites=len(outcomes),
            critical=tuple(f"{o.suite}: {check}" for o in outcomes for check in o.critical_failed),
            warnings=tuple(f"{o.suite}: {check}" for o in outcomes for check in o.warning_failed),
            docs_url=next((o.data_docs_url for o in outcomes if o.data_docs_url), None),
            pages={o.suite: o.result_url for o in outcomes if o.result_url},
        )
        if facts_run and outcomes
        else None
    )
    runs = dict.fromkeys(r for r in (run.run_id if run else None, facts_run) if r)
    return DayHealth(
        day=day,
        run=run,
        loads=loads,
        freshness=dict((freshness.metadata or {}).get("sources") or {}) if freshness else {},
        freshness_error=(freshness.error_message or "failed")
        if freshness and freshness.status == "failed"
        else None,
        dbt=dbt_results.metadata if dbt_results and dbt_results.status == "success" else None,
        dbt_failed_tasks=tuple(
            sorted(t for t, a in tasks.items() if t.startswith("transform.") and a.status == "failed")
        ),
        failed_tasks=tuple(sorted(t for t, a in own_tasks.items() if a.status == "failed")),
        quality=quality,
        published=published,
        alerts=tuple(a for r in runs for a in alert_store.alerts_where(settings, run_id=r)),
        warn_quarantined_share=settings.ingest_warn_quarantined_share,
    )


def _load(conn: psycopg.Connection[Any], entity: str, start: datetime, end: datetime) -> EntityLoad:
    """The entity's live batch of the day and whether a newer batch was refused or failed."""
    found = batches.finished_batches(conn, entity, start, end)
    live = next((b for b in found if b.status == "succeeded"), None)
    newest = found[0] if found else None
    refused = newest.status if newest is not None and newest is not live else None
    error = None
    if refused and newest is not None:
        error = newest.error_message or "; ".join(newest.threshold_violations) or None
    if live is None:
        return EntityLoad(entity, refused=refused, error=error)
    return EntityLoad(
        entity,
        received=live.counts.received,
        loaded=live.counts.loaded,
        quarantined=live.counts.quarantined,
        duplicates=live.counts.duplicates,
        drift=live.drift,
        reasons=quarantine_reasons(conn, entity, live.batch_id),
        live=True,
        refused=refused,
        error=error,
        violations=tuple(live.threshold_violations),
        window=None if (live.start, live.end) == (start, end) else (live.start, live.end),
        loaded_at=live.ended_at,
    )
