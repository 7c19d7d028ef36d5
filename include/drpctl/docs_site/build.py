"""Build the dbt docs and GX Data Docs into one static folder and serve it on loopback."""

from __future__ import annotations

import functools
import shutil
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from drp.settings import Settings

INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>drp docs</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.5}</style></head>
<body><h1>drp documentation</h1>
<ul>
<li><a href="dbt/index.html">dbt docs</a>: models, columns, tests, lineage, the snapshot exposure</li>
<li><a href="gx/index.html">Great Expectations Data Docs</a>: suites and the latest validation results</li>
</ul>
<p>Static build in <code>{site}</code>: serve it with any web server.</p>
</body></html>
"""


def site_dir(settings: Settings) -> Path:
    return settings.state_dir / "docs"


def build_site(settings: Settings) -> Path:
    """Generate both doc sets and copy them under `.drp/docs/` (a self-contained static site)."""
    from drp.quality.docs import build_data_docs
    from drp.transform.dbt_runner import generate_docs

    site = site_dir(settings)
    shutil.rmtree(site, ignore_errors=True)
    (site / "dbt").mkdir(parents=True)
    dbt_index = generate_docs(settings)
    shutil.copy(dbt_index, site / "dbt" / "index.html")  # the single-file static page
    gx_index = build_data_docs()
    shutil.copytree(gx_index.parent, site / "gx")
    (site / "index.html").write_text(INDEX.format(site=site))
    return site / "index.html"


def serve(settings: Settings, port: int) -> None:
    """Serve the built site on 127.0.0.1:port until interrupted."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site_dir(settings)))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        server.serve_forever()
