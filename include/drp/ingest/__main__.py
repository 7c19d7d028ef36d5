"""`python -m drp.ingest …`: the ingestion CLI on its own (the same app as `drp ingest`)."""

from drp.ingest.cli import main

if __name__ == "__main__":
    main()
