"""Where published marts live, and where `drp export` writes files.

No I/O and nothing heavy to import: the DAG names its Assets from these paths at parse time.
"""

from __future__ import annotations

from datetime import date

MART_SCHEMA = "analytics"
"""The lake schema holding the marts (dbt's `marts` folder)."""


def lake_table_prefix(lake_data_path: str, model: str) -> str:
    """The folder of a mart's Parquet files in the lake (DuckLake's `<data path>/<schema>/<table>/`)."""
    return f"{lake_data_path.rstrip('/')}/{MART_SCHEMA}/{model}"


def export_file(root: str, model: str, snapshot_date: date) -> str:
    """`drp export`'s file for one mart of one published day, under a directory or s3:// prefix."""
    return f"{root.rstrip('/')}/{model}/snapshot_date={snapshot_date.isoformat()}/{model}.parquet"
