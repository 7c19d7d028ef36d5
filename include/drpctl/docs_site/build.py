"""Build the dbt docs and GX Data Docs into one static folder and serve it on loopback."""

from __future__ import annotations

import contextlib
import errno
import functools
import html
import shutil
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template

from drp.errors import ConfigError
from drp.quality.docs import build_data_docs, download_data_docs
from drp.settings import Settings
from drp.transform.dbt_runner import generate_docs

# A string.Template, not str.format: the CSS braces are literal text.
INDEX = Template("""<!doctype html>
<html><head><meta charset="utf-8"><title>drp docs</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.5}</style></head>
<body><h1>drp documentation</h1>
<ul>
<li><a href="dbt/index.html">dbt docs</a>: models, columns, tests, lineage, the snapshot exposure</li>
<li><a href="gx/index.html">Great Expectations Data Docs</a>: suites and the latest validation results</li>
</ul>
<p>Static build in <code>$site</code>: serve it with any web server. The Data Docs are a copy of
<code>$gx_site</code>, which every gate run updates.</p>
</body></html>
""")


def site_dir(settings: Settings) -> Path:
    return settings.state_dir / "docs"


def build_site(
    settings: Settings, *, dbt_target_path: Path | None = None, gx_root: Path | None = None
) -> Path:
    """Generate both doc sets and copy them under `.drp/docs/` (a self-contained static site).

    The GX site is rebuilt whole in the object store, where the gate keeps it, then copied out.

    Args:
        settings: Platform settings; the site goes to `<state_dir>/docs`.
        dbt_target_path: dbt's target dir for `docs generate` (default: `generate_docs`'s, in the state dir).
        gx_root: The GX project whose Data Docs to build (default `great_expectations/`).

    Returns:
        The site's `index.html`.
    """
    site = site_dir(settings)
    shutil.rmtree(site, ignore_errors=True)
    (site / "dbt").mkdir(parents=True)
    # dbt runs in a subprocess, so the GX build (in this process) overlaps it: ~20 s instead of ~35.
    with ThreadPoolExecutor(max_workers=1) as pool:
        dbt_docs = pool.submit(generate_docs, settings, target_path=dbt_target_path)
        gx_site = build_data_docs(gx_root, settings=settings)
        download_data_docs(settings, site / "gx")
        dbt_index = dbt_docs.result()
    shutil.copy(dbt_index, site / "dbt" / "index.html")  # the single-file static page
    (site / "index.html").write_text(
        INDEX.substitute(site=html.escape(str(site)), gx_site=html.escape(gx_site))
    )
    return site / "index.html"


def site_server(settings: Settings, port: int) -> ThreadingHTTPServer:
    """An HTTP server for the built site, bound to 127.0.0.1:port (0: any free port).

    Raises:
        ConfigError: the port is taken.
    """
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site_dir(settings)))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on 127.0.0.1 is in use: choose another with --port") from None
        raise


def serve_forever(server: ThreadingHTTPServer) -> None:
    """Serve until interrupted, then close the server (Ctrl-C is how the user stops it)."""
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
