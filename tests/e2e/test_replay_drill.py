"""The drift drill end to end with the real daily DAG (`dag.test()`) on the running stack.

A day's source renames fields (`drift=both`): the day's run fails at its loads, naming the missing
field. An operator adds the renamed names as aliases to the contracts (`DRP_CONTRACTS_DIR`),
replays the day from the archive without calling the API (counts equal the generator's ground
truth, from its `/v1/truth` route), and the day's next run, the source still drifting, publishes.

Pauses the platform's DAG while it runs (see `dag_runs.keep_scheduler_off`): run it under the
scheduler lock, `flock /tmp/work/scheduler.lock .venv/bin/pytest -q tests/e2e/test_replay_drill.py`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from drp.ingest.contract import PACKAGED_CONTRACTS_DIR
from drp.ingest.replay import replay_interval
from drp.monitoring.data_health import day_health
from drp.publish.snapshots import publication
from drp.settings import Settings
from drpctl.chaos.heal import heal_days
from tests.e2e import browser
from tests.e2e.dag_runs import WebhookReceiver, dag_under_test, run_day

pytestmark = [pytest.mark.e2e, pytest.mark.dag_e2e]
DRP = str(Path(sys.executable).parent / "drp")

DRILL_DAY = date(2025, 7, 15)  # a day no other test runs
START = datetime(DRILL_DAY.year, DRILL_DAY.month, DRILL_DAY.day, tzinfo=UTC)
END = START + timedelta(days=1)
# No duplicates: the truth counts a copy of a record served before the day as a duplicate, which
# a load of the day alone sees as the first copy.
FAULTS = {"fault_drift_from": DRILL_DAY.isoformat(), "fault_drift": "both", "fault_invalid": "0.01"}
# (entity, field, the name drift=both gives it): the DAG loads all three.
RENAMES = (
    ("orders", "customer_id", "customer_ref"),
    ("customers", "segment", "customer_segment"),
    ("products", "category", "category_name"),
)


def _truth(settings: Settings, entity: str) -> dict[str, Any]:
    response = httpx.get(
        f"{settings.generator_url}/v1/truth/{entity}",
        params={"start": START.isoformat(), "end": END.isoformat(), **FAULTS},
        headers={"X-API-Key": settings.generator_api_key.get_secret_value()},
        timeout=300,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def _latest_batch(settings: Settings, entity: str) -> tuple[Any, ...]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        row = conn.execute(
            """select status, received, loaded, quarantined, replay_of from ops.ingest_batches
               where source_system = 'generator' and entity = %s and data_interval_start = %s
                 and data_interval_end = %s and status <> 'failed'
               order by started_at desc limit 1""",
            [entity, START, END],
        ).fetchone()
    assert row is not None
    return tuple(row)


def _add_alias(contracts: Path, entity: str, field: str, alias: str) -> None:
    """What the operator does: declare the new name in the contract file, in place."""
    path = contracts / f"{entity}.yml"
    text = path.read_text()
    anchor = f"  - name: {field}\n"
    assert text.count(anchor) == 1
    path.write_text(text.replace(anchor, f"{anchor}    aliases: [{alias}]\n"))


@pytest.fixture(autouse=True)
def _heal_the_drill_day(settings: Settings) -> Iterator[None]:
    # The drill's invalid records stay quarantined in the day's live batches; later days' orders
    # naming those customers would fail their gate.
    yield
    assert heal_days(settings, [DRILL_DAY]) == []


def test_drift_drill_alias_replay_then_the_day_publishes(
    settings: Settings, webhook: WebhookReceiver, tmp_path: Path
) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(PACKAGED_CONTRACTS_DIR, contracts)
    truths = {entity: _truth(settings, entity) for entity, _, _ in RENAMES}
    for entity, truth in truths.items():
        assert truth["drifted"] == truth["served"] > 0, entity
    assert truths["orders"]["invalid"] > 0  # (a day's few products may have none)
    with dag_under_test(settings, webhook, contracts_dir=contracts) as dag:
        # 1. The drill: every record of the day is quarantined, the loads fail, nothing publishes.
        drilled = run_day(dag, DRILL_DAY, faults=FAULTS)
        states = _states(drilled)
        assert all(states[f"load_{entity}"] == "failed" for entity, _, _ in RENAMES), states
        assert states["publish"] != "success", states
        for entity, _, _ in RENAMES:
            status, received, loaded, quarantined, _ = _latest_batch(settings, entity)
            assert status in {"succeeded", "held"}  # live on a first load, else held
            assert (received, loaded, quarantined) == (truths[entity]["served"], 0, truths[entity]["served"])
        # The operator sees it: `drp status --data` and the data health page, the same facts.
        _the_operator_sees(settings, complete=False, screenshot="data-health-drift-drill-day.png")

        # 2. The fix: aliases in the contract files, then a replay of the day from its archive.
        replay_settings = settings.model_copy(update={"contracts_dir": contracts})
        for entity, field, alias in RENAMES:
            _add_alias(contracts, entity, field, alias)
            result = replay_interval(replay_settings, entity, START, END)
            truth = truths[entity]
            assert result.received == truth["served"]
            assert result.loaded == truth["valid"] > 0
            assert result.quarantined == truth["invalid"]
            assert result.duplicates == truth["duplicates"] == 0
            assert alias not in result.drift
            status, _, loaded, _, replay_of = _latest_batch(settings, entity)
            assert (status, loaded) == ("succeeded", truth["valid"]) and replay_of is not None

        # 3. The day's next run, the source still drifting, loads through the contract and publishes.
        published = run_day(dag, DRILL_DAY, faults=FAULTS)
        states = _states(published)
        assert str(getattr(published.state, "value", published.state)) == "success", states
        assert states["publish"] == "success"
        assert publication(settings, DRILL_DAY).run_id == published.run_id
        for entity, _, _ in RENAMES:
            status, received, loaded, quarantined, _ = _latest_batch(settings, entity)
            truth = truths[entity]
            assert (status, received, loaded, quarantined) == (
                "succeeded", truth["served"], truth["valid"], truth["invalid"]
            )  # fmt: skip
        _the_operator_sees(settings, complete=True, screenshot="data-health-published-day.png")


def _the_operator_sees(settings: Settings, *, complete: bool, screenshot: str) -> None:
    """`drp status --data`, the data health page (logged in through Airflow's own form, reached
    from Airflow's navigation) and the read model agree on the drill day."""
    health = day_health(settings, DRILL_DAY)
    assert health.complete_and_correct is complete
    expected = {layer.name: layer.verdict.value.upper() for layer in health.layers()}
    status = subprocess.run(
        [DRP, "status", "--data", "--date", DRILL_DAY.isoformat()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == (0 if complete else 1), status.stdout + status.stderr
    assert {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:]} == expected
    if not complete:
        # (published stays OK when an earlier execution of this test published the day)
        assert expected["raw"] == "FAIL"
    with browser.logged_in(settings) as page:
        heading, verdicts = browser.day_verdicts(page, settings, DRILL_DAY, screenshot)
        assert heading == f"{DRILL_DAY.isoformat()}: {'' if complete else 'NOT '}complete and correct"
        assert verdicts == expected
        if complete:
            # In Airflow's navigation: the page in the UI's frame, and the Data Docs beside it.
            page.goto(f"{settings.airflow_url}/plugin/data-health")
            frame = page.frame_locator('iframe[title="Data health"]')
            assert frame.locator("h1").inner_text() == "Data health"
            assert frame.locator("svg.chart").count() == 4
            browser.save(page, "data-health-in-airflow.png")
            page.get_by_role("button", name="Browse").click()
            assert page.get_by_role("menuitem", name="Data Docs").is_visible()
