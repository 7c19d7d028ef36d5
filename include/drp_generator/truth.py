"""Ground truth: what a window serves, counted exactly, for tests and pipeline reconciliation.

`truth(config, entity, start, end, faults)` walks the same items the API serves (no HTTP faults:
those act on responses, not on records) and counts them:

* `served`: items served in the window (every record line a client receives once it has all pages);
* `valid`: served - invalid - duplicates: distinct, contract-conforming record versions (drifted,
  late and aggregate-anomalous records are valid: they pass a per-record contract);
* `invalid` and `invalid_by_reason` (`null_id`, `negative_amount`, `bad_timestamp`,
  `unknown_status`, `wrong_type`, `unknown_segment`, `negative_price`; zero counts included);
* `duplicates`: extra copies of a record served again (byte-identical, unless drift started between);
* `drifted`: items served in the drifted schema (any kind);
* `late`: valid items served after a delay (their `updated_at` lies `late_min_hours` or more before arrival);
* `distinct_ids`: distinct record ids among valid items;
* `anomalies` among valid items: `orphan_customer`, `amount_x100`, `future_timestamp`, and
  `collapsed_days` (days in the window whose order volume collapsed);
* for orders, `valid_amount` / `valid_amount_cents` / `valid_amount_cents_by_currency`: the sum of
  `amount` over valid items, as served (so including x100-inflated amounts).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drp_generator.config import GeneratorConfig
from drp_generator.faults import INVALID_REASONS, FaultConfig
from drp_generator.generate import (
    DRIFTED,
    DUPLICATE,
    FUTURE,
    LATE,
    ORPHAN,
    REASON_MASK,
    X100,
    Window,
    collapsed,
    iter_items,
    make_window,
)
from drp_generator.model import CURRENCIES, Entity, day_date, money, ts_str
from drp_generator.rng import MASK64
from drp_generator.world import OrdersDay, orders_day


@dataclass(frozen=True, slots=True)
class Truth:
    """Exact accounting of one window (see the module docstring for each field)."""

    entity: Entity
    start: str
    end: str
    served: int
    valid: int
    invalid: int
    invalid_by_reason: dict[str, int]
    duplicates: int
    drifted: int
    late: int
    distinct_ids: int
    anomalies: dict[str, int]
    collapsed_days: list[str]
    valid_amount_cents: int | None = None
    valid_amount_cents_by_currency: dict[str, int] | None = field(default=None)

    @property
    def valid_amount(self) -> str | None:
        """The valid amount as a decimal string with two places."""
        return None if self.valid_amount_cents is None else money(self.valid_amount_cents)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view; `valid_amount` is a decimal string with two places."""
        return {
            "entity": self.entity.value,
            "start": self.start,
            "end": self.end,
            "served": self.served,
            "valid": self.valid,
            "invalid": self.invalid,
            "invalid_by_reason": dict(self.invalid_by_reason),
            "duplicates": self.duplicates,
            "drifted": self.drifted,
            "late": self.late,
            "distinct_ids": self.distinct_ids,
            "anomalies": dict(self.anomalies),
            "collapsed_days": list(self.collapsed_days),
            "valid_amount": self.valid_amount,
            "valid_amount_cents": self.valid_amount_cents,
            "valid_amount_cents_by_currency": (
                None
                if self.valid_amount_cents_by_currency is None
                else dict(self.valid_amount_cents_by_currency)
            ),
        }


def truth(
    config: GeneratorConfig,
    entity: Entity,
    start: datetime,
    end: datetime,
    faults: FaultConfig | None = None,
) -> Truth:
    """Count what `[start, end)` serves for `entity` under `faults` (default: the config's).

    Args:
        config: the generator config.
        entity: orders, customers or products.
        start: inclusive window start (naive = UTC).
        end: exclusive window end.
        faults: the fault config; None uses `config.faults`.

    Returns:
        The counts.

    Raises:
        InvalidParameterError: for an invalid window.
    """
    window = make_window(start, end, config.max_window_days)
    return truth_for_window(config, entity, window, faults if faults is not None else config.faults)


def truth_for_window(config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig) -> Truth:
    """`truth` for an already validated window."""
    gk = config.gen_key
    reasons = INVALID_REASONS[entity]
    by_reason = [0] * (len(reasons) + 1)
    served = duplicates = drifted = late = orphans = x100 = future = 0
    ids: set[int] = set()
    is_orders = entity is Entity.ORDERS
    cents_by_currency = [0] * len(CURRENCIES)
    skip = REASON_MASK | DUPLICATE
    id_shift = 8 if is_orders else 20  # see world.record_id_key
    for items, lo, hi in iter_items(config, entity, window, faults):
        served += hi - lo
        keys = items.keys[lo:hi]
        x100_keys: set[int] = set()
        if items.meta is None:
            valid_keys = keys
        else:
            metas = items.meta[lo:hi]
            for meta, count in Counter(metas).items():
                drifted += count if meta & DRIFTED else 0
                if meta & REASON_MASK:
                    by_reason[meta & REASON_MASK] += count
                elif meta & DUPLICATE:
                    duplicates += count
                else:
                    late += count if meta & LATE else 0
                    orphans += count if meta & ORPHAN else 0
                    x100 += count if meta & X100 else 0
                    future += count if meta & FUTURE else 0
            valid_keys = [key for key, meta in zip(keys, metas, strict=True) if not meta & skip]
            if x100:
                x100_keys = {
                    key for key, meta in zip(keys, metas, strict=True) if meta & X100 and not meta & skip
                }
        ids.update([(key & MASK64) >> id_shift for key in valid_keys])
        if is_orders:
            days: dict[int, OrdersDay] = {}
            for key in valid_keys:
                low = key & MASK64
                created, i = low >> 40, (low >> 8) & 0xFFFFFFFF
                od = days.get(created) or days.setdefault(created, orders_day(gk, created))
                cents_by_currency[od.currency[i]] += od.cents[i] * (100 if key in x100_keys else 1)
    invalid = sum(by_reason)
    collapsed_days = []
    if is_orders and faults.collapse:
        collapsed_days = [
            day_date(day).isoformat()
            for day in range(window.first_day, window.last_day + 1)
            if day > gk.epoch_day and collapsed(gk, faults, day)
        ]
    anomalies = {"orphan_customer": orphans, "amount_x100": x100, "future_timestamp": future}
    return Truth(
        entity=entity,
        start=ts_str(window.start),
        end=ts_str(window.end),
        served=served,
        valid=served - invalid - duplicates,
        invalid=invalid,
        invalid_by_reason={reason: by_reason[k + 1] for k, reason in enumerate(reasons)},
        duplicates=duplicates,
        drifted=drifted,
        late=late,
        distinct_ids=len(ids),
        anomalies=anomalies,
        collapsed_days=collapsed_days,
        valid_amount_cents=sum(cents_by_currency) if is_orders else None,
        valid_amount_cents_by_currency=(
            {cur: cents_by_currency[k] for k, cur in enumerate(CURRENCIES)} if is_orders else None
        ),
    )
