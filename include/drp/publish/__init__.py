"""Publication: a validated lake snapshot becomes a day's published state (`ops.published_snapshots`)."""
