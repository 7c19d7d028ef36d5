"""dbt's profile variables for every Cosmos task, built when the task runs.

`dbt_project/profiles.yml` reads its hosts, paths and credentials from `DRP_*` environment
variables, and the Airflow processes hold no `DRP_*` secret (their tasks take credentials from
the platform's connections, `drp.connections`). So each Cosmos operator that may run dbt (the
build's producer, and a per-model sensor that falls back to running its model, e.g. when cleared
by hand) gets those variables from `dbt_runner.profile_env(get_settings())` in `get_env`, the one
place Cosmos builds a dbt command's environment, at execute time and never at parse time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drp.settings import get_settings
from drp.transform.dbt_runner import profile_env
from drp.warehouse import postgres


class ProfileFromSettings:
    """Mixin for a Cosmos operator: dbt's environment plus the profile's variables."""

    def get_env(self, context: Any) -> dict[str, Any]:
        env: dict[str, Any] = super().get_env(context)  # type: ignore[misc]  # the Cosmos operator's
        settings = get_settings()
        env.update(profile_env(settings))
        if settings.warehouse_engine == "postgres":
            # Cosmos builds a dbt command: the head is about to be written (drp.warehouse.postgres).
            postgres.mark_written(settings)
        return env


_WITH_PROFILE: dict[type, type] = {}


def use_profile_from_settings(operators: Iterable[Any]) -> None:
    """Give each Cosmos operator that builds dbt commands the mixin, in place (same class name
    and module, so the UI shows Cosmos's task types). Cosmos has no option for it."""
    for operator in operators:
        cls = type(operator)
        if not hasattr(cls, "get_env") or issubclass(cls, ProfileFromSettings):
            continue
        if cls not in _WITH_PROFILE:
            bases = (ProfileFromSettings, cls)
            _WITH_PROFILE[cls] = type(cls.__name__, bases, {"__module__": cls.__module__})
        operator.__class__ = _WITH_PROFILE[cls]
