"""Finding things (issue 14): the search box for a plate, cylinder ID or tag UID, however it is typed;
refusals of tags with no cylinder row found by their UID; the region and station pickers (bounded
JSON); the clone-suspect list with its total, pages and export; the offline badge's meaning; centres
by name. Ends with the search box and a picker driven by the keyboard in Chromium.

The module works on its own copy of the seeded registry (sqlite3's backup), because it uploads the
refusals of forged and moved tags through the stations' API, and adds a vehicle and a trust list.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, insert, select

from registry_service.config import RegistryConfig
from registry_service.dashboard import i18n
from registry_service.db import make_engine
from registry_service.models import CloneSuspect, Cylinder, Inspection, InspectionCentre, Vehicle
from registry_service.services import accounts, places, search, trust
from tag_tools import crypto, pki
from tests.accessibility import AXE, TAGS, describe
from tests.dashboard.browser import chromium_peer, serve
from tests.dashboard.browser import sign_in as browser_sign_in
from tests.dashboard.helpers import sign_in
from tests.dashboard.world import NOW, PASSWORD, Clock, make_app
from tests.peers import peer_unavailable
from tests.testkit import TestPki

STATION = "ST-410105-01"
FORGED_UID = "04A1B2C3D4E5F6"  # a bad signature: no cylinder row
STRANGER_UID = "04F0E1D2C3B4A5"  # signed by a centre the trust list does not know
ISSUE_PLATE = "豫A2B015"  # the issue's example, typed "豫a2b015"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.fixture(scope="module")
def world(seeded: tuple[Engine, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    copy = tmp_path_factory.mktemp("find") / "registry.sqlite3"
    source = sqlite3.connect(seeded[1].removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    url = f"sqlite:///{copy}"
    engine = make_engine(RegistryConfig(database_url=url))
    app = make_app(engine, url, Clock())
    _add_unknown_tags(app, engine)
    with engine.begin() as connection:
        connection.execute(insert(Vehicle), [{"plate": ISSUE_PLATE, "use": "taxi"}])
    yield app
    engine.dispose()


def _add_unknown_tags(app: Flask, engine: Engine) -> None:
    """Refusals as stations upload them: a forged tag (twice), an unknown signer, and a tag moved
    to another cylinder (its record names a registered cylinder, the chip's UID is another)."""
    with engine.connect() as connection:
        moved_cylinder = connection.scalar(select(Cylinder.cylinder_id).where(Cylinder.id == 5))
        shared_uid = connection.scalar(select(Cylinder.tag_uid).where(Cylinder.id == 7))
    registry = app.extensions["registry"]
    token = registry.transaction(lambda s: accounts.issue_token(s, "test", NOW, username="station").token)

    def refusal(hours_ago: int, reasons: list[str], **fields: Any) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "occurred_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
            "pump": 1,
            "decision": "refuse",
            "outcome": "refused",
            "reasons": reasons,
            **fields,
        }

    batch = [
        refusal(30, ["bad_signature"], tag_uid=FORGED_UID),
        refusal(3, ["bad_signature"], tag_uid=FORGED_UID.lower()),  # as a reader may send it
        refusal(4, ["unknown_signer"], tag_uid=STRANGER_UID, plate="豫A99999"),
        refusal(5, ["uid_mismatch"], tag_uid="04000000000099", cylinder_id=moved_cylinder),
        refusal(6, ["bad_signature"], tag_uid=shared_uid),  # a forged copy of a registered tag's UID
    ]
    response = app.test_client().post(
        f"/api/v1/stations/{STATION}/scan-events", json={"events": batch}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.get_json()["accepted"] == len(batch), response.get_data()


@pytest.fixture
def bureau(world: Flask) -> FlaskClient:
    client = world.test_client()
    assert sign_in(client, "bureau").status_code == 302
    return client


@pytest.fixture
def centre(world: Flask) -> FlaskClient:
    client = world.test_client()
    assert sign_in(client, "centre1").status_code == 302
    return client


def _engine(app: Flask) -> Engine:
    engine: Engine = app.extensions["registry"].engine
    return engine


# The search box -----------------------------------------------------------------------------------


def test_what_is_typed_is_read_as_each_kind_of_identifier() -> None:
    wide = search.terms(" 豫ａ２Ｂ０１５ ")
    assert (wide.plate, wide.cylinder_id, wide.tag_uid) == ("豫A2B015", None, None)
    cylinder = search.terms("156 – 4101 – 0020190012345")
    assert cylinder.cylinder_id == "156-4101-20190012345" and cylinder.cylinder_start == "156-4101-0020190012345"
    uid = search.terms("04:a1:b2:c3:d4:e5:f6")
    assert uid.tag_uid == "04A1B2C3D4E5F6" and uid.plate is None and uid.plate_start == "04A1B2C3D4E5F6"
    assert search.terms("豫a2b0").plate_start == "豫A2B0"  # the start of a plate: no format to meet
    for broken in ("豫A\x0012345", "豫A\ud800", "1" * 65):
        with pytest.raises(search.SearchRefused):
            search.terms(broken)


def test_the_issue_example_typed_in_lower_case_finds_the_vehicle(bureau: FlaskClient) -> None:
    response = bureau.get("/dashboard/search", query_string={"q": "豫a2b015"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/dashboard/vehicles/{quote(ISSUE_PLATE)}"


@pytest.mark.parametrize("typed", ["{plate}", "{lower}", "{wide}", " {spaced} ", "{dotted}"])
def test_a_plate_however_typed_goes_to_its_vehicle(bureau: FlaskClient, world: Flask, typed: str) -> None:
    with _engine(world).connect() as connection:
        plate = connection.scalar(select(Vehicle.plate).where(Vehicle.id == 30))
    assert plate is not None
    variants = {
        "plate": plate,
        "lower": plate.lower(),
        "wide": _full_width(plate.lower()),
        "spaced": f"{plate[:2]} {plate[2:]}",
        "dotted": f"{plate[:2]}·{plate[2:].lower()}",
    }
    response = bureau.get("/dashboard/search", query_string={"q": typed.format(**variants)})
    assert response.status_code == 302, typed
    assert response.headers["Location"] == f"/dashboard/vehicles/{quote(plate)}"


def test_a_cylinder_id_or_its_tag_uid_however_typed_goes_to_the_cylinder(bureau: FlaskClient, world: Flask) -> None:
    with _engine(world).connect() as connection:
        cylinder_id, uid = connection.execute(select(Cylinder.cylinder_id, Cylinder.tag_uid).where(Cylinder.id == 12)).one()
    assert uid is not None  # the seeded cylinder carries a tag
    target = f"/dashboard/cylinders/{cylinder_id}"
    country, issuer, number = cylinder_id.split("-")
    for typed in (
        cylinder_id,
        _full_width(cylinder_id),
        f"{country} - {issuer}\u2013{number}",
        uid.lower(),
        ":".join(re.findall("..", uid)),
    ):
        response = bureau.get("/dashboard/search", query_string={"q": typed})
        assert response.status_code == 302 and response.headers["Location"] == target, typed


def test_the_start_of_a_plate_lists_the_matches(bureau: FlaskClient, world: Flask) -> None:
    with _engine(world).connect() as connection:
        plates = connection.scalars(select(Vehicle.plate).where(Vehicle.plate.like("豫YD%")).order_by(Vehicle.plate)).all()
    assert len(plates) >= 2
    response = bureau.get("/dashboard/search", query_string={"q": "豫yd"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="found-vehicles"' in text
    assert re.findall(r'href="/dashboard/vehicles/[^"]+">([^<]+)</a>', text) == plates
    assert f"以“豫yd”开头的有 {len(plates)} 个" in text
    assert 'value="豫yd"' in text  # the box keeps what was typed


def test_a_uid_of_a_cylinder_and_of_forged_copies_lists_both(bureau: FlaskClient, world: Flask) -> None:
    with _engine(world).connect() as connection:
        cylinder_id, uid = connection.execute(select(Cylinder.cylinder_id, Cylinder.tag_uid).where(Cylinder.id == 7)).one()
    assert uid is not None  # the seeded cylinder carries a tag
    text = bureau.get("/dashboard/search", query_string={"q": uid.lower()}).get_data(as_text=True)
    assert "找到 2 个匹配项" in text
    assert f"/dashboard/cylinders/{cylinder_id}" in text and 'id="found-tags"' in text


def test_nothing_found_is_said_in_the_readers_language(bureau: FlaskClient) -> None:
    zh = bureau.get("/dashboard/search", query_string={"q": "豫Q00ZZZ"})
    assert zh.status_code == 200 and "没有找到与“豫Q00ZZZ”匹配的车辆、气瓶或标签" in zh.get_data(as_text=True)
    en = bureau.get("/dashboard/search", query_string={"q": "nope", "lang": "en"}).get_data(as_text=True)
    assert "Nothing found for “nope”" in en
    short = bureau.get("/dashboard/search", query_string={"q": "豫"}).get_data(as_text=True)
    assert 'id="nothing-found"' in short  # too short to be the start of anything: no list of the city


def test_text_no_identifier_can_hold_is_refused_with_the_box_marked(bureau: FlaskClient) -> None:
    for typed in ("豫A\x0012345", "9" * 65):
        response = bureau.get("/dashboard/search", query_string={"q": typed})
        text = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="f-q"' in text, typed
        assert re.search(r'<input id="f-q"[^>]*aria-invalid="true"[^>]*aria-describedby="error-q"', text)
        assert 'id="error-q">包含无法出现在车牌、编号或 UID 中的字符' in text


def test_an_empty_box_shows_the_search_page(bureau: FlaskClient) -> None:
    response = bureau.get("/dashboard/search")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>查找车辆、气瓶或标签</h1>" in text and 'id="count"' not in text


def test_every_page_has_the_search_box_in_its_header(bureau: FlaskClient, centre: FlaskClient) -> None:
    for client, path in (
        (bureau, "/dashboard/attempts"),
        (bureau, "/dashboard/stations/ST-410105-01"),
        (centre, "/dashboard/inspections"),
    ):
        text = client.get(path).get_data(as_text=True)
        header = text.split("<header", 1)[1].split("</header>", 1)[0]
        assert 'role="search"' in header and 'action="/dashboard/search"' in header, path
        assert '<label for="site-q"' in header and 'name="q"' in header, path


def test_a_centre_finds_only_the_cylinders_it_inspected(centre: FlaskClient, world: Flask) -> None:
    with _engine(world).connect() as connection:
        own = connection.scalar(select(Cylinder.cylinder_id).where(Cylinder.id == 3))
        other = connection.scalar(select(Cylinder.cylinder_id).where(Cylinder.id == 25))
    assert centre.get("/dashboard/search", query_string={"q": own}).headers["Location"] == f"/dashboard/cylinders/{own}"
    for hidden in (other, ISSUE_PLATE, FORGED_UID):  # centre 2's cylinder; vehicles and refusals are the bureau's
        response = centre.get("/dashboard/search", query_string={"q": hidden})
        assert response.status_code == 200 and 'id="nothing-found"' in response.get_data(as_text=True), hidden


# Refusals of tags with no cylinder row ------------------------------------------------------------


def test_a_forged_tag_is_found_by_its_uid_and_its_refusals_show_it(bureau: FlaskClient) -> None:
    response = bureau.get("/dashboard/search", query_string={"q": FORGED_UID.lower()})
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/dashboard/attempts"
    args = parse_qs(target.query)
    assert args["tag_uid"] == [FORGED_UID] and args["since"] == ["2026-11-21"] and args["until"] == ["2026-11-22"]
    text = bureau.get(response.headers["Location"]).get_data(as_text=True)
    rows = re.findall(r'<tr class="refused">(.*?)</tr>', text, re.S)
    assert len(rows) == 2 and all(f">{FORGED_UID}</a>" in row and "标签 UID" in row for row in rows)


def test_refusals_about_the_tag_show_its_uid_in_the_list(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/attempts", query_string={"reason": "unknown_signer"}).get_data(as_text=True)
    assert f'href="/dashboard/search?q={STRANGER_UID}">{STRANGER_UID}</a>' in text
    moved = bureau.get("/dashboard/attempts", query_string={"reason": "uid_mismatch"}).get_data(as_text=True)
    row = re.findall(r'<tr class="refused">(.*?)</tr>', moved, re.S)[0]
    assert "/dashboard/cylinders/" in row and ">04000000000099</a>" in row  # the cylinder and the chip's UID
    ordinary = bureau.get("/dashboard/attempts", query_string={"reason": "inspection_overdue"}).get_data(as_text=True)
    assert 'class="uid"' not in ordinary  # a refusal about the cylinder names the cylinder only


def test_the_offline_badge_says_what_it_means(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/attempts").get_data(as_text=True)
    assert '<span class="badge offline">离线<span class="visually-hidden">: 加气站离线判定</span></span>' in text
    assert '<p class="legend">' in text and "离线：加气站当时连不上监管平台" in text
    en = bureau.get("/dashboard/attempts?lang=en").get_data(as_text=True)
    assert "Offline: the station could not reach the registry" in en


# Pickers --------------------------------------------------------------------------------------------


def test_the_region_picker_finds_by_name_or_code(bureau: FlaskClient) -> None:
    answer = bureau.get("/dashboard/regions.json", query_string={"q": "金水"}).get_json()
    assert {"code": "410105", "name": "金水区", "within": "郑州市"} in answer["items"]
    assert all("金水" in item["name"] or item["code"].startswith("金水") for item in answer["items"])
    by_code = bureau.get("/dashboard/regions.json", query_string={"q": "410105"}).get_json()
    assert by_code["items"][0]["code"] == "410105" and all(i["code"].startswith("410105") for i in by_code["items"])


def test_the_pickers_are_bounded(bureau: FlaskClient, world: Flask) -> None:
    for route in ("regions", "stations"):
        answer = bureau.get(f"/dashboard/{route}.json", query_string={"q": ""}).get_json()
        assert len(answer["items"]) == search.LIMIT and answer["more"] is True, route
        assert "前 20 个选项" in answer["status"]
    stations = bureau.get("/dashboard/stations.json", query_string={"q": "金水区", "lang": "en"}).get_json()
    assert stations["items"] and all(i["name"].startswith("金水区") for i in stations["items"])
    assert stations["status"].endswith("options: arrow keys to choose, Enter to pick")
    wild = bureau.get("/dashboard/stations.json", query_string={"q": "%_", "lang": "zh_CN"}).get_json()
    assert wild["items"] == [] and wild["status"] == "没有匹配的名称或编号"  # no LIKE wildcards


def test_the_pickers_are_the_bureaus(centre: FlaskClient, world: Flask) -> None:
    for route in ("/dashboard/regions.json", "/dashboard/stations.json"):
        assert centre.get(route).status_code == 403
        anonymous = world.test_client().get(route)
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/dashboard/sign-in")


def test_the_filter_form_shows_the_chosen_places_by_name(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/attempts", query_string={"region": "410105", "station": "ST-410105-01"}).get_data(as_text=True)
    assert '<span class="chosen" id="f-region-chosen">金水区</span>' in text
    assert re.search(r'<span class="chosen" id="f-station-chosen">[^<]+加气站', text)
    assert 'data-picker="/dashboard/regions.json"' in text and "picker.js" in text


# The clone-suspect list -------------------------------------------------------------------------------


def test_the_clone_list_has_its_total_pages_and_export(bureau: FlaskClient, world: Flask) -> None:
    with _engine(world).connect() as connection:
        stored = int(connection.scalar(select(func.count()).select_from(CloneSuspect)) or 0)
    window = {"since": "2026-11-01", "until": "2026-11-22"}
    first = bureau.get("/dashboard/clones", query_string=window).get_data(as_text=True)
    total = int(re.search(r"共 (\d+) 条疑似记录", first).group(1))  # type: ignore[union-attr]
    assert 50 < total <= stored, "the seeded city has more than a page of suspects"
    pages = -(-total // 50)
    assert f"<span>第 1 页 / {pages}</span>" in first
    first_rows = re.findall(r'<tr class="suspect" data-event="([^"]+)">', first)
    assert len(first_rows) == 50
    last = bureau.get("/dashboard/clones", query_string={**window, "page": pages}).get_data(as_text=True)
    last_rows = re.findall(r'<tr class="suspect" data-event="([^"]+)">', last)
    assert len(last_rows) == total - 50 * (pages - 1) and 'rel="next"' not in last and 'rel="prev"' in last
    shown = re.findall(r'href="/dashboard/stations/[^"]+" title="(ST-[^"]+)">([^<]+)</a>', first)
    assert len(shown) >= 50 and all(name != code and "加气站" in name for code, name in shown)  # by name, not code

    export = bureau.get("/dashboard/clones.csv", query_string=window)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert (
        "attachment" in export.headers["Content-Disposition"]
        and "suspected-clones-all-2026-11-01-2026-11-22" in export.headers["Content-Disposition"]
    )
    body = export.get_data(as_text=True)
    assert body.startswith("\ufeff")  # a BOM, so that Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == total
    zh = i18n.Words.of("zh_CN")
    assert all(r["kind_text"] == zh.label("clone", r["kind"]) != r["kind"] for r in rows)
    assert all(r["station_name"] and r["local_time"].startswith("2026年11月") for r in rows)


def test_the_overview_leads_to_the_whole_list(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/overview?since=2026-11-10&region=410105").get_data(as_text=True)
    assert 'id="all-suspects" href="/dashboard/clones?since=2026-11-10&amp;until=2026-11-22&amp;region=410105"' in text
    listed = bureau.get("/dashboard/clones?since=2026-11-10&until=2026-11-22&region=410105").get_data(as_text=True)
    assert '<span class="chosen" id="f-region-chosen">金水区</span>' in listed and 'id="count"' in listed


def test_the_clone_list_is_the_bureaus(centre: FlaskClient) -> None:
    for path in ("/dashboard/clones", "/dashboard/clones.csv"):
        assert centre.get(path).status_code == 403


# Names, not codes ---------------------------------------------------------------------------------------


def test_a_centre_registered_by_the_trust_list_is_shown_by_its_name(bureau: FlaskClient, world: Flask) -> None:
    bureau_pki = TestPki.create(NOW, centre_id="ZZTJ07")
    key = crypto.generate_private_key()
    csr = pki.create_centre_csr(key, "ZZTJ08", "410105", "郑州市锅炉检验所")
    renamed = pki.issue_centre_certificate(csr, bureau_pki.root_certificate, bureau_pki.root_key, NOW - timedelta(days=30))
    registry = world.extensions["registry"]
    # ZZTJ08 was registered by an earlier version, under its key's name.
    registry.transaction(lambda s: places.create_centre(s, "test", NOW, code="ZZTJ08", name="ZZTJ08 tag record signer"))
    blob = bureau_pki.signed_trust_list(centres=(bureau_pki.centre_certificate, renamed))
    registry.transaction(lambda s: trust.publish(s, "test", NOW, blob, bureau_pki.root_certificate_pem))
    with _engine(world).begin() as connection:
        names = dict(connection.execute(select(InspectionCentre.code, InspectionCentre.name)).all())
        centre_id = connection.scalar(select(InspectionCentre.id).where(InspectionCentre.code == "ZZTJ07"))
        connection.execute(
            insert(Inspection),
            [
                {
                    "cylinder_pk": 50, "centre_id": centre_id, "certificate_id": None, "report_number": "ZZTJ07-1",
                    "inspected_on": NOW.date(), "result": "pass", "next_due": None, "sequence": 1, "issued_at": NOW,
                    "tag_uid": "04000000000050", "record": b"\xd1", "submitted_at": NOW, "submitted_by": None,
                }
            ],
        )  # fmt: skip
    assert names["ZZTJ07"] == "Zhengzhou Special Equipment Inspection Centre" and names["ZZTJ08"] == "郑州市锅炉检验所"
    text = bureau.get("/dashboard/inspections").get_data(as_text=True)
    assert "Zhengzhou Special Equipment Inspection Centre" in text and "tag record signer" not in text


# In Chromium, with the keyboard only ----------------------------------------------------------------------


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations in what this module adds: the header's search box and the page's main
    part (the whole of every page, header included, is tests/dashboard's accessibility test's)."""
    if not AXE.is_file():
        peer_unavailable("axe-core", f"{AXE} missing: run scripts/vendor_web.sh")
    page.add_script_tag(path=str(AXE))
    script = "(tags) => axe.run({include: [['main'], ['.site-search']]}, {runOnly: {type: 'tag', values: tags}})"
    return list(page.evaluate(script, TAGS)["violations"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_peer() as instance:
        yield instance


def test_search_box_and_picker_work_with_the_keyboard(world: Flask, browser: Any, tmp_path: Path) -> None:
    with serve(world) as base_url:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            browser_sign_in(page, base_url, "bureau", PASSWORD)
            page.wait_for_url(re.compile(r"/dashboard/overview"))
            page.goto(f"{base_url}/dashboard/attempts")
            page.locator("#site-q").focus()
            page.keyboard.type("豫yd")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/dashboard/search\?q="))
            assert page.locator("#found-vehicles tbody tr").count() >= 2
            assert not axe_violations(page), describe(axe_violations(page))

            page.locator("#site-q").fill("")
            page.locator("#site-q").focus()
            page.keyboard.type("豫a2b015")
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/dashboard/vehicles/"))
            assert page.locator("h1 .plate").inner_text() == ISSUE_PLATE

            page.goto(f"{base_url}/dashboard/attempts")
            region = page.locator("#f-region")
            region.focus()
            page.keyboard.type("金水")
            option = page.locator("#f-region-options [role=option]").first
            option.wait_for()
            assert region.get_attribute("aria-expanded") == "true"
            page.keyboard.press("ArrowDown")
            assert region.get_attribute("aria-activedescendant") == "f-region-options-0"
            page.keyboard.press("Enter")  # picks: the form is not sent yet
            assert region.input_value() == "410105" and page.locator("#f-region-chosen").inner_text().startswith("金水区")
            assert region.get_attribute("aria-expanded") == "false" and "/dashboard/attempts" in page.url
            page.keyboard.press("Enter")  # now it is
            page.wait_for_url(re.compile(r"region=410105"))
            assert page.locator("#f-region").input_value() == "410105"
            assert not axe_violations(page), describe(axe_violations(page))

            page.goto(f"{base_url}/dashboard/attempts?since=2026-13-01&plate=豫a1")
            assert page.locator("#f-since").get_attribute("aria-invalid") == "true"
            assert page.locator("#f-plate").input_value() == "豫a1"
            assert not axe_violations(page), describe(axe_violations(page))
        finally:
            context.close()
