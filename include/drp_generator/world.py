"""The synthetic commerce world: who exists, what happens each day, and how a record is written.

Pure and deterministic: everything is a function of a `GenKey` (seed, volume, epoch) and a day.

* **Customers** `cus_NNNNNNNN`: `customers_per_day` are created each day from the epoch; each later
  day some existing customers move city and/or change segment (a new version of the record).
* **Products** `prd_NNNNNN`: an initial catalog on the epoch, a few new products a day, and daily
  list-price changes (new versions).
* **Orders** `ord_YYYYMMDD_NNNNNN`: created from the day after the epoch, volume varying by weekday
  and season. Each order goes through a lifecycle (placed → paid → shipped → delivered, or
  cancelled / returned) spread over up to `LOOKBACK_DAYS` days; every status change is a new
  version of the record with a new `updated_at`.

A *base item* is one record version, identified by an integer key whose high bits are its
`updated_at` (epoch seconds), so sorting keys sorts by time: `key = ts << 64 | entity bits`.
Days are cached (`functools.lru_cache`), so generation is paid once per (GenKey, day).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from drp_generator.config import GenKey
from drp_generator.model import (
    BRANDS,
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    COUNTRY_CUMULATIVE,
    CURRENCIES,
    DAY_SECONDS,
    FIRST_NAMES,
    FX_RATES,
    HMS,
    LAST_NAMES,
    LOYALTY_TIERS,
    ORDER_STATUSES,
    PRODUCT_ADJECTIVES,
    PRODUCT_NOUNS,
    SEGMENTS,
    Entity,
    day_date,
    day_prefix,
    money,
    ts_str,
)
from drp_generator.rng import MASK64, mix64, rng_for, stable_seed, unit

# An order's last status change falls at most LOOKBACK_DAYS days after the day it was created:
# paid <= 2 h, shipped <= 36 h later, delivered <= 4 days later, returned <= 5 days later.
LOOKBACK_DAYS: Final = 11
INITIAL_PRODUCTS: Final = 200
ORPHAN_BASE: Final = 99_000_000  # customer ids from here on never exist (see `orphan_customer_id`)

PLACED, PAID, SHIPPED, DELIVERED, CANCELLED, RETURNED = range(6)
_CURRENCY_INDEX: Final = {c: i for i, c in enumerate(CURRENCIES)}
_COUNTRY_CURRENCY: Final = tuple(_CURRENCY_INDEX[c[1]] for c in COUNTRIES)
# Monday .. Sunday.
_WEEKDAY_FACTORS: Final = (0.97, 0.98, 1.0, 1.03, 1.10, 1.02, 0.90)
_SLOT_BITS: Final = 20
_SLOT_MASK: Final = (1 << _SLOT_BITS) - 1


# ---- volumes -------------------------------------------------------------------------------------
def customers_per_day(gk: GenKey) -> int:
    return max(1, gk.orders_per_day // 20)


def products_per_day(gk: GenKey) -> int:
    return max(1, gk.orders_per_day // 5000)


def customers_before(gk: GenKey, day: int) -> int:
    """How many customers were created before `day` (ids `0 .. n-1`)."""
    return customers_per_day(gk) * max(0, day - gk.epoch_day)


def products_before(gk: GenKey, day: int) -> int:
    """How many products exist before `day` (ids `0 .. n-1`)."""
    if day <= gk.epoch_day:
        return 0
    return INITIAL_PRODUCTS + products_per_day(gk) * (day - gk.epoch_day - 1)


def orders_created(gk: GenKey, day: int) -> int:
    """Orders created on `day` (before any volume-collapse fault): weekday, season and noise."""
    if day <= gk.epoch_day or gk.orders_per_day == 0:
        return 0
    d = day_date(day)
    season = 1.0 + 0.1 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 350) / 365.25)
    holiday = 1.3 if (d.month == 11 and d.day >= 20) or (d.month == 12 and d.day <= 24) else 1.0
    noise = 0.95 + 0.1 * unit(gk.seed * 7919 + day)
    return round(gk.orders_per_day * _WEEKDAY_FACTORS[d.weekday()] * season * holiday * noise)


# ---- ids -----------------------------------------------------------------------------------------
def customer_id(n: int) -> str:
    return f"cus_{n:08d}"


def product_id(n: int) -> str:
    return f"prd_{n:06d}"


def order_id(day: int, i: int) -> str:
    return f"ord_{day_date(day).strftime('%Y%m%d')}_{i:06d}"


def orphan_customer_id(gk: GenKey, created_day: int, i: int) -> str:
    """A customer id that is well-formed but never created (ids >= ORPHAN_BASE)."""
    return customer_id(ORPHAN_BASE + mix64(gk.seed ^ (created_day << 24) ^ i) % 1_000_000)


# ---- customers -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Customer:
    n: int
    name: str
    email: str
    country: int  # index into COUNTRIES
    city: str
    segment: str
    created: int  # epoch seconds


def _customer_salt(gk: GenKey) -> int:
    return _salt(gk.seed, "customer")


@lru_cache(maxsize=64)
def _salt(seed: int, name: str) -> int:
    return stable_seed(seed, name)


def customer_country(gk: GenKey, n: int) -> int:
    """Index into COUNTRIES of customer `n` (fixed for life)."""
    u = (mix64(_customer_salt(gk) + n) >> 16 & 0xFFFF) / 65536.0
    for idx, threshold in enumerate(COUNTRY_CUMULATIVE):
        if u < threshold:
            return idx
    return len(COUNTRIES) - 1


def customer(gk: GenKey, n: int) -> Customer:
    """Customer `n` as created."""
    h = mix64(_customer_salt(gk) + n)
    first = FIRST_NAMES[h % len(FIRST_NAMES)]
    last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)]
    country = customer_country(gk, n)
    cities = COUNTRIES[country][2]
    s = (h >> 40 & 0xFF) / 256.0
    segment = SEGMENTS[0] if s < 0.8 else SEGMENTS[1] if s < 0.95 else SEGMENTS[2]
    day = gk.epoch_day + n // customers_per_day(gk)
    local = (first + "." + last).lower().replace(" ", "")
    return Customer(
        n=n,
        name=f"{first} {last}",
        email=f"{local}{n}@example.com",
        country=country,
        city=cities[(h >> 32) % len(cities)],
        segment=segment,
        created=day * DAY_SECONDS + mix64(h) % DAY_SECONDS,
    )


def _customer_update(gk: GenKey, day: int, slot: int, base: Customer) -> tuple[str, str]:
    """(city, segment) after the `slot`-th customer change on `day` (slot >= 1)."""
    h = mix64(_salt(gk.seed, "customer-update") + (day << _SLOT_BITS) + slot)
    cities = COUNTRIES[base.country][2]
    city = base.city
    if len(cities) > 1 and (h >> 20 & 0xFF) < 200:  # most changes are a move
        city = cities[(cities.index(base.city) + 1 + (h >> 28) % (len(cities) - 1)) % len(cities)]
    segment = base.segment
    if (h >> 36 & 0xFF) < 90 or city == base.city:
        segment = SEGMENTS[(SEGMENTS.index(base.segment) + 1 + (h >> 44) % 2) % 3]
    return city, segment


def _customer_update_target(gk: GenKey, day: int, slot: int) -> int:
    h = mix64(_salt(gk.seed, "customer-update") + (day << _SLOT_BITS) + slot)
    return h % customers_before(gk, day)


@lru_cache(maxsize=64)
def customer_keys(gk: GenKey, day: int) -> list[int]:
    """Sorted keys of customer record versions with `updated_at` on `day`."""
    if day < gk.epoch_day:
        return []
    per_day = customers_per_day(gk)
    first = per_day * (day - gk.epoch_day)
    keys = [(customer(gk, n).created << 64) | (n << _SLOT_BITS) for n in range(first, first + per_day)]
    if day > gk.epoch_day:
        salt = _salt(gk.seed, "customer-update-time")
        for slot in range(1, max(1, per_day // 4) + 1):
            n = _customer_update_target(gk, day, slot)
            ts = day * DAY_SECONDS + mix64(salt + (day << _SLOT_BITS) + slot) % DAY_SECONDS
            keys.append((ts << 64) | (n << _SLOT_BITS) | slot)
    keys.sort()
    return keys


# ---- products ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Product:
    n: int
    name: str
    category: str
    price: int  # USD cents, list price at creation
    created: int


def product_created_day(gk: GenKey, n: int) -> int:
    if n < INITIAL_PRODUCTS:
        return gk.epoch_day
    return gk.epoch_day + 1 + (n - INITIAL_PRODUCTS) // products_per_day(gk)


def product_price(gk: GenKey, n: int) -> int:
    """List price of product `n` at creation, in USD cents (199 .. ~50,000, mostly cheap)."""
    u = (mix64(_salt(gk.seed, "product") + n) >> 11) / float(1 << 53)
    return 199 + int(u * u * 49_800)


def product(gk: GenKey, n: int) -> Product:
    h = mix64(_salt(gk.seed, "product") + n)
    adjective = PRODUCT_ADJECTIVES[h % len(PRODUCT_ADJECTIVES)]
    return Product(
        n=n,
        name=f"{adjective} {PRODUCT_NOUNS[(h >> 8) % len(PRODUCT_NOUNS)]}",
        category=CATEGORIES[(h >> 16) % len(CATEGORIES)],
        price=product_price(gk, n),
        created=product_created_day(gk, n) * DAY_SECONDS + mix64(h) % DAY_SECONDS,
    )


def _product_reprice(gk: GenKey, day: int, slot: int, base: Product) -> int:
    h = mix64(_salt(gk.seed, "product-update") + (day << _SLOT_BITS) + slot)
    factor = 0.8 + 0.45 * ((h >> 20 & 0xFFFF) / 65536.0)
    if 0.98 < factor < 1.02:
        factor = 1.05
    return max(99, round(base.price * factor))


@lru_cache(maxsize=64)
def product_keys(gk: GenKey, day: int) -> list[int]:
    """Sorted keys of product record versions with `updated_at` on `day`."""
    if day < gk.epoch_day:
        return []
    if day == gk.epoch_day:
        new = range(INITIAL_PRODUCTS)
    else:
        first = products_before(gk, day)
        new = range(first, first + products_per_day(gk))
    keys = [(product(gk, n).created << 64) | (n << _SLOT_BITS) for n in new]
    if day > gk.epoch_day:
        avail = products_before(gk, day)
        salt = _salt(gk.seed, "product-update")
        for slot in range(1, max(1, avail // 100) + 1):
            h = mix64(salt + (day << _SLOT_BITS) + slot)
            ts = day * DAY_SECONDS + (h >> 40) % DAY_SECONDS
            keys.append((ts << 64) | ((h % avail) << _SLOT_BITS) | slot)
    keys.sort()
    return keys


# ---- orders --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrdersDay:
    """Orders created on one day, with everything needed to write any of their versions.

    `prefix[i] + status + middle[i] + updated_at + '"}'` is the JSON text of a version of order i.
    Only flat lists of bytes, ints and floats: millions of small containers would make the garbage
    collector, not generation, the bottleneck.
    """

    day: int
    prefix: list[bytes]  # '{"order_id":"…","customer_id":"…","status":"'
    middle: list[bytes]  # '","currency":…,"amount":…,"lines":[…],"created_at":"…","updated_at":"'
    customer: list[int]
    currency: list[int]
    cents: list[int]
    created: list[int]
    by_day: list[list[int]]  # keys of versions whose updated_at falls on day + k


_TWO_PI: Final = 2 * math.pi
_LINE_STARTS: Final = tuple(f'{{"line_number":{n}' for n in range(8))


def _currency_by_u16() -> bytes:
    """Currency index of a customer by the 16 hash bits that pick its country."""
    out = bytearray(65536)
    for u16 in range(65536):
        u = u16 / 65536.0
        country = next(k for k, threshold in enumerate(COUNTRY_CUMULATIVE) if u < threshold)
        out[u16] = _COUNTRY_CURRENCY[country]
    return bytes(out)


_CURRENCY_BY_U16: Final = _currency_by_u16()


@lru_cache(maxsize=16)
def _line_fragments(gk: GenKey) -> list[dict[int, tuple[str, int]]]:
    """Per currency: order-line JSON (all but the line number) and its cents, memoized by
    `product << 5 | quantity << 2 | discount`. Shared by all days: prices do not depend on the day.
    """
    return [{} for _ in CURRENCIES]


@lru_cache(maxsize=24)
def orders_day(gk: GenKey, day: int) -> OrdersDay:
    """Generate the orders created on `day`.

    The hot path of the generator: kept flat on purpose (local names, inlined hashing, cached line
    fragments), since every cold day costs ~10,000 iterations of this loop.
    """
    n = orders_created(gk, day)
    rand = rng_for(gk.seed, "orders", day).random
    sin = math.sin
    # Times of day: t = u + a/2pi sin(2pi u) has density 1/(1 + a cos(2pi u)): ~4x more orders around
    # noon than around midnight for a = 0.6 (monotonic since a < 1, so t stays in [0, 1)).
    secs = sorted(int(DAY_SECONDS * (u + 0.0955 * sin(_TWO_PI * u))) for u in [rand() for _ in range(n)])
    day_start = day * DAY_SECONDS
    cust_avail = customers_before(gk, day)
    prod_avail = products_before(gk, day)
    fragments = _line_fragments(gk)
    rates = [FX_RATES[cur] for cur in CURRENCIES]
    date_tag = day_date(day).strftime("%Y%m%d")
    day_text = day_date(day).isoformat()
    cust_salt = _customer_salt(gk) + 0x9E3779B97F4A7C15
    currency_by_u16 = _CURRENCY_BY_U16
    line_starts = _LINE_STARTS
    base_key = day << 40
    by_day: list[list[int]] = [[] for _ in range(LOOKBACK_DAYS + 1)]
    add_today = by_day[0].append
    out = OrdersDay(day, [], [], [], [], [], [], by_day)
    add_prefix, add_middle = out.prefix.append, out.middle.append
    add_customer, add_currency, add_cents, add_created = (
        out.customer.append, out.currency.append, out.cents.append, out.created.append,
    )  # fmt: skip
    for i, sec in enumerate(secs):
        t0 = day_start + sec
        cust = int(rand() * cust_avail)
        # mix64(salt + cust), inlined: the customer's country, hence the order currency.
        z = (cust_salt + cust) & MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        cur = currency_by_u16[((z ^ (z >> 31)) >> 16) & 0xFFFF]
        memo = fragments[cur]
        u = rand()
        nlines = 1 if u < 0.45 else 2 if u < 0.75 else 3 if u < 0.9 else 4 if u < 0.97 else 5
        total = 0
        parts = []
        for line in range(1, nlines + 1):
            r = rand()
            p = int(r * r * prod_avail)
            uq = rand()
            qty = 1 if uq < 0.7 else 2 if uq < 0.9 else 3 if uq < 0.97 else 4
            ud = rand()
            variant = 0 if ud < 0.8 else 1 if ud < 0.95 else 2
            fkey = (p << 5) | (qty << 2) | variant  # qty <= 4 needs 3 bits, variant 2
            fragment = memo.get(fkey)
            if fragment is None:
                listed = round(product_price(gk, p) * rates[cur])
                price = listed if variant == 0 else listed * 90 // 100 if variant == 1 else listed * 75 // 100
                fragment = memo[fkey] = (
                    f',"product_id":"prd_{p:06d}","quantity":{qty},'
                    f'"unit_price":{price // 100}.{price % 100:02d}}}',
                    qty * price,
                )
            total += fragment[1]
            parts.append(line_starts[line] + fragment[0])
        # The lifecycle: one key per version, `updated_at << 64 | day << 40 | i << 8 | v << 4 | status`.
        low = base_key | (i << 8)
        add_today((t0 << 64) | low | PLACED)
        if rand() < 0.04:
            ts = t0 + 300 + int(rand() * 21_300)
            by_day[ts // DAY_SECONDS - day].append((ts << 64) | low | 0x10 | CANCELLED)
        else:
            ts = t0 + 30 + int(rand() * 7_170)
            by_day[ts // DAY_SECONDS - day].append((ts << 64) | low | 0x10 | PAID)
            if rand() < 0.02:
                ts += 3_600 + int(rand() * 82_800)
                by_day[ts // DAY_SECONDS - day].append((ts << 64) | low | 0x20 | CANCELLED)
            else:
                ts += 14_400 + int(rand() * 115_200)
                by_day[ts // DAY_SECONDS - day].append((ts << 64) | low | 0x20 | SHIPPED)
                ts += 86_400 + int(rand() * 259_200)
                by_day[ts // DAY_SECONDS - day].append((ts << 64) | low | 0x30 | DELIVERED)
                if rand() < 0.03:
                    ts += 86_400 + int(rand() * 345_600)
                    by_day[ts // DAY_SECONDS - day].append((ts << 64) | low | 0x40 | RETURNED)
        add_prefix(
            f'{{"order_id":"ord_{date_tag}_{i:06d}","customer_id":"cus_{cust:08d}","status":"'.encode()
        )
        add_middle(
            f'","currency":"{CURRENCIES[cur]}","amount":{total // 100}.{total % 100:02d},'
            f'"lines":[{",".join(parts)}],"created_at":"{day_text}T{HMS[sec]}","updated_at":"'.encode()
        )
        add_customer(cust)
        add_currency(cur)
        add_cents(total)
        add_created(t0)
    return out


@dataclass(frozen=True, slots=True)
class OrderDraws:
    """Per-order uniforms deciding the aggregate faults, from their own stream (drawn on demand)."""

    orphan: list[float]
    x100: list[float]
    future: list[float]
    collapse: list[float]
    channel: list[int]


@lru_cache(maxsize=32)
def order_draws(gk: GenKey, day: int) -> OrderDraws:
    """Fault draws of the orders created on `day` (independent of which faults are on)."""
    n = len(orders_day(gk, day).prefix)
    rand = rng_for(gk.seed, "order-faults", day).random
    rows = [(rand(), rand(), rand(), rand(), int(rand() * len(CHANNELS))) for _ in range(n)]
    return OrderDraws(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
    )


_STATUS_BYTES: Final = tuple(s.encode() for s in ORDER_STATUSES)
HMS_BYTES: Final = tuple(t.encode() for t in HMS)


@lru_cache(maxsize=8)
def order_versions(gk: GenKey, day: int) -> tuple[list[int], list[bytes]]:
    """Sorted keys, and their plain JSON bodies, of order versions with `updated_at` on `day`."""
    keys: list[int] = []
    days: dict[int, OrdersDay] = {}
    for k in range(LOOKBACK_DAYS + 1):
        created = day - k
        if created <= gk.epoch_day:
            break
        od = days[created] = orders_day(gk, created)
        keys.extend(od.by_day[k])
    keys.sort()
    day_start = day * DAY_SECONDS
    tail = day_prefix(day).encode()
    statuses, hms, join = _STATUS_BYTES, HMS_BYTES, b"".join
    bodies: list[bytes] = []
    add = bodies.append
    mask = (1 << 32) - 1
    for key in keys:
        low = key & MASK64
        od = days[low >> 40]
        i = (low >> 8) & mask
        add(
            join(
                (
                    od.prefix[i], statuses[low & 0xF], od.middle[i], tail,
                    hms[(key >> 64) - day_start], b'"}',
                )
            )
        )  # fmt: skip
    return keys, bodies


def order_keys(gk: GenKey, day: int) -> list[int]:
    """Sorted keys of order versions with `updated_at` on `day`."""
    return order_versions(gk, day)[0]


def decode_order(key: int) -> tuple[int, int, int, int]:
    """(created day, index in day, version, status index) of an order key.

    Key layout: `updated_at << 64 | created_day << 40 | index << 8 | version << 4 | status`.
    """
    low = key & MASK64
    return low >> 40, (low >> 8) & 0xFFFFFFFF, (low >> 4) & 0xF, low & 0xF


def decode_slot(key: int) -> tuple[int, int]:
    """(n, slot) of a customer or product key; slot 0 is the creation, >= 1 a change."""
    low = key & MASK64
    return low >> _SLOT_BITS, low & _SLOT_MASK


def base_keys(gk: GenKey, entity: Entity, day: int) -> list[int]:
    """Sorted keys of all record versions of `entity` with `updated_at` on `day`."""
    if entity is Entity.ORDERS:
        return order_keys(gk, day)
    if entity is Entity.CUSTOMERS:
        return customer_keys(gk, day)
    return product_keys(gk, day)


def record_id_key(entity: Entity, key: int) -> int:
    """An integer standing for the record's id (distinct ids <=> distinct values)."""
    low = key & MASK64
    return low >> 8 if entity is Entity.ORDERS else low >> _SLOT_BITS


# ---- rendering -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Alter:
    """How a faulted record differs from the plain one."""

    reason: str | None = None  # invalid reason code
    variant: int = 0  # picks among bad values
    drift_add: bool = False
    drift_rename: bool = False
    orphan: bool = False
    x100: bool = False
    future_seconds: int = 0


_BAD_TIMESTAMPS: Final = ("2026-13-45T25:61:00Z", "yesterday", "21/11/2026 13:45", "", "2026-11-21 13:45:12")
_UNKNOWN_STATUSES: Final = ("on_hold", "pending_review", "lost")


def render_order(gk: GenKey, key: int) -> str:
    """The plain JSON text of an order version."""
    day, i, _version, status = decode_order(key)
    od = orders_day(gk, day)
    return od.prefix[i].decode() + ORDER_STATUSES[status] + od.middle[i].decode() + ts_str(key >> 64) + '"}'


_UNIT_PRICE: Final = re.compile(r'"unit_price":(\d+)\.(\d\d)')


def _times_100(match: re.Match[str]) -> str:
    return f'"unit_price":{int(match[1]) * 100 + int(match[2])}.00'


def render_order_altered(gk: GenKey, key: int, alter: Alter) -> str:
    """The JSON text of an order version changed by faults."""
    ts = key >> 64
    day, i, _version, status_index = decode_order(key)
    od = orders_day(gk, day)
    reason = alter.reason
    oid = "null" if reason == "null_id" else f'"{order_id(day, i)}"'
    cust = orphan_customer_id(gk, day, i) if alter.orphan else customer_id(od.customer[i])
    cust_field = "customer_ref" if alter.drift_rename else "customer_id"
    status = ORDER_STATUSES[status_index]
    if reason == "unknown_status":
        status = _UNKNOWN_STATUSES[alter.variant % len(_UNKNOWN_STATUSES)]
    amount = money(od.cents[i] * (100 if alter.x100 else 1))
    if reason == "negative_amount":
        amount = "-" + amount
    elif reason == "wrong_type":
        amount = '"abc"'
    middle = od.middle[i].decode()
    lines = middle[middle.index('"lines":[') + 9 : middle.rindex('],"created_at"')]
    if alter.x100:
        lines = _UNIT_PRICE.sub(_times_100, lines)
    shift = alter.future_seconds
    updated = f'"{ts_str(ts + shift)}"'
    if reason == "bad_timestamp":
        updated = f'"{_BAD_TIMESTAMPS[alter.variant % len(_BAD_TIMESTAMPS)]}"'
    extra = drift_extra(gk, Entity.ORDERS, key) if alter.drift_add else ""
    return (
        f'{{"order_id":{oid},"{cust_field}":"{cust}","status":"{status}",'
        f'"currency":"{CURRENCIES[od.currency[i]]}","amount":{amount},"lines":[{lines}],'
        f'"created_at":"{ts_str(od.created[i] + shift)}","updated_at":{updated}{extra}}}'
    )


def _customer_state(gk: GenKey, key: int) -> tuple[Customer, str, str]:
    n, slot = decode_slot(key)
    base = customer(gk, n)
    if slot == 0:
        return base, base.city, base.segment
    city, segment = _customer_update(gk, (key >> 64) // DAY_SECONDS, slot, base)
    return base, city, segment


def render_customer(gk: GenKey, key: int, alter: Alter | None = None) -> str:
    """The JSON text of a customer version (plain when `alter` is None)."""
    ts = key >> 64
    base, city, segment = _customer_state(gk, key)
    a = alter or _PLAIN
    reason = a.reason
    cid = "null" if reason == "null_id" else f'"{customer_id(base.n)}"'
    country = "840" if reason == "wrong_type" else f'"{COUNTRIES[base.country][0]}"'
    if reason == "unknown_segment":
        segment = ("vip", "government", "unknown")[a.variant % 3]
    seg_field = "customer_segment" if a.drift_rename else "segment"
    updated = f'"{ts_str(ts + a.future_seconds)}"'
    if reason == "bad_timestamp":
        updated = f'"{_BAD_TIMESTAMPS[a.variant % len(_BAD_TIMESTAMPS)]}"'
    extra = drift_extra(gk, Entity.CUSTOMERS, key) if a.drift_add else ""
    return (
        f'{{"customer_id":{cid},"name":"{base.name}","email":"{base.email}","country":{country},'
        f'"city":"{city}","{seg_field}":"{segment}","created_at":"{ts_str(base.created + a.future_seconds)}",'
        f'"updated_at":{updated}{extra}}}'
    )


def render_product(gk: GenKey, key: int, alter: Alter | None = None) -> str:
    """The JSON text of a product version (plain when `alter` is None)."""
    ts = key >> 64
    n, slot = decode_slot(key)
    base = product(gk, n)
    price = base.price if slot == 0 else _product_reprice(gk, ts // DAY_SECONDS, slot, base)
    a = alter or _PLAIN
    reason = a.reason
    pid = "null" if reason == "null_id" else f'"{product_id(n)}"'
    price_text = money(price)
    if reason == "negative_price":
        price_text = "-" + price_text
    elif reason == "wrong_type":
        price_text = '"abc"'
    cat_field = "category_name" if a.drift_rename else "category"
    updated = f'"{ts_str(ts + a.future_seconds)}"'
    if reason == "bad_timestamp":
        updated = f'"{_BAD_TIMESTAMPS[a.variant % len(_BAD_TIMESTAMPS)]}"'
    extra = drift_extra(gk, Entity.PRODUCTS, key) if a.drift_add else ""
    created = ts_str(base.created + a.future_seconds)
    return (
        f'{{"product_id":{pid},"name":"{base.name}","{cat_field}":"{base.category}",'
        f'"unit_price":{price_text},"currency":"USD","created_at":"{created}",'
        f'"updated_at":{updated}{extra}}}'
    )


_PLAIN: Final = Alter()
# Under schema drift: (the field a plain record carries, the name it gets instead).
_RENAMES: Final = {
    Entity.ORDERS: (b'"customer_id":', b'"customer_ref":'),
    Entity.CUSTOMERS: (b'"segment":', b'"customer_segment":'),
    Entity.PRODUCTS: (b'"category":', b'"category_name":'),
}


def drift_extra(gk: GenKey, entity: Entity, key: int) -> str:
    """The field schema drift adds to a record (JSON text with a leading comma)."""
    if entity is Entity.ORDERS:
        day, i, _version, _status = decode_order(key)
        return f',"channel":"{CHANNELS[order_draws(gk, day).channel[i]]}"'
    n, _slot = decode_slot(key)
    if entity is Entity.CUSTOMERS:
        return f',"loyalty_tier":"{LOYALTY_TIERS[mix64(n) % len(LOYALTY_TIERS)]}"'
    return f',"brand":"{BRANDS[mix64(n) % len(BRANDS)]}"'


def drift_plain(gk: GenKey, entity: Entity, key: int, body: bytes, *, add: bool, rename: bool) -> bytes:
    """Apply schema drift to a plain record's JSON bytes (same bytes as `render` with drift only)."""
    if rename:
        old, new = _RENAMES[entity]
        body = body.replace(old, new, 1)
    if add:
        body = body[:-1] + drift_extra(gk, entity, key).encode() + b"}"
    return body


def render(gk: GenKey, entity: Entity, key: int, alter: Alter | None = None) -> str:
    """The JSON text of any record version."""
    if entity is Entity.ORDERS:
        return render_order(gk, key) if alter is None else render_order_altered(gk, key, alter)
    if entity is Entity.CUSTOMERS:
        return render_customer(gk, key, alter)
    return render_product(gk, key, alter)
