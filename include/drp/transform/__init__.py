"""Transformations: the dbt project (`dbt_project/`) and the thin wrapper that runs it."""

from drp.transform.dbt_runner import (
    DBT_MANIFEST_PATH,
    DBT_PROFILE_NAME,
    DBT_PROFILES_DIR,
    DBT_PROJECT_DIR,
    DBT_TARGET_DIR,
    DbtError,
    DbtResult,
    NodeResult,
    dbt_env,
    generate_docs,
    interval_vars,
    run_dbt,
)

__all__ = [
    "DBT_MANIFEST_PATH",
    "DBT_PROFILES_DIR",
    "DBT_PROFILE_NAME",
    "DBT_PROJECT_DIR",
    "DBT_TARGET_DIR",
    "DbtError",
    "DbtResult",
    "NodeResult",
    "dbt_env",
    "generate_docs",
    "interval_vars",
    "run_dbt",
]
