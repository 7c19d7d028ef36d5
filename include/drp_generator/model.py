"""Vocabulary of the synthetic commerce world: entities, enumerations, reference lists, time helpers.

Pure Python, no I/O. Everything the generator emits is drawn from these lists, so the record
contract (field names, enumerations, formats) is visible in one place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Final

# The shared vocabulary, re-exported: the generator's own modules import it from here.
from drp_domain import CURRENCIES, ORDER_STATUSES, SEGMENTS, Entity

__all__ = ["CURRENCIES", "ORDER_STATUSES", "SEGMENTS", "Entity"]

# Countries with their cities and the currency their customers pay in.
COUNTRIES: Final = (
    ("US", "USD", ("New York", "Chicago", "Austin", "Seattle", "Denver", "Boston", "Atlanta")),
    ("GB", "GBP", ("London", "Manchester", "Leeds", "Bristol", "Glasgow")),
    ("DE", "EUR", ("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig")),
    ("FR", "EUR", ("Paris", "Lyon", "Marseille", "Toulouse", "Lille")),
    ("NL", "EUR", ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven")),
    ("ES", "EUR", ("Madrid", "Barcelona", "Valencia", "Seville")),
    ("IE", "EUR", ("Dublin", "Cork", "Galway")),
    ("CA", "USD", ("Toronto", "Vancouver", "Montreal", "Calgary")),
)
# Relative weights of COUNTRIES, as cumulative thresholds over [0, 1).
COUNTRY_CUMULATIVE: Final = (0.38, 0.52, 0.66, 0.77, 0.83, 0.90, 0.94, 1.0)

FIRST_NAMES: Final = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Donald",
    "Shafi",
    "Leslie",
    "Sophie",
    "Niklaus",
    "Anita",
    "Guido",
    "Karen",
    "Bjarne",
    "Jean",
    "Yukihiro",
    "Joan",
    "Larry",
    "Mary",
    "James",
)
LAST_NAMES: Final = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Knuth",
    "Goldwasser",
    "Lamport",
    "Wilson",
    "Wirth",
    "Borg",
    "van Rossum",
    "Jones",
    "Stroustrup",
    "Sammet",
    "Matsumoto",
    "Clarke",
    "Page",
    "Keller",
    "Gosling",
)
CATEGORIES: Final = (
    "electronics",
    "home",
    "garden",
    "books",
    "toys",
    "sports",
    "beauty",
    "grocery",
    "fashion",
)
PRODUCT_ADJECTIVES: Final = (
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Ergonomic",
    "Smart",
    "Rugged",
    "Portable",
    "Premium",
    "Vintage",
)
PRODUCT_NOUNS: Final = (
    "Lamp",
    "Kettle",
    "Backpack",
    "Headphones",
    "Notebook",
    "Blender",
    "Chair",
    "Jacket",
    "Drone",
    "Puzzle",
    "Racket",
    "Serum",
    "Teapot",
    "Keyboard",
    "Planter",
    "Tent",
)
CHANNELS: Final = ("web", "app", "marketplace", "store")
LOYALTY_TIERS: Final = ("none", "silver", "gold", "platinum")
BRANDS: Final = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Soylent")

# Foreign-exchange rates from the USD list price to the order currency.
FX_RATES: Final = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}

# Data exists from this day on: customers and products are created from EPOCH, orders from the next day.
DEFAULT_EPOCH: Final = date(2024, 1, 1)
# Windows must lie inside [MIN_DATE, MAX_DATE): keeps every derived timestamp representable.
MIN_DATE: Final = date(1970, 1, 1)
MAX_DATE: Final = date(2100, 1, 1)

DAY_SECONDS: Final = 86_400
_UNIX_ORDINAL: Final = date(1970, 1, 1).toordinal()


def day_number(value: date) -> int:
    """Days since 1970-01-01 (the generator's day index)."""
    return value.toordinal() - _UNIX_ORDINAL


def day_date(day: int) -> date:
    """Inverse of `day_number`."""
    return date.fromordinal(day + _UNIX_ORDINAL)


def to_epoch(value: datetime) -> int:
    """Whole seconds since the Unix epoch, rounding up any fraction (records have whole seconds)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    whole = delta.days * DAY_SECONDS + delta.seconds
    return whole + (1 if delta.microseconds else 0)


@lru_cache(maxsize=8192)
def day_prefix(day: int) -> str:
    """`YYYY-MM-DDT` of a day index."""
    return day_date(day).isoformat() + "T"


# "HH:MM:SSZ" for every second of a day: formatting by lookup is several times faster than strftime.
HMS: Final = tuple(f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60))


def ts_str(seconds: int) -> str:
    """Epoch seconds as the contract's timestamp format, e.g. `2026-11-21T13:45:12Z`."""
    day, rest = divmod(seconds, DAY_SECONDS)
    return day_prefix(day) + HMS[rest]


def money(cents: int) -> str:
    """Cents as a JSON number literal with exactly two decimals (`1234` -> `12.34`)."""
    if cents < 0:
        return "-" + money(-cents)
    return f"{cents // 100}.{cents % 100:02d}"
