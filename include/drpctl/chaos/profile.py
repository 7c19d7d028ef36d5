"""The fault profile of one chaos run, drawn deterministically from (seed, run index).

A profile says which day(s) the run processes (the next new day, a rerun of an earlier one, or a
backfill of earlier ones), which generator faults the run's `faults` param carries, which stack
component is killed with SIGKILL and when, and which service suffers an outage and for how long.
The same seed always gives the same campaign: `draw_profile` uses its own `random.Random` seeded
with text (hashed with SHA-512 by Python, stable across processes and platforms).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal

Action = Literal["new_day", "rerun", "backfill"]

# What a kill targets: supervised Airflow services (by program name) or processes found with ps.
KILL_TARGETS: Final = ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "task", "dbt")
# Supervised services stopped for a few seconds (an object-store or source-API outage).
OUTAGE_TARGETS: Final = ("seaweedfs", "generator")

# Data faults: (probability the fault is on in a run, lowest rate, highest rate). Rates stay small:
# a run should mostly still pass its gate, so the campaign exercises recovery rather than refusal.
DATA_FAULTS: Final[dict[str, tuple[float, float, float]]] = {
    "dupes": (0.35, 0.005, 0.03),
    "invalid": (0.35, 0.002, 0.02),
    "late": (0.2, 0.01, 0.05),
    "orphans": (0.08, 0.001, 0.005),
    "x100": (0.04, 0.001, 0.003),
    "future": (0.04, 0.001, 0.003),
}
# HTTP faults: the ingest client retries these (the generator only faults the first attempts).
HTTP_FAULTS: Final[dict[str, tuple[float, float, float]]] = {
    "http500": (0.25, 0.02, 0.1),
    "http429": (0.2, 0.02, 0.1),
    "truncate": (0.15, 0.02, 0.05),
    "slow": (0.15, 0.05, 0.2),
    "hang": (0.06, 0.005, 0.02),
}
DRIFT_PROBABILITY: Final = 0.08
KILL_PROBABILITY: Final = 0.5
OUTAGE_PROBABILITY: Final = 0.35
RERUN_PROBABILITY: Final = 0.2
BACKFILL_PROBABILITY: Final = 0.1


@dataclass(frozen=True)
class FaultProfile:
    """What one chaos run does. `faults` is passed verbatim as the DAG run's `faults` param."""

    index: int
    action: Action
    days: tuple[date, ...]
    faults: dict[str, str] = field(default_factory=dict)
    kill: str | None = None
    kill_after: float = 0.0
    outage: str | None = None
    outage_after: float = 0.0
    outage_seconds: float = 0.0

    def kinds(self) -> list[str]:
        """The fault kinds injected, as counted in the campaign table (`kill:<target>` etc.)."""
        kinds = [f"fault:{name}" for name in self.faults if name not in _SETTINGS]
        if self.kill:
            kinds.append(f"kill:{self.kill}")
        if self.outage:
            kinds.append(f"outage:{self.outage}")
        if self.action != "new_day":
            kinds.append(self.action)
        return kinds

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["days"] = [d.isoformat() for d in self.days]
        return body


# Fault parameters that tune a fault rather than switch one on.
_SETTINGS: Final = frozenset({"drift", "slow_seconds", "hang_seconds", "max_fault_attempts"})


def _rate(rng: random.Random, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.4f}"


def draw_faults(rng: random.Random, day: date) -> dict[str, str]:
    """Generator faults for one run: each data and HTTP fault independently on or off."""
    faults: dict[str, str] = {}
    for name, (chance, low, high) in {**DATA_FAULTS, **HTTP_FAULTS}.items():
        if rng.random() < chance:
            faults[name] = _rate(rng, low, high)
    if rng.random() < DRIFT_PROBABILITY:
        faults["drift_from"] = day.isoformat()
        faults["drift"] = rng.choice(("add", "rename", "both"))
    if "slow" in faults:
        faults["slow_seconds"] = "0.5"
    if "hang" in faults:
        faults["hang_seconds"] = "35"  # past the ingest client's 30 s read timeout
    return faults


def draw_profile(seed: int, index: int, *, next_day: date, done: list[date]) -> FaultProfile:
    """Run `index`'s profile: `next_day` is the first day not yet run, `done` the days already run.

    Deterministic in (seed, index, next_day, done): the campaign's days follow from its earlier
    draws only, never from how the runs turned out.
    """
    rng = random.Random(f"drp-chaos:{seed}:{index}")
    roll = rng.random()
    action: Action = "new_day"
    days: tuple[date, ...] = (next_day,)
    if done and roll < RERUN_PROBABILITY:
        action, days = "rerun", (rng.choice(done),)
    elif len(done) >= 2 and roll < RERUN_PROBABILITY + BACKFILL_PROBABILITY:
        first = rng.choice(done[:-1])
        action, days = "backfill", (first, first + timedelta(days=1))
    # Airflow's backfill API takes one conf for all its runs: a backfill gets no data faults.
    faults = draw_faults(rng, days[0]) if action != "backfill" else {}
    kill = rng.choice(KILL_TARGETS) if rng.random() < KILL_PROBABILITY else None
    outage = rng.choice(OUTAGE_TARGETS) if rng.random() < OUTAGE_PROBABILITY else None
    return FaultProfile(
        index=index,
        action=action,
        days=days,
        faults=faults,
        kill=kill,
        kill_after=round(rng.uniform(3.0, 90.0), 1) if kill else 0.0,
        outage=outage,
        outage_after=round(rng.uniform(1.0, 60.0), 1) if outage else 0.0,
        outage_seconds=round(rng.uniform(2.0, 10.0), 1) if outage else 0.0,
    )


def baseline_profile(day: date) -> FaultProfile:
    """A campaign's first run: a clean day, so the campaign has a publication to compare with a
    clean rebuild and earlier days for reruns and backfills, whatever the faults do later."""
    return FaultProfile(index=0, action="new_day", days=(day,), faults={}, kill=None, kill_after=0.0,
                        outage=None, outage_after=0.0, outage_seconds=0.0)  # fmt: skip


def draw_campaign(seed: int, runs: int, first_day: date) -> list[FaultProfile]:
    """Every profile of a campaign of `runs` runs starting at `first_day`: a clean baseline day,
    then drawn profiles."""
    profiles: list[FaultProfile] = []
    done: list[date] = []
    next_day = first_day
    for index in range(runs):
        if index == 0:
            profile = baseline_profile(next_day)
        else:
            profile = draw_profile(seed, index, next_day=next_day, done=done)
        profiles.append(profile)
        if profile.action == "new_day":
            done.append(next_day)
            next_day += timedelta(days=1)
    return profiles
