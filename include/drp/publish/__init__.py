"""Publication of validated marts as Parquet snapshots in the object store."""
