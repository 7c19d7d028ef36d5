"""Build the Great Expectations Data Docs site (`make docs`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from drp.quality.errors import QualityError
from drp.quality.project import DATA_DOCS_SITE, open_context, project_lock, sync_project
from drp.settings import Settings


def build_data_docs(
    gx_root: Path | None = None, *, settings: Settings | None = None, sync: bool = True
) -> Path:
    """Rebuild the Data Docs site: every suite's page, the newest validation results, the index.

    The gate already updates the site incrementally after each run; this full rebuild is for a
    fresh checkout, after a change to the suites, or on a host that did not run the gate: the
    validation results come from the object store, so any host renders every run's pages. Offline
    the pages render unstyled (GX loads CSS/JS from CDNs); their content is complete.

    Args:
        gx_root: the GX project directory (default: the repository's `great_expectations/`).
        settings: whose object store holds the validation results (default: the configured one).
        sync: first bring the project's suites in step with `drp.quality.suites`.

    Returns:
        The site's `index.html`.
    """
    context = open_context(gx_root, settings)
    with project_lock(gx_root):
        if sync:
            sync_project(context)
        sites = context.build_data_docs(site_names=[DATA_DOCS_SITE])
    url = sites.get(DATA_DOCS_SITE)
    if not url:
        raise QualityError(f"Great Expectations built no {DATA_DOCS_SITE!r} Data Docs site")
    index = Path(unquote(urlparse(url).path))
    if not index.is_file():
        raise QualityError(f"Data Docs index missing after build: {index}")
    return index
