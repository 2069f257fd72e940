"""Headless Chromium for the web app's tests: Debian's `chromium` driven by Playwright (never a downloaded
browser), with the flags this closed network needs; `.ci/run` installs the package where it is missing."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MECHSCOPE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections (updates, sync, field trials) are refused
# by a closed network and it logs errors; QUIC and the GPU are not needed headless.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# In CI the browser tests must run: a missing browser there is a failure, not a skip.
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("MECHSCOPE_CI"),
                                    reason=f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)")


@contextmanager
def browser_context(profile: Path, **options):
    """A persistent Chromium context on a fresh profile folder (removed afterwards)."""
    from playwright.sync_api import sync_playwright

    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport={"width": 1400, "height": 1000}, **options)
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


def watched_page(context):
    """A new page of `context` that records console errors and uncaught exceptions in `page.errors`."""
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(f"uncaught: {e}"))
    return page


@needs_chromium
def test_chromium_renders_a_page_without_any_network(tmp_path):
    page_file = tmp_path / "page.html"
    page_file.write_text("<html><body><p id=p></p><script>document.getElementById('p').textContent = 6 * 7"
                         "</script></body></html>")
    with browser_context(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(page_file.as_uri())
        assert page.inner_text("#p") == "42" and errors == []
