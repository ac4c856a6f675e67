"""The workspace in real headless Chromium (Debian's, driven by Playwright): a researcher's path through it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, Served
from pipeline.web import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "screenshots"  # git-ignored


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is not installed (make test installs it where it can)")
        pytest.skip("Debian's chromium is not installed: `apt-get install chromium` to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Never a browser of Playwright's own: the machine's Chromium, without the background traffic it would
        # send to the internet.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def workspace(archive):
    settings, ids = archive
    served = Served(create_app(settings))
    yield served.url, ids
    served.close()


def test_a_researcher_follows_the_flood_story_to_its_diff_and_searches(browser, workspace):
    url, ids = workspace
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))  # a hostile alert() that ran

    page.goto(f"{url}/articles")
    page.screenshot(path=SHOTS / "articles.png", full_page=True)
    page.get_by_role("link", name="Meridian River flood kills at least 27 in Harlow Bay").click()
    assert page.url == f"{url}/articles/{ids['flood']}"
    page.locator("#v2 a").first.click()
    assert page.url.endswith(f"/articles/{ids['flood']}/diff?from=1&to=2")

    mark = page.locator("#inline ins mark.figure").first
    assert mark.is_visible() and mark.inner_text() == "19"
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 213, 79)"
    assert "+7 (+58%)" in mark.get_attribute("title")
    page.screenshot(path=SHOTS / "diff-inline.png", full_page=True)

    page.click("#view-side")
    assert page.locator("#side-by-side").is_visible()
    assert page.locator("#side-by-side td.new mark.figure").first.inner_text() == "19"
    page.screenshot(path=SHOTS / "diff-side-by-side.png", full_page=True)
    page.get_by_role("link", name="next change (v2→v3) →").click()
    assert "from=2&to=3&view=side" in page.url

    page.fill("header input[name=q]", '"300 homes"')
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/search?q=*")
    hit = page.locator("ol.hits li").first
    assert hit.locator("mark").inner_text() == "300 homes"
    assert "gone from v3" in hit.inner_text()
    page.screenshot(path=SHOTS / "search.png", full_page=True)

    page.goto(f"{url}/articles/{ids['hostile']}/diff")  # the hostile page: its scripts must not run
    page.goto(f"{url}/search?q=spokesman")
    assert errors == []
    page.close()
