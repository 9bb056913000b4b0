"""A reader in a real browser: from the list of notices to a notice, its date, its archive and a version.

Seed promise: "LAST UPDATED, July 29, 2024 — See previous versions of the Privacy Notice in our
Notice Archives" (000_8ec896ddd871dbc0.txt, intro).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from pledge.notices.render import long_date
from pledge.policy import CompiledPolicy, load_compiled
from tests.e2e.conftest import PANASONIC_POLICY, LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def panasonic() -> CompiledPolicy:
    return load_compiled(PANASONIC_POLICY)


def test_reader_opens_a_notice_sees_its_date_and_reads_an_archived_version(
        page: Page, live_server: LiveServer, panasonic: CompiledPolicy) -> None:
    notice = panasonic.notices["smartapp"]
    last_updated = long_date(notice.last_updated.isoformat())

    page.goto(live_server.url("/privacy"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Privacy notices")
    for listed in panasonic.notices.values():
        expect(page.get_by_role("link", name=listed.title, exact=True)).to_be_visible()

    page.get_by_role("link", name=notice.title, exact=True).click()
    expect(page).to_have_url(re.compile(r"/privacy/smartapp$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(notice.title)
    expect(page.locator(".notice-header .last-updated")).to_have_text(f"Last updated: {last_updated}")

    page.get_by_role("link", name="Earlier versions of this notice").click()
    expect(page).to_have_url(re.compile(r"/privacy/smartapp/versions$"))
    expect(page.get_by_role("table", name="Published versions")).to_be_visible()

    page.get_by_role("link", name="Version 1", exact=True).click()
    expect(page).to_have_url(re.compile(r"/privacy/smartapp/versions/1$"))
    expect(page.get_by_text("Archived version 1")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(notice.title)
    expect(page.locator(".notice-header .last-updated")).to_have_text(f"Last updated: {last_updated}")


def test_reader_narrows_a_notice_to_their_jurisdiction(page: Page, live_server: LiveServer,
                                                      panasonic: CompiledPolicy) -> None:
    """S2 Thai appendix: Thai residents read the notice with the PDPA's rights."""
    thailand = panasonic.jurisdictions["TH"].name

    page.goto(live_server.url("/privacy/smartapp"))
    expect(page.locator("#rights-EEA")).to_be_visible()
    page.get_by_role("navigation", name="About this notice").get_by_role("link", name=thailand, exact=True).click()

    expect(page).to_have_url(re.compile(r"/privacy/smartapp\?jurisdiction=TH$"))
    expect(page.get_by_text(f"This is the notice for people in {thailand}.")).to_be_visible()
    expect(page.locator("#rights-TH")).to_be_visible()
    expect(page.locator("#rights-EEA")).to_have_count(0)


def test_an_unknown_notice_shows_a_not_found_page(page: Page, live_server: LiveServer) -> None:
    response = page.goto(live_server.url("/privacy/no-such-notice"))

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Unknown notice")
    page.get_by_role("link", name="See all privacy notices").click()
    expect(page).to_have_url(re.compile(r"/privacy$"))
