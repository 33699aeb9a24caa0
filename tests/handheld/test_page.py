"""The handheld page in real Chromium (Debian's, through Playwright), on a 360 px phone screen, against
a registry served over HTTP: tags read through a stand-in NDEFReader (tests/handheld/web_nfc.py) that
feeds the exact NDEF bytes emulated tags hold, verified in the page by the core with WebCrypto.

- the verdicts are the ones tag_tools.verify gives the same bytes (the page's path, end to end);
- a record without a status list entry reads "status unknown", never valid;
- reloaded offline (the link to the registry cut, tests/handheld/link.py), the page, its lists and
  its verdicts come from the service worker;
- an officer's check recorded offline is uploaded exactly once when the network is back, and sent
  again it is no second row; the case it asked for is opened;
- an offline copy whose install failed is installed again while the page stays open;
- without Web NFC the page says so and looks IDs up online, limited per client;
- an anonymous reader sees the verdict and the due date, an officer the cylinder's details;
- axe-core finds nothing on the page in either language.

One Chromium for the module; each test opens its own phones (browser contexts). With
HANDHELD_SCREENSHOTS=docs/img the screenshots of docs/handheld.md are written there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from registry_service import migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.dashboard import register_dashboard
from registry_service.db import make_engine
from registry_service.handheld.limiter import LookupLimiter, LookupRate
from registry_service.handheld.lookup import install_limiter
from registry_service.handheld.pages import shell
from registry_service.handheld.words import page_words
from registry_service.models import Case, HandheldCheck, Region
from registry_service.node import Registry
from registry_service.services import grid_people, places
from tag_tools.status_list import parse_status_list
from tag_tools.status_values import StatusValue
from tag_tools.trustlist import TrustStore
from tag_tools.verify import verify_tag
from tests.accessibility import axe_violations, describe
from tests.dashboard.browser import chromium_peer, serve
from tests.handheld.handheld_world import PASSWORD, Tag, give_password, make_tag, publish_documents, register_cylinder, uid
from tests.handheld.link import Link, link_to
from tests.handheld.web_nfc import STAND_IN, tap
from tests.testkit import TestPki

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

PHONE: ViewportSize = {"width": 360, "height": 740}
ZH = page_words("zh_CN")
EN = page_words("en")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "handheld"


class Ticks:
    """The lookup limiter's clock: the tests move it instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    link: Link
    app: Any  # the Flask app the link leads to
    engine: Engine
    registry: Registry
    tags: dict[str, Tag]
    expected: dict[str, tuple[str, list[str]]]  # tag_tools.verify's decision and reasons
    ticks: Ticks

    @property
    def url(self) -> str:
        return self.link.url


def build(url: str, now: datetime) -> tuple[Engine, Any, dict[str, Tag], dict[str, tuple[str, list[str]]], Ticks]:
    """A registry at the real time (the page verifies at the phone's clock): a cell with its grid
    officer, three registered cylinders, the trust list and status list 0 (entry 2 scrapped), and
    five emulated tags."""
    pki = TestPki.create(now)
    engine = make_engine(RegistryConfig(database_url=url))
    migrate.upgrade(engine)
    app = create_app(RegistryConfig(database_url=url, bureau_root_pem=pki.root_certificate_pem), engine=engine)
    register_dashboard(app, secret_key="handheld-test-secret")
    ticks = Ticks()
    install_limiter(app, LookupLimiter(LookupRate(burst=3, every_s=600), clock=ticks))
    registry: Registry = app.extensions["registry"]

    def places_and_people(session: Session) -> None:
        city = places.ensure_region(session, "4101", "郑州市")
        district = places.ensure_region(session, "410105", "金水区", city)
        places.ensure_region(session, "410105-01", "经八路街道", district)
        grid_people.add_person(session, "test", now, region_code="410105-01", name="张网格", username="grid")

    registry.transaction(places_and_people)
    give_password(registry, "grid")
    token = publish_documents(registry, pki, now, {2: StatusValue.REVOKED_SCRAPPED})
    today = now.date()
    tags = {
        tag.name: tag
        for tag in (
            make_tag(pki, "valid", 1, now, status_index=1),
            make_tag(
                pki,
                "overdue",
                2,
                now,
                status_index=3,
                inspected=today - timedelta(days=400),
                next_due=today - timedelta(days=10),
                issued_at=now - timedelta(days=300),
            ),
            make_tag(pki, "revoked", 3, now, status_index=2),
            make_tag(pki, "unlisted", 4, now),  # signed before status lists: no status entry
            make_tag(pki, "copied", 5, now, status_index=5, bound_to=uid(99)),
        )
    }
    cell = registry.transaction(lambda s: s.scalars(select(Region.id).where(Region.code == "410105-01")).one())
    register_cylinder(registry, tags["valid"].cylinder_id, "豫A10001", cell, today + timedelta(days=700), uid(1))
    register_cylinder(registry, tags["overdue"].cylinder_id, "豫A10002", cell, today - timedelta(days=10), uid(2))
    register_cylinder(registry, tags["revoked"].cylinder_id, "豫A10003", cell, today + timedelta(days=300), uid(3))
    store = TrustStore.load(pki.root_certificate, pki.signed_trust_list(), now=now)
    assert store.trust_list is not None
    status = parse_status_list(token, store.trust_list.status_signers(now), now=now, list_id=0)
    expected = {}
    for name, tag in tags.items():
        verdict = verify_tag(tag.emulator.uid, tag.ndef_message, trust=store, now=now, status_lists={0: status})
        expected[name] = (verdict.decision.value, [reason.value for reason in verdict.reasons])
    return engine, app, tags, expected, ticks


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('handheld') / 'registry.sqlite3'}"
    engine, app, tags, expected, ticks = build(url, datetime.now(UTC).replace(microsecond=0))
    with serve(app) as served, link_to(served) as link:
        yield Site(link, app, engine, app.extensions["registry"], tags, expected, ticks)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_peer() as started:
        yield started


def phone(browser: Browser, site: Site, *, nfc: bool = True, bypass_csp: bool = False) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=PHONE, bypass_csp=bypass_csp, service_workers="allow")
    if nfc:
        context.add_init_script(STAND_IN)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A failed request is listed with its URL (the console only says "Failed to load resource").
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


def open_page(page: Page, site: Site, path: str = "/verify/") -> None:
    page.goto(site.url + path)
    page.wait_for_selector("body[data-ready]")


def screenshot(page: Page, name: str) -> None:
    """For docs/handheld.md when HANDHELD_SCREENSHOTS names a folder, else test-artifacts/handheld/."""
    folder = Path(os.environ.get("HANDHELD_SCREENSHOTS") or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"handheld-{name}.png"), full_page=True)


def verdict(page: Page) -> dict[str, Any]:
    shown: dict[str, Any] = page.evaluate(
        """() => ({
            headline: document.querySelector('#verdict').dataset.headline,
            decision: document.querySelector('#verdict').dataset.decision,
            text: document.querySelector('#verdict-text').textContent,
            reasons: [...document.querySelectorAll('#reason-list li')].map((li) => li.dataset.code),
            terms: [...document.querySelectorAll('#verdict-fields dt')].map((dt) => dt.textContent),
        })"""
    )
    return shown


def wait_for_worker(page: Page) -> None:
    """Until the service worker controls the page: the shell and the lists are in its caches then.
    Installing fetches the shell, the root, the trust and status lists into its caches; on the
    shared 2-core CI machine that once took longer than Playwright's default 15 s, so it gets 60.
    If none takes control, the failure says what the registration and the page saw."""
    try:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
    except PlaywrightTimeout:
        registration = page.evaluate(
            """async () => {
                const r = await navigator.serviceWorker.getRegistration("/verify/");
                return r ? {installing: r.installing?.state, waiting: r.waiting?.state, active: r.active?.state} : null;
            }"""
        )
        seen = page.errors  # type: ignore[attr-defined]
        raise AssertionError(
            f"no service worker controls the page after 60 s: registration {registration}, page saw {seen}"
        ) from None


class FailingForWorker:
    """WSGI middleware: while `failing`, the service worker's own fetch of `path` (Sec-Fetch-Dest
    "empty": not the page's) is answered 503, as a phone whose network drops mid-install gets no
    answer; `failed` counts them."""

    def __init__(self, inner: Any, path: str) -> None:
        self.inner, self.path = inner, path
        self.failing, self.failed = True, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.failing and environ.get("PATH_INFO") == self.path and environ.get("HTTP_SEC_FETCH_DEST") == "empty":
            self.failed += 1
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        return self.inner(environ, start_response)


def check_rows(engine: Engine) -> list[HandheldCheck]:
    with engine.connect() as connection:
        return list(connection.execute(select(HandheldCheck)).all())  # type: ignore[arg-type]


def sign_in(page: Page, site: Site) -> None:
    """The dashboard's own sign-in form, sent back to the page (next=/dashboard/handheld/)."""
    page.goto(site.url + "/verify/")
    page.wait_for_selector("body[data-ready]")
    page.click("#sign-in")
    page.fill("input[name=username]", "grid")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/verify/")
    page.wait_for_selector("body[data-ready][data-officer='1']")


# The tests ----------------------------------------------------------------------------------------


def test_tags_read_through_web_nfc_get_the_verdicts_tag_tools_gives(browser: Browser, site: Site) -> None:
    context, page = phone(browser, site)
    open_page(page, site)
    assert page.locator("#nfc-missing").is_hidden()
    assert page.locator("#lists").get_attribute("data-ready") == "trusted"
    page.click("#scan")
    for name, tag in site.tags.items():
        tap(page, tag)
        shown = verdict(page)
        assert (shown["decision"], shown["reasons"]) == site.expected[name], name
    assert site.expected["valid"] == ("allow", []) and site.expected["unlisted"] == ("allow", [])
    assert site.expected["revoked"][1] == ["cylinder_revoked"] and site.expected["copied"][1] == ["uid_mismatch"]

    tap(page, site.tags["valid"])
    assert verdict(page)["text"] == ZH["verdict.allow"]
    assert verdict(page)["terms"] == [ZH["field.next_due"]]  # an anonymous reader: the due date only
    screenshot(page, "valid")
    tap(page, site.tags["unlisted"])
    assert verdict(page)["headline"] == "verdict.status_unknown"  # never "valid" without its status
    assert verdict(page)["text"] == ZH["verdict.status_unknown"]
    screenshot(page, "status-unknown")
    tap(page, site.tags["overdue"])
    assert verdict(page)["text"] == ZH["verdict.refuse"]
    assert page.locator("#reason-list li").inner_text() == "气瓶超期未检"
    assert page.locator("#record").is_hidden()
    screenshot(page, "refused")

    page.click("a[data-locale=en]")
    page.wait_for_selector("html[lang=en] body[data-ready]")
    page.click("#scan")
    tap(page, site.tags["copied"])
    assert verdict(page)["text"] == EN["verdict.refuse"]
    assert page.locator("#reason-list li").inner_text() == "Record belongs to another tag (copied or moved)"
    assert EN["station_note"] in page.locator(".note").inner_text()
    page.goto(site.url + "/verify/")  # the installed app starts at /verify/: it keeps the language chosen
    page.wait_for_selector("html[lang=en] body[data-ready]")
    assert page.errors == []  # type: ignore[attr-defined]
    context.close()


def test_reloaded_offline_the_page_verifies_from_the_service_worker(browser: Browser, site: Site) -> None:
    context, page = phone(browser, site)
    open_page(page, site)
    wait_for_worker(page)
    context.set_offline(True)
    site.link.cut()
    try:
        page.reload()
        page.wait_for_selector("body[data-ready]")
        assert page.locator("#offline").is_visible()
        assert page.locator("#lists").get_attribute("data-ready") == "trusted"
        lists = page.locator("#lists").inner_text()
        assert "信任列表第 2 版" in lists and "状态列表 0（第 1 版）" in lists
        page.click("#scan")
        tap(page, site.tags["valid"])
        assert verdict(page)["headline"] == "verdict.allow"  # its status was read from the kept list
        tap(page, site.tags["revoked"])
        assert verdict(page)["reasons"] == ["cylinder_revoked"]
        page.fill("#lookup-id", site.tags["valid"].cylinder_id)
        page.click("#lookup button[type=submit]")
        page.wait_for_selector(f"#lookup-status:text('{ZH['lookup_offline']}')")
        screenshot(page, "offline")
    finally:
        site.link.mend()
        context.set_offline(False)
    context.close()


def test_a_check_queued_offline_is_uploaded_once_and_opens_its_case(browser: Browser, site: Site) -> None:
    context, page = phone(browser, site)
    sign_in(page, site)
    wait_for_worker(page)
    assert page.locator("#who").inner_text() == ZH["signed_in_as"].format(user="grid")
    page.click("#scan")
    tap(page, site.tags["overdue"])
    shown = verdict(page)
    assert ZH["field.cylinder_id"] in shown["terms"] and ZH["field.inspected"] in shown["terms"]  # the officer's view
    assert page.locator("#record").is_visible() and page.locator("#record-case").is_visible()
    screenshot(page, "officer")

    context.set_offline(True)
    site.link.cut()
    try:
        page.fill("#place", "经三路出租车站")
        page.click("#record-case")
        page.wait_for_selector("#record-result[data-outcome=queued]")
        queued = json.loads(page.evaluate("localStorage.getItem('handheld.checks.v1')"))
        assert len(queued) == 1 and queued[0]["body"]["open_case"] is True
        assert page.locator("#queue").get_attribute("data-count") == "1"
        page.wait_for_timeout(300)
        assert check_rows(site.engine) == []  # nothing got through
    finally:
        site.link.mend()
        context.set_offline(False)  # the page hears "online" and sends its queue
    page.wait_for_selector("#record-result[data-outcome=done]")
    [row] = check_rows(site.engine)
    body = queued[0]["body"]
    assert (str(row.check_uuid), row.cylinder_id, row.reasons, row.place) == (
        body["id"],
        site.tags["overdue"].cylinder_id,
        ["inspection_overdue"],
        "经三路出租车站",
    )
    with site.engine.connect() as connection:
        case = connection.execute(select(Case).where(Case.id == row.case_id)).one()
    assert case.kind == "refused_cylinder" and case.subject_key == f"cylinder:{site.tags['overdue'].cylinder_id}"
    assert page.locator("#record-result").inner_text() == ZH["recorded_case"].format(case=case.number)
    assert page.evaluate("JSON.parse(localStorage.getItem('handheld.checks.v1'))") == []
    # The same check sent again (an answer lost on the way): the same answer, no second row.
    again = page.evaluate(
        """async (body) => {
            const me = await (await fetch('/dashboard/handheld/me')).json();
            const response = await fetch('/dashboard/handheld/checks', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token}, body: JSON.stringify(body)});
            return [response.status, await response.json()];
        }""",
        body,
    )
    assert again[0] == 200 and again[1]["duplicate"] is True and again[1]["case"] == case.number
    assert len(check_rows(site.engine)) == 1
    with site.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Case)) == 1
    screenshot(page, "recorded")
    assert page.errors == []  # type: ignore[attr-defined]
    context.close()


def test_an_offline_copy_whose_install_failed_is_installed_again_while_the_page_is_open(browser: Browser, site: Site) -> None:
    """The first install fails (one shell file 503s to the worker); the page, left open, registers
    the worker again (app.js registerWorker, after 5 s) and that one takes control. Without the
    retry the page would stay without an offline copy until the next visit."""
    failing = FailingForWorker(site.app.wsgi_app, shell()[-1])
    site.app.wsgi_app = failing
    try:
        context, page = phone(browser, site)
        open_page(page, site)
        for _ in range(300):  # the worker asks for the file (within 30 s)
            if failing.failed:
                break
            page.wait_for_timeout(100)
        assert failing.failed == 1
        page.wait_for_function(
            """async () => (await navigator.serviceWorker.getRegistration("/verify/")) === undefined""",
            polling=100,
            timeout=30_000,
        )  # the install failed on the 503, and the registration is gone
        failing.failing = False
        wait_for_worker(page)
        assert page.evaluate("navigator.serviceWorker.controller.state") == "activated"
        assert page.errors == []  # type: ignore[attr-defined]  # the 503 went to the worker, not the page
        context.close()
    finally:
        site.app.wsgi_app = failing.inner


def test_without_web_nfc_the_page_says_so_and_looks_ids_up_within_a_limit(browser: Browser, site: Site) -> None:
    site.ticks.now += 3600  # a full bucket
    context, page = phone(browser, site, nfc=False)
    open_page(page, site)
    assert page.locator("#nfc-missing").is_visible() and page.locator("#scan").is_hidden()
    overdue = site.tags["overdue"].cylinder_id

    def look_up(typed: str) -> None:
        page.fill("#lookup-id", typed)
        page.click("#lookup button[type=submit]")

    look_up(overdue.replace("-", " - "))
    page.wait_for_selector(f'#verdict[data-cylinder="{overdue}"]')
    shown = verdict(page)
    assert (shown["decision"], shown["reasons"], shown["text"]) == ("refuse", ["inspection_overdue"], ZH["verdict.refuse"])
    assert shown["terms"] == [ZH["field.next_due"]]
    screenshot(page, "lookup")
    look_up("156-4101-999")
    page.wait_for_selector('#verdict[data-cylinder="156-4101-999"]')
    assert verdict(page)["text"] == ZH["verdict.not_found"]
    look_up("156-4101-998")  # the third of a burst of three
    page.wait_for_selector('#verdict[data-cylinder="156-4101-998"]')
    look_up(site.tags["valid"].cylinder_id)
    page.wait_for_selector("#lookup-status:has-text('600')")
    assert page.locator("#lookup-status").inner_text() == ZH["lookup_limited"].format(seconds=600)
    assert verdict(page)["text"] == ZH["verdict.not_found"]  # the limited lookup changed nothing
    context.close()


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_axe_finds_nothing_and_the_page_fits_a_360_px_phone(browser: Browser, site: Site, language: str) -> None:
    # axe is injected as a script, which the page's CSP refuses: this phone bypasses the CSP.
    context, page = phone(browser, site, bypass_csp=True)
    open_page(page, site, f"/verify/?lang={language}")
    page.click("#scan")
    tap(page, site.tags["overdue"])
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{width[0]} px wide on a {width[1]} px screen"
    violations = axe_violations(page)
    assert not violations, describe(violations)
    context.close()
