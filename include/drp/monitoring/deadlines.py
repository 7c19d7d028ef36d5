"""The daily DAG's publish deadline, as an Airflow deadline alert.

"Day D is published by HH:MM UTC" (`publish_deadline_utc`) means by D + 1 day + HH:MM: HH:MM after
the data interval ends. Airflow evaluates a deadline against a reference it reads from the DAG
run; the platform's runs (scheduled, `drp run`, backfills) all have the logical date at the start
of their one-day interval, so the interval end is the logical date plus one day and the deadline
is `DAGRUN_LOGICAL_DATE + 1 day + HH:MM`. A run that has not succeeded by then makes the scheduler
queue the callback: `DrpNotifier(kind="deadline")`, run by the executor, records and sends it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from drp.monitoring.notifier import DrpNotifier
from drp.settings import Settings

DAILY_INTERVAL = timedelta(days=1)


def publish_deadline_offset(settings: Settings) -> timedelta:
    """From the interval's start (the logical date) to the publish deadline."""
    hours, minutes = (int(part) for part in settings.publish_deadline_utc.split(":"))
    return DAILY_INTERVAL + timedelta(hours=hours, minutes=minutes)


def publish_deadline(settings: Settings) -> DeadlineAlert:
    """The deadline alert for `orders_elt_daily`: published by `publish_deadline_utc` the next day."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=publish_deadline_offset(settings),
        # Only JSON in kwargs: the callback is serialized with the DAG and rebuilt by the executor.
        callback=SyncCallback(DrpNotifier, kwargs={"kind": "deadline", "level": "error"}),
        name="published_by_deadline",
    )
