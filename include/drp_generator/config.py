"""The generator's configuration: a frozen, hashable value built from settings or by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from drp_generator.errors import FaultConfigError, GeneratorConfigError, InvalidParameterError
from drp_generator.faults import NO_FAULTS, FaultConfig, parse_faults
from drp_generator.model import DEFAULT_EPOCH, day_number
from drp_generator.settings import GeneratorSettings, load_generator_settings

MAX_ORDERS_PER_DAY: Final = 200_000
FAULTS_ENV: Final = "DRP_GENERATOR_FAULTS"


@dataclass(frozen=True, slots=True)
class GenKey:
    """What generated data depends on (besides date and faults): the cache key of a day."""

    seed: int
    orders_per_day: int
    epoch_day: int


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Everything the generator and its API need.

    Attributes:
        seed: every record is a pure function of (seed, entity, date, faults).
        orders_per_day: mean orders created per day before weekday/seasonal variation.
        api_key: when set, every `/v1` request needs `X-API-Key: <api_key>`.
        faults: the default faults; requests may override them (see `allow_fault_overrides`).
        allow_fault_overrides: honour `fault_*` query parameters.
        epoch: first day with data (customers and products; orders start the day after).
        max_window_days: longest window a request may ask for.
        max_limit / default_limit: page size bounds.
    """

    seed: int = 42
    orders_per_day: int = 10_000
    api_key: str | None = None
    faults: FaultConfig = NO_FAULTS
    allow_fault_overrides: bool = True
    epoch: date = DEFAULT_EPOCH
    max_window_days: int = 31
    max_limit: int = 10_000
    default_limit: int = 1_000
    gen_key: GenKey = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not 0 <= self.orders_per_day <= MAX_ORDERS_PER_DAY:
            raise InvalidParameterError("orders_per_day", f"must be between 0 and {MAX_ORDERS_PER_DAY}")
        if not 1 <= self.default_limit <= self.max_limit:
            raise InvalidParameterError("default_limit", "must be between 1 and max_limit")
        if self.max_window_days < 1:
            raise InvalidParameterError("max_window_days", "must be at least 1")
        object.__setattr__(self, "gen_key", GenKey(self.seed, self.orders_per_day, day_number(self.epoch)))

    @classmethod
    def from_settings(cls, settings: GeneratorSettings | None = None) -> GeneratorConfig:
        """Build from the generator's settings (`load_generator_settings()` by default).

        Default faults come from the `DRP_GENERATOR_FAULTS` setting, e.g.
        `dupes=0.01,invalid=0.005`; empty means no faults.
        """
        if settings is None:
            settings = load_generator_settings()
        key = settings.api_key.get_secret_value()
        try:
            faults = parse_faults(settings.faults)
        except FaultConfigError as exc:
            raise GeneratorConfigError(f"{FAULTS_ENV}: {exc}") from None
        return cls(
            seed=settings.seed,
            orders_per_day=settings.orders_per_day,
            api_key=key or None,
            faults=faults,
        )
