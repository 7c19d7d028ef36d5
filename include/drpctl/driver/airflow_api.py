"""A small client for Airflow 3's REST API (JWT from /auth/token)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from drp.errors import PlatformError
from drp.settings import Settings


class AirflowApiError(PlatformError):
    """Airflow's REST API refused or failed a call."""


class AirflowUnreachableError(AirflowApiError):
    """Airflow's API did not answer: connection refused, timed out or broken."""


class AirflowClient:
    """Authenticated calls to Airflow's `/api/v2`."""

    def __init__(self, settings: Settings, timeout: float = 30) -> None:
        self.base = settings.airflow_url
        self._http = httpx.Client(base_url=self.base, timeout=timeout)
        try:
            response = self._request(
                "POST",
                "/auth/token",
                json={
                    "username": settings.airflow_admin_user,
                    "password": settings.airflow_admin_password.get_secret_value(),
                },
            )
            if response.status_code != 201:
                raise AirflowApiError(
                    f"Airflow at {self.base} refused the admin login ({response.status_code})"
                )
        except AirflowApiError:
            self._http.close()
            raise
        self._http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Every HTTP call goes through here: a transport failure becomes one clear error."""
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # refused, timed out, reset: not an HTTP answer
            reason = str(exc) or type(exc).__name__
            raise AirflowUnreachableError(
                f"Airflow does not answer at {self.base} ({reason}): start the stack with `make up`"
            ) from None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, f"/api/v2{path}", **kwargs)
        if response.status_code >= 400:
            raise AirflowApiError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the DAG processor has parsed the DAG; fail with its import error otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            response = self._request("GET", f"/api/v2/dags/{dag_id}")
            if response.status_code == 200:
                return dict(response.json())
            errors = self.call("GET", "/importErrors").get("import_errors", [])
            mine = [
                e for e in errors if dag_id in e.get("filename", "") or dag_id in e.get("stack_trace", "")
            ]
            if mine:
                raise AirflowApiError(f"{dag_id} failed to import: {mine[0]['stack_trace'][-800:]}")
            if time.monotonic() > deadline:
                raise AirflowApiError(
                    f"{dag_id} was not parsed within {timeout:.0f}s (is the dag-processor up?)"
                )
            time.sleep(1)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def is_paused(self, dag_id: str) -> bool:
        return bool(self.call("GET", f"/dags/{dag_id}")["is_paused"])

    def create_backfill(
        self,
        dag_id: str,
        *,
        first: datetime,
        last: datetime,
        max_active_runs: int = 1,
        reprocess: str = "none",
    ) -> dict[str, Any]:
        """An Airflow backfill: one run per logical date in `[first, last]`, shown as such in the UI.

        Airflow reprocesses a day that has a run by clearing that run; `drp backfill` deletes them
        first instead (a cleared run does not rebuild, see `drpctl.driver.run.run_day`).
        """
        body = {
            "dag_id": dag_id,
            "from_date": first.isoformat(),
            "to_date": last.isoformat(),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": reprocess,
        }
        return dict(self.call("POST", "/backfills", json=body))

    def runs_between(self, dag_id: str, first: datetime, last: datetime) -> list[dict[str, Any]]:
        """Runs of the DAG whose logical date lies in `[first, last]`, oldest first."""
        body = self.call(
            "GET",
            f"/dags/{dag_id}/dagRuns",
            params={
                "logical_date_gte": first.isoformat(),
                "logical_date_lte": last.isoformat(),
                "order_by": "logical_date",
                "limit": 1000,
            },
        )
        return list(body.get("dag_runs", []))

    def trigger(
        self, dag_id: str, *, run_id: str, start: datetime, end: datetime, conf: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {
            "dag_run_id": run_id,
            "logical_date": start.isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
            "conf": conf or {},
        }
        return dict(self.call("POST", f"/dags/{dag_id}/dagRuns", json=body))

    def runs_for_logical_date(self, dag_id: str, logical_date: datetime) -> list[dict[str, Any]]:
        """Existing runs of the DAG for exactly this logical date (at most one)."""
        return self.runs_between(dag_id, logical_date, logical_date)

    def delete_run(self, dag_id: str, run_id: str) -> None:
        self.call("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}")

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        body = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500})
        return list(body.get("task_instances", []))

    def ensure_pool(self, name: str, slots: int, description: str) -> None:
        """Create the pool, or set its size when it exists."""
        response = self._request("GET", f"/api/v2/pools/{name}")
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        if response.status_code == 404:
            self.call("POST", "/pools", json=body)
        elif response.json().get("slots") != slots:
            self.call("PATCH", f"/pools/{name}", json=body)

    def close(self) -> None:
        self._http.close()
