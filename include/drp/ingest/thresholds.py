"""When does a batch look broken? Thresholds a load is judged by before it may go live.

A batch past any threshold is refused (`loader` keeps it as `held` when an earlier live batch
covers the interval, and raises `BatchRejectedError` either way). The thresholds are settings:

* the quarantined share of the records received (`ingest_max_quarantined_share`, 20%);
* a contract field missing (`missing_field:<f>`) from more than a share of the records
  (`ingest_max_missing_field_share`, 50%); the fields that appeared in the same batch (drift) are
  named with it, most likely renames first, so the message says what happened:
  "`customer_id` missing in 100% of records, `customer_ref` appeared";
* the volume of a one-day batch against the median of the same weekday's live one-day batches in
  the previous weeks (`ingest_volume_min_ratio` .. `ingest_volume_max_ratio`), only when there is
  enough history (`ingest_volume_min_history` batches, median at least `ingest_volume_min_median`).

Below the thresholds, a quarantined share above `ingest_warn_quarantined_share` is a *warning*:
the load succeeds and reports it for alerting.

Pure functions: the loader supplies the counts and the history (from `registry`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Final

from drp.settings import Settings

MISSING_PREFIX: Final = "missing_field:"
RENAME_SIMILARITY: Final = 0.5  # difflib ratio above which a new field reads as a rename


@dataclass(frozen=True, slots=True)
class Violation:
    """One threshold a batch is past: `kind`, what was observed, the limit, and one line."""

    kind: str  # quarantined_share | missing_field | volume
    observed: float
    limit: float
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "observed": self.observed,
            "limit": self.limit,
            "message": self.message,
            "field": self.field,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    violations: tuple[Violation, ...]
    warnings: tuple[str, ...]

    @property
    def rejected(self) -> bool:
        return bool(self.violations)

    def message(self) -> str:
        """Every cause in one line."""
        return "; ".join(v.message for v in self.violations)


def percent(share: float) -> str:
    """`0.2` -> `20%`, `0.2031` -> `20.3%`: whole percents when exact, else one decimal."""
    value = share * 100
    return f"{value:.0f}%" if abs(value - round(value)) < 0.05 else f"{value:.1f}%"


def appeared_with(missing: str, missing_count: int, drift: Mapping[str, int]) -> list[str]:
    """The new fields to name next to a missing one: those carried by at least half as many
    records; the ones whose name resembles the missing field (a rename) when there are any."""
    candidates = [f for f, n in drift.items() if n * 2 >= missing_count]
    similar = [f for f in candidates if SequenceMatcher(None, missing, f).ratio() >= RENAME_SIMILARITY]
    chosen = similar or candidates
    return sorted(chosen, key=lambda f: (-SequenceMatcher(None, missing, f).ratio(), f))


def evaluate(
    settings: Settings,
    *,
    entity: str,
    received: int,
    quarantined: int,
    reasons: Mapping[str, int],
    drift: Mapping[str, int],
    history: Sequence[int] | None,
) -> Verdict:
    """Judge one batch.

    Args:
        entity: for the messages.
        received / quarantined: the batch's counts.
        reasons: quarantine reason -> records (`missing_field:<f>` among them).
        drift: field outside the contract -> records carrying it.
        history: records received by the same weekday's live one-day batches of the previous weeks,
            or None when the batch is not a one-day batch (no volume check).
    """
    violations: list[Violation] = []
    warnings: list[str] = []
    if received > 0:
        share = quarantined / received
        limit = settings.ingest_max_quarantined_share
        if share > limit:
            violations.append(
                Violation(
                    "quarantined_share", share, limit,
                    f"{percent(share)} of {received} records quarantined (limit {percent(limit)})",
                )
            )  # fmt: skip
        elif share > settings.ingest_warn_quarantined_share:
            warnings.append(
                f"{entity}: {percent(share)} of {received} records quarantined "
                f"(warning above {percent(settings.ingest_warn_quarantined_share)})"
            )
        field_limit = settings.ingest_max_missing_field_share
        missing = sorted(
            ((r.removeprefix(MISSING_PREFIX), n) for r, n in reasons.items() if r.startswith(MISSING_PREFIX)),
            key=lambda item: (-item[1], item[0]),
        )
        for name, count in missing:
            field_share = count / received
            if field_share <= field_limit:
                continue
            text = f"`{name}` missing in {percent(field_share)} of records"
            new = appeared_with(name, count, drift)
            if new:
                text += ", " + ", ".join(f"`{f}`" for f in new) + " appeared"
            violations.append(Violation("missing_field", field_share, field_limit, text, field=name))
    volume = _volume(settings, received, history)
    if volume is not None:
        violations.append(volume)
    # Name the field first: it is the cause; the quarantined share is its consequence.
    violations.sort(key=lambda v: {"missing_field": 0, "volume": 1}.get(v.kind, 2))
    return Verdict(tuple(violations), tuple(warnings))


def _volume(settings: Settings, received: int, history: Sequence[int] | None) -> Violation | None:
    if history is None or len(history) < settings.ingest_volume_min_history:
        return None
    median = statistics.median(history)
    if median < settings.ingest_volume_min_median:
        return None
    ratio = received / median
    low, high = settings.ingest_volume_min_ratio, settings.ingest_volume_max_ratio
    if low <= ratio <= high:
        return None
    limit = low if ratio < low else high
    return Violation(
        "volume",
        round(ratio, 4),
        limit,
        f"received {received} records, {ratio:.2f}x the median {median:g} of the same weekday's "
        f"last {len(history)} one-day batches (allowed {low:g}x-{high:g}x)",
    )
