#!/usr/bin/env bash
# Airflow's metadata and the lake's catalog live in databases of their own, owned by the platform role.
set -euo pipefail
for db in "${DRP_AIRFLOW_DB:-airflow}" "${DRP_LAKE_CATALOG_DB:-drp_lake}"; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "create database \"$db\" owner \"$POSTGRES_USER\""
done
