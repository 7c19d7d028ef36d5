"""Storage adapters: the S3-compatible object store."""
