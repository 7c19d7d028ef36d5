"""The audit listener runs inside the scheduler: it must leave the scheduling loop's session alone."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import plugins.drp_audit_listener as listener
import pytest
from sqlalchemy.orm import scoped_session, sessionmaker

pytestmark = pytest.mark.unit


def test_the_settings_lookup_cannot_close_the_schedulers_session(monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow's Session is thread-scoped, and a Connection lookup that reaches the metadata DB
    # removes the current thread's session when done: on the scheduler's thread, its loop's own.
    airflow_session = scoped_session(sessionmaker())
    loop_session = airflow_session()
    settings = object()
    looked_up_on: list[threading.Thread] = []

    def get_settings() -> object:
        looked_up_on.append(threading.current_thread())
        airflow_session.remove()
        return settings

    recorded: list[Any] = []
    monkeypatch.setattr(listener, "get_settings", get_settings)
    monkeypatch.setattr(listener, "_tries", lambda dag_run: [])
    monkeypatch.setattr(listener, "record_unaudited_tries", lambda *args: recorded.append(args))
    dag_run = SimpleNamespace(
        dag_id="orders_elt_daily",
        run_id="scheduled__2024-01-01",
        logical_date=None,
        data_interval_start=None,
        data_interval_end=None,
        conf={},
    )

    listener.AuditListener()._record(dag_run)  # type: ignore[arg-type]  # the fields it reads

    assert recorded and recorded[0][0] is settings and recorded[0][2] == "scheduled__2024-01-01"
    assert looked_up_on and looked_up_on[0] is not threading.current_thread()
    assert airflow_session() is loop_session  # the loop's session survived the lookup
