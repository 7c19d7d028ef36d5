"""The dbt build's producer task, made safe to retry: every try rebuilds from the published head.

Cosmos's watcher producer (`DbtProducerWatcherOperator`, Cosmos 1.15.1) skips itself on any try
after the first ("one build per run") and leaves each sensor to run its own model with dbt: a
build that died half-way (a killed scheduler or worker) could then only fail the run, or be
finished piecemeal by sensors outside the warehouse pool. `RetryableDbtProducer` instead runs the
whole `dbt build` again on a retry or a clear, after two steps that make the rerun safe:

1. it takes the warehouse writer's advisory lock (`build_lock`): a try orphaned by a dead scheduler
   may still be running; the retry waits for it to die (Postgres frees the lock with its
   session) instead of writing next to it. The pool `drp_warehouse` stays the scheduler's view
   of the same rule;
2. it restores the warehouse's head to the newest published snapshot (`tasks.prepare_warehouse`, as
   before the first try), undoing the failed try's partial writes.

Like every Cosmos task of the DAG, it hands dbt its profile's variables built when the task
runs (`drp.transform.cosmos_profile`).

The sensors start after the producer succeeds (see the DAG), so they read the statuses of the
try that completed (Airflow clears a task's XComs when a new try starts) and never run dbt.
"""

from __future__ import annotations

import logging
from typing import Any

from cosmos.operators.watcher import DbtProducerWatcherOperator

from drp import tasks
from drp.settings import get_settings
from drp.transform.cosmos_profile import ProfileFromSettings
from drp.warehouse import build_lock

log = logging.getLogger(__name__)


class RetryableDbtProducer(ProfileFromSettings, DbtProducerWatcherOperator):  # type: ignore[misc]  # Cosmos ships no types
    """Cosmos's watcher producer whose retries rebuild (see the module docstring)."""

    def execute(self, context: Any, **kwargs: Any) -> Any:
        settings = get_settings()
        ti = context["ti"]
        with build_lock(settings):
            if ti.try_number > 1:
                restored = tasks.prepare_warehouse(settings=settings)
                log.warning(
                    "try %s of the dbt build: warehouse head restored to published snapshot %s "
                    "(tables restored: %s, dropped: %s); running the whole build again",
                    ti.try_number,
                    restored["published_lake_snapshot"],
                    ", ".join(restored["tables_restored"]) or "none",
                    ", ".join(restored["tables_dropped"]) or "none",
                )
                # Cosmos reads the try number only to skip a retry; XComs are keyed by task, not try.
                first_try = ti.model_copy(update={"try_number": 1})
                context = {**context, "ti": first_try, "task_instance": first_try}
            return super().execute(context, **kwargs)


def use_retryable_producer(producer: Any) -> None:
    """Turn the producer Cosmos rendered into a `RetryableDbtProducer`, in place.

    Cosmos builds the producer from a class name of its own (`calculate_operator_class`) and has
    no option to substitute it; the subclass adds no state, only `execute`, so swapping the class
    of the rendered task keeps every argument Cosmos gave it. Fails at parse time if Cosmos ever
    renders something else.
    """
    if type(producer) is not DbtProducerWatcherOperator:
        raise TypeError(f"expected Cosmos's DbtProducerWatcherOperator, got {type(producer).__name__}")
    producer.__class__ = RetryableDbtProducer
