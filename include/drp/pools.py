"""The Airflow pool that serializes every task touching the DuckDB warehouse.

DuckDB allows one writing process per file, and a reader cannot open a file another process is
writing. Within a run the warehouse tasks already run one after another; the pool keeps a backfill
run and a scheduled run (whose concurrency limits are separate in Airflow 3) from overlapping.
"""

from __future__ import annotations

WAREHOUSE_POOL = "drp_warehouse"
WAREHOUSE_POOL_SLOTS = 1
WAREHOUSE_POOL_DESCRIPTION = "One DuckDB warehouse task at a time (dbt build, quality gate, publish)"
