"""The data health page's app on a database of its own: what an operator sees for each kind of day.

Airflow's login is replaced by a test user here (the page behind the real login, in a browser,
is tested against the stack in `tests/e2e/test_replay_drill.py`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from drp.health_page.app import create_app
from drp.settings import Settings
from drp.storage.object_store import client as s3_client
from tests.health_days import (
    CARRIED,
    CARRIER,
    CLEAN,
    CRITICAL,
    HELD,
    NOTHING,
    RELOADED,
    WINDOW,
    health_database,
)
from tests.isolated_lake import remove_objects

pytestmark = [pytest.mark.integration, pytest.mark.isolated]


async def _test_user() -> str:
    return "operator"


@pytest.fixture(scope="module")
def page_settings() -> Iterator[Settings]:
    with health_database(quality_docs_prefix="tests/health-page/data_docs") as settings:
        try:
            yield settings
        finally:
            remove_objects(settings, "tests/health-page")


@pytest.fixture(scope="module")
def page(page_settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings=lambda: page_settings, user=_test_user)
    with TestClient(app, root_path="/drp") as client:
        yield client


def test_recent_days_show_each_days_verdict_and_the_charts(page: TestClient) -> None:
    response = page.get("/health/", params={"end": (NOTHING + timedelta(days=1)).isoformat()})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    rows = dict(re.findall(r'<tr data-day="([\d-]+)">.*?<td class="\w+">([\w ]+)</td>', response.text))
    for day in (CLEAN, CARRIED, CARRIER, RELOADED):
        assert rows[day.isoformat()] == "complete and correct", day
    for day in (CRITICAL, HELD, WINDOW, NOTHING):
        assert rows[day.isoformat()] == "not complete and correct", day
    assert len(rows) == 14  # the default window, ending at `end`
    assert f'href="/drp/health/day/{CRITICAL.isoformat()}"' in response.text
    charts = re.findall(r'<svg class="chart" role="img" aria-label="([^"]+)"', response.text)
    assert [label.split(" (")[0] for label in charts] == [
        "Orders received per day",
        "Quarantine share of orders",
        "Run duration",
        "Quality pass rate",
    ]


def test_a_critical_day_names_the_violation_its_data_docs_and_the_failing_runs_log(page: TestClient) -> None:
    response = page.get(f"/health/day/{CRITICAL.isoformat()}")
    assert response.status_code == 200
    text = response.text
    assert f"<h1>{CRITICAL.isoformat()}: NOT complete and correct</h1>" in text
    assert "staging.orders: order_created_at_not_in_future" in text
    assert 'href="/drp/health/docs/validations/staging/orders/critical/page.html">Data Docs</a>' in text
    assert 'href="/dags/orders_elt_daily/runs/critical"' in text


def test_a_clean_day_shows_its_loads_and_publication(page: TestClient) -> None:
    text = page.get(f"/health/day/{CLEAN.isoformat()}").text
    assert "complete and correct</h1>" in text and "NOT" not in text.split("</h1>")[0]
    assert (
        "<td>orders</td><td>live</td><td>100</td><td>97</td><td>3</td><td>0</td><td>negative_value:amount 3</td>"
        in text
    )
    assert "Published: lake snapshot 7" in text and "<td>fct_orders</td><td>1,234</td>" in text


def test_data_docs_are_served_from_the_object_store(page: TestClient, page_settings: Settings) -> None:
    s3 = s3_client(page_settings)
    body = b"<html>the site's index</html>"
    name = f"{page_settings.quality_docs_prefix}/index.html"
    s3.put_object(page_settings.s3_bucket_analytics, name, io.BytesIO(body), len(body))
    response = page.get("/health/docs/index.html")
    assert response.status_code == 200 and response.content == body
    assert response.headers["content-type"].startswith("text/html")
    assert page.get("/health/docs/missing.html").status_code == 404
    # httpx would normalise a literal "..": send it encoded, as a crafted link would.
    assert page.get("/health/docs/static/%2e%2e/index.html").status_code == 404


def test_a_bad_day_is_a_clear_422(page: TestClient) -> None:
    response = page.get("/health/day/2025-13-01")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "day"]
