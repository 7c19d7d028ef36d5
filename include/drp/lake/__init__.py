"""The warehouse: a DuckLake whose catalog is a Postgres database and whose data is Parquet in the
analytics bucket. See docs/adr/0003-lakehouse.md for the write-audit-publish design."""
