"""The Airflow pool that serializes the writers of the lake's head.

Under write-audit-publish a run writes at the head of the lake until it publishes
(docs/adr/0003-lakehouse.md), so two writers there would mix one run's unvalidated rows into the
other's snapshot. The pool holds the head's writers (the restore before a build, the dbt build,
lake maintenance) to one at a time across runs and DAGs; readers (the gate, publish, consumers)
read pinned snapshots and take no slot. Runs of one DAG are serialized by `max_active_runs=1`.
"""

from __future__ import annotations

WAREHOUSE_POOL = "drp_warehouse"
WAREHOUSE_POOL_SLOTS = 1
WAREHOUSE_POOL_DESCRIPTION = "One writer of the lake's head at a time (restore, dbt build, maintenance)"
