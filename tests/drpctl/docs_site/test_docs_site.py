"""`drp docs`: the site is built for real (dbt docs generate, GX Data Docs) and served over HTTP.

dbt documents the project through the real profile: a fresh, empty lake of the test's own
(`tests.isolated_lake`; docs generate needs no built models) and the platform's Postgres `raw`
through the read-only ATTACH, so the catalog lists the raw tables. dbt's target dir, the state dir and a copy
of the GX project are temporary: the checkout is not written.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drp.errors import ConfigError
from drp.quality.docs import site_url
from drp.quality.project import GX_ROOT
from drp.quality.suites import SUITES
from drp.settings import Settings, load_settings
from drpctl.docs_site.build import build_site, serve_forever, site_server
from drpctl.stack.secrets import ensure_secrets
from tests.isolated_lake import isolated_lake, remove_objects

DRP = str(Path(sys.executable).parent / "drp")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    """Settings whose state dir holds a freshly built site, and that site's index.html."""
    tmp = tmp_path_factory.mktemp("docs_site")
    base = load_settings(state_dir=tmp / "state")
    with isolated_lake(base) as overrides:
        # Data Docs render the validation results under a prefix of its own (empty: building the
        # site writes no result), into a site of its own in the object store (removed after).
        prefix = f"tests/docs-site-{overrides['lake_catalog_db']}"
        settings = base.model_copy(
            update={
                **overrides,
                "quality_results_prefix": f"{prefix}/validations",
                "quality_docs_prefix": f"{prefix}/data_docs",
            }
        )
        gx_root = tmp / "great_expectations"
        shutil.copytree(GX_ROOT, gx_root, ignore=shutil.ignore_patterns("uncommitted"))
        try:
            index = build_site(settings, dbt_target_path=tmp / "dbt_target", gx_root=gx_root)
            yield settings, index
        finally:
            remove_objects(base, prefix)


@pytest.fixture(scope="module")
def site(built: tuple[Settings, Path]) -> Iterator[httpx.Client]:
    """An HTTP client for the site, served by drp's own server on a free loopback port."""
    settings, _ = built
    server = site_server(settings, 0)
    thread = threading.Thread(target=serve_forever, args=(server,), name="docs-site", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        with httpx.Client(base_url=f"http://{host!s}:{port}", timeout=10, trust_env=False) as client:
            yield client
    finally:
        server.shutdown()  # serve_forever returns and closes the socket
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.integration
def test_index_links_both_doc_sets(site: httpx.Client, built: tuple[Settings, Path]) -> None:
    settings, index = built
    response = site.get("/")
    assert response.status_code == 200
    assert 'href="dbt/index.html"' in response.text
    assert 'href="gx/index.html"' in response.text
    assert f"<code>{index.parent}</code>" in response.text
    # The Data Docs are a copy of the site in the object store, which the index names.
    assert f"<code>{site_url(settings)}</code>" in response.text
    assert "font-family:sans-serif" in response.text  # the CSS survived templating


@pytest.mark.integration
def test_dbt_page_embeds_manifest_and_catalog(site: httpx.Client) -> None:
    response = site.get("/dbt/index.html")
    assert response.status_code == 200
    page = response.text
    assert "schemas.getdbt.com/dbt/manifest/" in page
    assert "schemas.getdbt.com/dbt/catalog/" in page
    assert '"model.drp.fct_orders"' in page
    # The catalog entry (with table metadata) exists only if dbt read raw through the profile.
    assert '"source.drp.raw.orders_raw": {"metadata"' in page


@pytest.mark.integration
def test_gx_page_lists_every_suite(site: httpx.Client) -> None:
    response = site.get("/gx/index.html")
    assert response.status_code == 200
    missing = [suite.name for suite in SUITES if suite.name not in response.text]
    assert not missing
    first = SUITES[0].name.replace(".", "/")
    suite_page = site.get(f"/gx/expectations/{first}.html")
    assert suite_page.status_code == 200
    assert SUITES[0].name in suite_page.text
    # GX's static assets came along (the pages link them relatively).
    assert site.get("/gx/static/styles/data_docs_default_styles.css").status_code == 200


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield int(held.getsockname()[1])


@pytest.mark.unit
def test_a_taken_port_is_one_clear_error(tmp_path: Path, taken_port: int) -> None:
    settings = load_settings(check_secrets=False, state_dir=tmp_path)
    with pytest.raises(ConfigError, match=f"port {taken_port} on 127.0.0.1 is in use"):
        site_server(settings, taken_port)


@pytest.mark.unit
def test_drp_docs_refuses_a_taken_port_before_building(tmp_path: Path, taken_port: int) -> None:
    env_file = tmp_path / ".env"
    ensure_secrets(env_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRP_")}
    env |= {"DRP_ENV_FILE": str(env_file), "DRP_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(
        [DRP, "docs", "--port", str(taken_port)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {taken_port} on 127.0.0.1 is in use: choose another with --port"
    ]
    assert not (tmp_path / "state" / "docs").exists()  # nothing was built
