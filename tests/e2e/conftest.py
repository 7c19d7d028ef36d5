"""Fixtures for running the real daily DAG with `dag.test()` against the running stack."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drp.settings import Settings
from tests.e2e.dag_runs import WebhookReceiver, dag_under_test


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def daily_dag(settings: Settings, webhook: WebhookReceiver) -> Iterator[Any]:
    with dag_under_test(settings, webhook) as dag:
        yield dag
