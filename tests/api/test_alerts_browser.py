"""The analyst's triage in headless Chromium: sign in, the alert queue loads (the default view), open an
incident (story and timeline), acknowledge and close an alert; the layout holds at 1280 and 1920 px (no table
runs past its card or under the detail panel); screenshots of each kept as test artifacts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from secustream.storage import alerts as store
from secustream.storage.tables import Alert, Event
from tests.alerts.helpers import analyse, sshd_events, stage_for, store_and_alert
from tests.api.conftest import PASSWORD, Api, LiveServer
from tests.api.test_dashboard_browser import browser_page  # noqa: F401  (fixture)

WIDTHS = (1280, 1920)
CONTAINED = """(sel) => {
  const out = [];
  for (const card of document.querySelectorAll(sel)) {
    if (!card.offsetParent) continue;
    const box = card.getBoundingClientRect();
    for (const table of card.querySelectorAll('table')) {
      const t = table.getBoundingClientRect();
      if (t.right > box.right + 1) out.push(`${table.id || table.className} ends at ${t.right}, card at ${box.right}`);
    }
    const aside = card.parentElement.querySelector('aside');
    if (aside && aside !== card && aside.offsetParent && box.right > aside.getBoundingClientRect().left + 1)
      out.push(`${card.className} runs under the detail panel`);
  }
  return out;
}"""

CUT_LEVELS = """() => [...document.querySelectorAll('#alerts tbody td:nth-child(2)')]
  .filter((td) => td.scrollWidth > td.clientWidth).map((td) => td.textContent)"""


def artifact(path: Path) -> None:
    target = os.environ.get("SECUSTREAM_TEST_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


@pytest.fixture(scope="module")
def alerted(api: Api) -> Api:
    items, engine = analyse(sshd_events())
    store_and_alert(api.engine, stage_for(api.engine, engine), items)
    return api


def test_triage_end_to_end(alerted: Api, browser_page: object, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import Page, expect

    api = alerted
    page: Page = browser_page  # type: ignore[assignment]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    with api.engine.connect() as conn:
        open_alerts = conn.execute(select(Alert.id).where(Alert.status == "open")).scalars().all()
        known_event = conn.execute(select(Event.id).order_by(Event.timestamp.desc())).scalars().first()
    with LiveServer(api.app) as server:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(server.base + "/")
        page.fill("#username", "analyst-user")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#view-alerts")).to_be_visible()
        expect(page.locator("#alerts tbody tr")).to_have_count(len(open_alerts))
        expect(page.locator("#alert-summary")).to_contain_text("alerts")
        first = page.locator("#alerts tbody tr").first
        expect(first.locator("td").nth(4)).not_to_have_text("")

        shots = []
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        queue = page.locator("#view-alerts .table-card")
        idle_width = queue.bounding_box()["width"]  # type: ignore[index]
        for width in WIDTHS:  # the queue, with an alert's detail open, at both widths
            page.set_viewport_size({"width": width, "height": 900})
            first.locator("td").nth(2).click()
            expect(page.locator("#alert-detail-body")).to_contain_text("Sample events")
            assert page.evaluate(CONTAINED, ".table-card") == []
            assert page.evaluate(CUT_LEVELS) == [], "a level cell ends in an ellipsis"
            if width == WIDTHS[0]:  # no alert selected, the queue took the width the detail panel now holds
                assert queue.bounding_box()["width"] < 0.85 * idle_width  # type: ignore[index]
            shots.append(tmp_path / f"alert-queue-{width}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

        # open an incident: the story and the timeline
        page.click('#views a[data-view="incidents"]')
        expect(page.locator("#incidents tbody tr").first).to_be_visible()
        page.locator("#incidents tbody tr a").first.click()
        expect(page.locator("#story")).to_contain_text("written by template")
        expect(page.locator(".timeline li.alert").first).to_be_visible()
        expect(page.locator(".timeline li.event").first).to_be_visible()
        expect(page.locator("#incident-page ul.entities a[href^='#/entities/ip/']").first).to_be_visible()
        expect(page.locator("#incident-page details.guids")).to_have_count(0)  # sshd events carry no GUIDs
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate(CONTAINED, "#incident-page") == []
            shots.append(tmp_path / f"incident-{width}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
        incident_url = page.url

        # the incident's first alert: acknowledge, then close as a true positive
        page.locator(".incident-alerts a[data-alert]").first.click()
        expect(page.locator("#view-alerts")).to_be_visible()
        expect(page.locator("#alert-detail-body")).to_contain_text("Sample events")
        alert_id = page.locator("#alerts tbody tr.selected").get_attribute("data-id")
        page.click('#alert-detail-body button[data-triage="acknowledged"]')
        expect(page.locator("#triage-status")).to_have_text("Acknowledged.")
        expect(page.locator("#alert-status")).to_contain_text("acknowledged")
        page.fill("#triage-notes", "confirmed with the host owner")
        page.click('#alert-detail-body button[data-triage="true_positive"]')
        expect(page.locator("#triage-status")).to_contain_text("Closed: true positive")
        expect(page.locator(f'#alerts tbody tr[data-id="{alert_id}"] td').nth(6)).to_contain_text("closed")
        expect(page.locator("#alert-detail-body .audit li")).to_have_count(2)

        # bulk: acknowledge two more from the queue
        page.select_option("#alert-filters select[name=status]", "open")
        page.click("#alert-filters button[type=submit]")
        rows = page.locator("#alerts tbody tr")
        expect(rows).to_have_count(len(open_alerts) - 1)
        rows.nth(0).locator(".pick").check()
        rows.nth(1).locator(".pick").check()
        page.click('#bulk-bar button[data-bulk="acknowledged"]')
        expect(page.locator("#bulk-status")).to_have_text("2 alert(s) acknowledged.")

        # the Rule box: words of a rule's title in any case (a SigmaHQ rule's id is a UUID)
        with api.engine.connect() as conn:
            still_open = conn.execute(select(Alert.title, Alert.detection).where(Alert.status == "open")).all()
        word = max(still_open[0].title.split(), key=len).lower()
        page.fill("#alert-filters input[name=rule]", word)
        page.click("#alert-filters button[type=submit]")
        expect(rows).to_have_count(sum(word in f"{t} {d}".lower() for t, d in still_open))
        page.fill("#alert-filters input[name=rule]", "")
        page.click("#alert-filters button[type=submit]")
        expect(rows).to_have_count(len(still_open))

        # the raw events stay a secondary view, and their table stays inside its card at 1280 px
        page.set_viewport_size({"width": 1280, "height": 900})
        page.click('#views a[data-view="events"]')
        # a row of this database (the live feed may also carry other test runs' verdicts through Redis)
        page.locator(f'#feed tbody tr[data-id="{known_event}"]').click()
        expect(page.locator("#detail-body")).to_contain_text("Normalised")
        assert page.evaluate(CONTAINED, ".table-card") == []
        shots.append(tmp_path / "events-1280.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        page.set_viewport_size({"width": 1920, "height": 900})

        # the ATT&CK matrix and an entity page
        page.click('#views a[data-view="attack"]')
        expect(page.locator('#attack-matrix .tactic[data-tactic="credential-access"] .cell').first).to_be_visible()
        shots.append(tmp_path / "attack-1920.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        page.goto(incident_url)
        page.locator("#incident-page a[href^='#/entities/ip/']").first.click()
        expect(page.locator("#entity-page")).to_contain_text("Alerts")
        shots.append(tmp_path / "entity-1920.png")
        page.screenshot(path=str(shots[-1]), full_page=True)

    with api.engine.connect() as conn:
        closed = store.get_alert(conn, alert_id)
    assert closed["status"] == "closed" and closed["resolution"] == "true_positive"
    assert closed["notes"] == "confirmed with the host owner" and closed["assignee"] == "analyst-user"
    assert [t["actor"] for t in closed["audit"]] == ["analyst-user", "analyst-user"]
    for shot in shots:
        assert shot.stat().st_size > 10_000
        artifact(shot)
    print("\nscreenshots:", *shots, sep="\n  ")
    assert errors == [], errors
