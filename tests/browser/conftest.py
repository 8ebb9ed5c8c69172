"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a real server.

Skipped only where Chromium is not installed; CI installs it, so there they always run.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import demo_site

CHROMIUM = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(config, items):
    if not shutil.which(CHROMIUM):
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (CI installs Debian's chromium)")
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory):
    with demo_site(tmp_path_factory) as site:
        yield site


@pytest.fixture(name="browser", scope="module")
def fx_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def watched_page(browser, **context_options):
    """A page in a fresh browser context (``context_options`` as Playwright's ``new_context``); when
    the test is done, no JavaScript error may have happened on it."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture(name="page")
def fx_page(browser):
    yield from watched_page(browser)
