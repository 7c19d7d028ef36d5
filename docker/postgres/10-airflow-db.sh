#!/usr/bin/env bash
# Airflow's metadata lives in its own database, owned by the platform role.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "create database ${DRP_AIRFLOW_DB:-airflow} owner \"$POSTGRES_USER\""
