"""The Great Expectations Data Docs site in the object store: build it, lock it, copy it out.

The site lives under `s3://<analytics bucket>/<DRP_QUALITY_DOCS_PREFIX>/` (the `shared_site` of
`great_expectations.yml`), beside the validation results it renders. Every gate run, on whichever
worker, adds its pages and rewrites the index; `make docs` rebuilds it whole and serves a copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import psycopg

from drp.quality.errors import QualityError
from drp.quality.project import DATA_DOCS_SITE, open_context, project_lock, sync_project
from drp.settings import Settings, get_settings
from drp.storage.object_store import client

INDEX_PAGE: Final = "index.html"
LOCK_WAIT: Final = "5min"


def site_url(settings: Settings, page: str = INDEX_PAGE) -> str:
    """The `s3://` URL of a page of the site (default: its index)."""
    return f"{settings.quality_docs_path}{page}"


@contextmanager
def site_lock(settings: Settings) -> Iterator[None]:
    """Serialise the site's writers on every host: the index is rebuilt from the results store,
    so two gate runs writing it at once could each list the other's results before they exist."""
    key = f"drp data docs s3://{settings.s3_bucket_analytics}/{settings.quality_docs_prefix}"
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"set lock_timeout = '{LOCK_WAIT}'")
        conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", [key])
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def build_data_docs(
    gx_root: Path | None = None, *, settings: Settings | None = None, sync: bool = True
) -> str:
    """Rebuild the whole Data Docs site: every suite's page, the newest validation results, the index.

    The gate updates the site after each run; this full rebuild is for a fresh object store, or
    after a change to the suites. Offline the suite and validation pages render unstyled (GX
    loads CSS/JS from CDNs) with their content; the index's tables, built by that JavaScript, stay
    empty.

    Args:
        gx_root: the GX project directory (default: the repository's `great_expectations/`).
        settings: whose object store holds the results and the site (default: the configured one).
        sync: first bring the project's suites in step with `drp.quality.suites`.

    Returns:
        The `s3://` URL of the site's index.
    """
    settings = settings or get_settings()
    context = open_context(gx_root, settings)
    with project_lock(gx_root):
        if sync:
            sync_project(context)
    with site_lock(settings):
        sites = context.build_data_docs(site_names=[DATA_DOCS_SITE])
    url = sites.get(DATA_DOCS_SITE)
    if url != site_url(settings):
        raise QualityError(
            f"Great Expectations built its {DATA_DOCS_SITE!r} site at {url!r}, not {site_url(settings)}"
        )
    return url


def download_data_docs(settings: Settings, destination: Path) -> Path:
    """Copy the site out of the object store into `destination` (a static folder to serve).

    Returns:
        The copy's `index.html`.

    Raises:
        QualityError: the object store holds no site (no gate run and no `build_data_docs` yet).
    """
    s3 = client(settings)
    prefix = f"{settings.quality_docs_prefix.strip('/')}/"
    with site_lock(settings):  # not halfway through a gate run's pages and index
        for obj in s3.list_objects(settings.s3_bucket_analytics, prefix=prefix, recursive=True):
            name = str(obj.object_name)
            s3.fget_object(settings.s3_bucket_analytics, name, str(destination / name.removeprefix(prefix)))
    index = destination / INDEX_PAGE
    if not index.is_file():
        raise QualityError(f"no Data Docs site at {site_url(settings)}: run `make docs` or a gate first")
    return index
