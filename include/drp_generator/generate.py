"""What is served: record versions of a day after faults, windows, pages and bulk streams.

Pure (no web framework). A record version *arrives* at its `updated_at`, except when a fault
moves it: late records arrive hours or days later, duplicates arrive again 1–60 minutes later.
Windows are half-open `[start, end)` over arrival time, which equals `updated_at` for every
record not hit by the `late`/`dupes` faults. Within a day, items are ordered by
(arrival, updated_at, record id, version), so a window's sequence is fixed, whatever the page size.

A *position* `(day, index)` points into a day's ordered items; cursors wrap positions.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from drp_generator.config import GeneratorConfig, GenKey
from drp_generator.errors import InvalidCursorError, InvalidParameterError
from drp_generator.faults import INVALID_REASONS, FaultConfig
from drp_generator.model import DAY_SECONDS, MAX_DATE, MIN_DATE, Entity, day_number, to_epoch
from drp_generator.rng import MASK64, rng_for, stable_unit
from drp_generator.world import (
    Alter,
    OrderDraws,
    base_keys,
    drift_plain,
    order_draws,
    order_versions,
    render,
)

# Bits of an item's `meta`: invalid reason (1 + index into INVALID_REASONS[entity], 0 = valid) in the
# low 4 bits, then flags, then the variant of the bad value.
REASON_MASK: Final = 0xF
DUPLICATE: Final = 1 << 4
LATE: Final = 1 << 5
DRIFTED: Final = 1 << 6
ORPHAN: Final = 1 << 7
X100: Final = 1 << 8
FUTURE: Final = 1 << 9
_VARIANT_SHIFT: Final = 10
_REWRITING: Final = ORPHAN | X100 | FUTURE  # faults that need the record written anew

DUPLICATE_MIN_SECONDS: Final = 60
DUPLICATE_MAX_SECONDS: Final = 3_600


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open interval `[start, end)` of epoch seconds."""

    start: int
    end: int

    @property
    def first_day(self) -> int:
        return self.start // DAY_SECONDS

    @property
    def last_day(self) -> int:
        return (self.end - 1) // DAY_SECONDS


def make_window(start: datetime, end: datetime, max_days: int) -> Window:
    """Validate and build a window.

    Args:
        start: inclusive bound (naive means UTC).
        end: exclusive bound.
        max_days: the longest allowed window.

    Returns:
        The window in epoch seconds (fractions of a second round up).

    Raises:
        InvalidParameterError: when end <= start, the window is too long or outside the supported range.
    """
    lo, hi = to_epoch(start), to_epoch(end)
    min_s, max_s = day_number(MIN_DATE) * DAY_SECONDS, day_number(MAX_DATE) * DAY_SECONDS
    if not min_s <= lo < max_s:
        raise InvalidParameterError("start", f"must lie in [{MIN_DATE}, {MAX_DATE})")
    if not min_s < hi <= max_s:
        raise InvalidParameterError("end", f"must lie in ({MIN_DATE}, {MAX_DATE}]")
    if hi <= lo:
        raise InvalidParameterError("end", "must be after start")
    if hi - lo > max_days * DAY_SECONDS:
        raise InvalidParameterError("end", f"window longer than {max_days} days: split it")
    return Window(lo, hi)


@dataclass(frozen=True, slots=True)
class ServedDay:
    """The items arriving on one day, in serving order."""

    day: int
    arrival: list[int]  # epoch seconds, ascending
    body: list[bytes]  # JSON text of each item
    keys: list[int]  # the base record version behind each item (see `world`)
    meta: list[int] | None  # fault bits per item; None when every item is a plain valid record


@lru_cache(maxsize=8)
def _plain_day(gk: GenKey, entity: Entity, day: int) -> tuple[list[int], list[bytes]]:
    """Keys and plain bodies of the record versions updated on `day`."""
    if entity is Entity.ORDERS:
        return order_versions(gk, day)
    keys = base_keys(gk, entity, day)
    return keys, [render(gk, entity, key).encode() for key in keys]


def collapsed(gk: GenKey, faults: FaultConfig, day: int) -> bool:
    """Whether order volume collapses on `day` (orders created that day mostly vanish)."""
    return faults.collapse > 0.0 and stable_unit(gk.seed, "collapse", day) < faults.collapse


# An item before sorting: (arrival, base key, copy number, meta, index in the base day).
_Item = tuple[int, int, int, int, int]


@lru_cache(maxsize=16)
def _faulted_base(gk: GenKey, entity: Entity, day: int, faults: FaultConfig) -> dict[int, list[_Item]]:
    """Apply record faults to the versions updated on `day`, grouped by arrival day.

    Each fault draws from its own stream, a fixed number of draws per item whatever the rates, so
    switching one fault on or changing its rate moves no other fault. Per-item Python work is limited
    to the items a fault actually hits.
    """
    keys = base_keys(gk, entity, day)
    n = len(keys)
    arrival = [key >> 64 for key in keys]
    meta = [0] * n
    dropped: set[int] = set()
    if entity is Entity.ORDERS and (faults.orphans or faults.x100 or faults.future or faults.collapse):
        per_day: dict[int, tuple[OrderDraws, bool]] = {}
        for j, key in enumerate(keys):
            low = key & MASK64
            created, i = low >> 40, (low >> 8) & 0xFFFFFFFF
            if created not in per_day:
                per_day[created] = (order_draws(gk, created), collapsed(gk, faults, created))
            draws, collapsed_day = per_day[created]
            if collapsed_day and draws.collapse[i] >= faults.collapse_factor:
                dropped.add(j)
                continue
            meta[j] = (
                (ORPHAN if draws.orphan[i] < faults.orphans else 0)
                | (X100 if draws.x100[i] < faults.x100 else 0)
                | (FUTURE if draws.future[i] < faults.future else 0)
            )
    elif entity is not Entity.ORDERS and faults.future:
        fut = rng_for(gk.seed, entity.value, "future", day).random
        draws_future = [fut() for _ in range(n)]
        for j in [j for j in range(n) if draws_future[j] < faults.future]:
            meta[j] |= FUTURE
    if faults.invalid:
        inv = rng_for(gk.seed, entity.value, "invalid", day).random
        d = [inv() for _ in range(2 * n)]
        n_reasons = len(INVALID_REASONS[entity])
        for j in [j for j in range(n) if d[2 * j] < faults.invalid]:
            r = d[2 * j + 1]
            meta[j] |= (1 + min(int(r * n_reasons), n_reasons - 1)) | (
                int(r * 1_000_003) % 16
            ) << _VARIANT_SHIFT
    moved = False
    if faults.late:
        late = rng_for(gk.seed, entity.value, "late", day).random
        d = [late() for _ in range(2 * n)]
        late_min = faults.late_min_hours * 3600
        late_span = (faults.late_max_hours - faults.late_min_hours) * 3600
        for j in [j for j in range(n) if d[2 * j] < faults.late]:
            if not meta[j] & REASON_MASK:
                meta[j] |= LATE
                arrival[j] += late_min + int(d[2 * j + 1] * late_span)
                moved = True
    copies: list[_Item] = []
    if faults.dupes:
        dup = rng_for(gk.seed, entity.value, "dupes", day).random
        d = [dup() for _ in range(2 * n)]
        dup_span = DUPLICATE_MAX_SECONDS - DUPLICATE_MIN_SECONDS
        for j in [j for j in range(n) if d[2 * j] < faults.dupes]:
            if not meta[j] & (REASON_MASK | LATE) and j not in dropped:
                again = (keys[j] >> 64) + DUPLICATE_MIN_SECONDS + int(d[2 * j + 1] * dup_span)
                copies.append((again, keys[j], 1, meta[j] | DUPLICATE, j))
    items: list[_Item] = list(zip(arrival, keys, [0] * n, meta, range(n), strict=True))
    if dropped:
        items = [item for item in items if item[4] not in dropped]
    day_end = (day + 1) * DAY_SECONDS
    groups: dict[int, list[_Item]] = {day: [item for item in items if item[0] < day_end] if moved else items}
    for item in [item for item in items if item[0] >= day_end] if moved else []:
        groups.setdefault(item[0] // DAY_SECONDS, []).append(item)
    for item in copies:
        groups.setdefault(item[0] // DAY_SECONDS, []).append(item)
    return groups


def _arrival_span_days(faults: FaultConfig) -> int:
    """How many days before its arrival day an item can have been updated."""
    span = 1 if faults.dupes else 0
    if faults.late:
        span = max(span, math.ceil(faults.late_max_hours / 24) + 1)
    return span


@lru_cache(maxsize=12)
def served_day(gk: GenKey, entity: Entity, day: int, faults: FaultConfig) -> ServedDay:
    """Everything of `entity` arriving on `day` under the (data) faults, in serving order.

    Args:
        gk: generation key of the config.
        entity: the resource.
        day: day index (days since 1970-01-01).
        faults: the fault config; pass `faults.data_only()` to share the cache across HTTP faults.

    Returns:
        The day's items.
    """
    if day < gk.epoch_day:
        return ServedDay(day, [], [], [], None)
    if not faults.has_data_faults:
        keys, bodies = _plain_day(gk, entity, day)
        return ServedDay(day, [key >> 64 for key in keys], bodies, keys, None)
    items: list[_Item] = []
    for src in range(day - _arrival_span_days(faults), day + 1):
        if src >= gk.epoch_day:
            items.extend(_faulted_base(gk, entity, src, faults).get(day, ()))
    items.sort()
    drift_from = day_number(faults.drift_from) * DAY_SECONDS if faults.drift_from is not None else None
    drift_add = faults.drift in ("add", "both")
    drift_rename = faults.drift in ("rename", "both")
    future_seconds = faults.future_days * DAY_SECONDS
    reasons = INVALID_REASONS[entity]
    plain: dict[int, list[bytes]] = {}
    arrival, body, keys, metas = [], [], [], []
    for at, key, _copy, item_meta, j in items:
        meta = item_meta
        if drift_from is not None and at >= drift_from:
            meta |= DRIFTED
        if meta & (REASON_MASK | _REWRITING):
            reason = meta & REASON_MASK
            alter = Alter(
                reason=reasons[reason - 1] if reason else None,
                variant=meta >> _VARIANT_SHIFT,
                drift_add=bool(meta & DRIFTED) and drift_add,
                drift_rename=bool(meta & DRIFTED) and drift_rename,
                orphan=bool(meta & ORPHAN),
                x100=bool(meta & X100),
                future_seconds=future_seconds if meta & FUTURE else 0,
            )
            body.append(render(gk, entity, key, alter).encode())
        else:
            src_day = (key >> 64) // DAY_SECONDS
            if src_day not in plain:
                plain[src_day] = _plain_day(gk, entity, src_day)[1]
            text = plain[src_day][j]
            if meta & DRIFTED:  # a cheap edit of the plain bytes
                text = drift_plain(gk, entity, key, text, add=drift_add, rename=drift_rename)
            body.append(text)
        arrival.append(at)
        keys.append(key)
        metas.append(meta)
    return ServedDay(day, arrival, body, keys, metas)


# ---- paging --------------------------------------------------------------------------------------
Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Page:
    records: list[bytes]
    next_position: Position | None


def _bounds(day_items: ServedDay, window: Window) -> tuple[int, int]:
    return bisect_left(day_items.arrival, window.start), bisect_left(day_items.arrival, window.end)


def read_page(
    config: GeneratorConfig,
    entity: Entity,
    window: Window,
    faults: FaultConfig,
    *,
    position: Position | None,
    limit: int,
) -> Page:
    """Up to `limit` items of the window from `position` (None = the start).

    Args:
        config: the generator config.
        entity: the resource.
        window: the validated window.
        faults: the effective fault config.
        position: where the previous page stopped.
        limit: the page size (>= 1).

    Returns:
        The records and the position of the next item (None when the window is exhausted).

    Raises:
        InvalidCursorError: when the position lies outside the window.
    """
    gk, data_faults = config.gen_key, faults.data_only()
    day = window.first_day if position is None else position[0]
    if not window.first_day <= day <= window.last_day:
        raise InvalidCursorError("position outside the window")
    records: list[bytes] = []
    first = True
    while day <= window.last_day:
        items = served_day(gk, entity, day, data_faults)
        lo, hi = _bounds(items, window)
        if first and position is not None:
            if not lo <= position[1] <= hi:
                raise InvalidCursorError("position outside the window")
            lo = position[1]
        first = False
        if len(records) == limit:
            if lo < hi:
                return Page(records, (day, lo))
        else:
            take = min(hi - lo, limit - len(records))
            records.extend(items.body[lo : lo + take])
            if lo + take < hi:
                return Page(records, (day, lo + take))
        day += 1
    return Page(records, None)


def iter_window(
    config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig, chunk: int = 5_000
) -> Iterator[list[bytes]]:
    """Every item of the window, in serving order, in lists of at most `chunk` records."""
    gk, data_faults = config.gen_key, faults.data_only()
    for day in range(window.first_day, window.last_day + 1):
        items = served_day(gk, entity, day, data_faults)
        lo, hi = _bounds(items, window)
        for at in range(lo, hi, chunk):
            yield items.body[at : min(at + chunk, hi)]


def iter_items(
    config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig
) -> Iterator[tuple[ServedDay, int, int]]:
    """(served day, lo, hi) slices covering the window, for accounting (see `truth`)."""
    gk, data_faults = config.gen_key, faults.data_only()
    for day in range(window.first_day, window.last_day + 1):
        items = served_day(gk, entity, day, data_faults)
        lo, hi = _bounds(items, window)
        yield items, lo, hi
