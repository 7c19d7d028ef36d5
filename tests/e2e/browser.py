"""A real browser on the stack's Airflow: Debian's chromium driven by Playwright, logged in through
Airflow's own login form (the page tests; `make browser` installs chromium)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from drp.settings import PROJECT_ROOT, Settings

SCREENSHOTS = PROJECT_ROOT / "docs" / "images"
TIMEOUT_MS = 60_000
HEALTH = "/drp/health/"


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: `make browser`")
    return path


@contextmanager
def logged_in(settings: Settings) -> Iterator[Page]:
    """A page of a headless chromium, logged in to the stack's Airflow as its admin through
    Airflow's own form, which the data health page sent it to."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            # The page itself first: without a login it sends the browser to Airflow's, and back.
            page.goto(f"{settings.airflow_url}{HEALTH}")
            page.wait_for_url(re.compile(r".*/auth/login.*"))
            page.locator("input[name=username]").fill(settings.airflow_admin_user)
            page.locator("input[name=password]").fill(settings.airflow_admin_password.get_secret_value())
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{settings.airflow_url}{HEALTH}")
            yield page
        finally:
            browser.close()


def day_verdicts(page: Page, settings: Settings, day: date, screenshot: str) -> tuple[str, dict[str, str]]:
    """Open the day's drill-down; its heading and the verdict of each layer (a screenshot saved
    under docs/images/)."""
    page.goto(f"{settings.airflow_url}/drp/health/day/{day.isoformat()}")
    heading = page.locator("h1").inner_text()
    verdicts = {
        row.locator("th").inner_text(): row.locator("td").first.inner_text()
        for row in page.locator("table").first.locator("tr").all()
    }
    save(page, screenshot)
    return heading, verdicts


def save(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
