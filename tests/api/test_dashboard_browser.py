"""The dashboard in headless Chromium (Debian's, driven by playwright): sign in, watch a new verdict arrive in
the live feed without reloading, open it, give feedback, and keep a screenshot in the test's output directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from secustream.analyzer.worker import feed_item_bytes
from secustream.state import RECENT_VERDICTS_STREAM, VERDICTS_CHANNEL
from secustream.storage import feedback as feedback_store
from secustream.storage.repository import VerdictRepository
from tests.api.conftest import PASSWORD, Api, LiveServer, seed, seed_item
from tests.conftest import service_missing

CHROMIUM = os.environ.get("SECUSTREAM_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        service_missing(f"Chromium at {CHROMIUM} (scripts/install-test-deps.sh installs Debian's)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1440, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()


def test_dashboard_live_feed_detail_and_feedback(api: Api, browser_page: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    page: Page = browser_page  # type: ignore[assignment]
    seed(api.engine, 12)
    now = datetime.now(UTC)  # and some from the last day, so the charts have something to draw
    VerdictRepository(api.engine).store([seed_item(100 + i, ts=now - timedelta(minutes=37 * i)) for i in range(36)])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with LiveServer(api.app) as server:
        page.goto(server.base + "/")
        # a wrong password first: the error is shown, nothing else
        page.fill("#username", "analyst-user")
        page.fill("#password", "wrong password")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#whoami")).to_contain_text("analyst-user (analyst)")
        expect(page.locator("#view-alerts")).to_be_visible()  # the alert queue is the default view
        page.click('#views a[data-view="events"]')
        expect(page.locator("#feed tbody tr")).to_have_count(48)
        expect(page.locator("#live-status")).to_have_text("live")
        expect(page.locator("#risk-chart svg rect").first).to_be_attached()
        expect(page.locator("#tier-chart svg")).to_contain_text("%")

        # the analyzer stores a new verdict and publishes it; the row appears without a reload
        item = seed_item(777)
        VerdictRepository(api.engine).store([item])
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        api.state.publish(VERDICTS_CHANNEL, [feed_item_bytes(item.event, item.verdict).decode()])
        api.state.push_recent(RECENT_VERDICTS_STREAM, [feed_item_bytes(item.event, item.verdict).decode()], 100)
        row = page.locator(f'#feed tbody tr[data-id="{item.event.event_id}"]')
        expect(row).to_be_visible(timeout=5000)
        assert page.locator("#feed tbody tr").first.get_attribute("data-id") == str(item.event.event_id)
        assert navigations == [], "the page reloaded"

        # open it: the analysis, rule hits and actions are shown
        row.click()
        detail = page.locator("#detail-body")
        expect(detail).to_contain_text(item.verdict.reason)
        expect(detail).to_contain_text("SSH-BRUTE-FORCE")
        expect(detail).to_contain_text("Block the source")
        expect(detail).to_contain_text("raw line 777")

        # feedback: mark it a false positive with a note
        page.fill("#feedback-note", "scanner from the security team")
        page.click('#feedback-box button[data-label="false_positive"]')
        expect(page.locator("#feedback-status")).to_contain_text("Feedback saved")
        expect(page.locator("#feedback-list")).to_contain_text("analyst-user: false_positive")
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)

        # filters narrow the table (and come back) without errors
        page.check('#filters input[name=risk_level][value="critical"]')
        page.click("#filters button[type=submit]")
        expect(page.locator("#feed-note")).to_have_text("(filtered)")
        for risk in page.locator("#feed tbody tr td:nth-child(2)").all_inner_texts():
            assert risk == "critical"

        # sign out revokes on the server: the token the page held no longer works anywhere
        token = page.evaluate("sessionStorage.getItem('secustream.token')")
        page.click("#logout")
        expect(page.locator("#login-view")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('secustream.token')") is None
        assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    with api.engine.connect() as conn:
        stored = feedback_store.list_feedback(conn, item.event.event_id)
    assert [(f["username"], f["label"], f["note"]) for f in stored] == [
        ("analyst-user", "false_positive", "scanner from the security team")]
    assert shot.stat().st_size > 10_000
    artifacts = os.environ.get("SECUSTREAM_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    print(f"\nscreenshot: {shot}")
    assert errors == [], errors
