"""The overview's map: datum conversion, GeoJSON region import (`cylinder-registry import-regions`),
the two GeoJSON routes (signed in as for the page, bounded, counts from the database), the tile
layer's configuration and CSP, the charts' labels and partial day, the time presets; and the map
drawn by Leaflet in a real Chromium under the page's own CSP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, func, insert, select

from registry_service import cli, migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig, from_env
from registry_service.dashboard import charts, i18n, map_data, map_datums, register_dashboard
from registry_service.dashboard.filters import parse_query
from registry_service.dashboard.map_tiles import TileLayer, image_sources
from registry_service.dashboard.periods import presets
from registry_service.errors import ConfigError, InvalidInput
from registry_service.models import AuditEntry, Datum, Outcome, Region, RegionLevel, RegionShape, ScanEvent, Station
from registry_service.services import region_shapes
from tests.dashboard.browser import chromium_peer, screenshot_dir, serve, sign_in
from tests.dashboard.helpers import count_events
from tests.dashboard.helpers import sign_in as form_sign_in
from tests.dashboard.shapes import demo_outlines, feature, imported_outlines, rectangle, write_outlines
from tests.dashboard.world import NOW, PASSWORD, Clock, make_app

ZH, EN = i18n.Words.of("zh_CN"), i18n.Words.of("en")
DEFAULT_RANGE = ("2026-11-09", "2026-11-22")
TIANDITU = "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY"


# Datums ------------------------------------------------------------------------------------------


def test_gcj02_offset_is_the_published_one_and_inverts() -> None:
    # The formula's widely quoted reference point (Tiananmen): a few hundred metres east and north.
    lon, lat = map_datums.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.410244, abs=2e-6) and lat == pytest.approx(39.916404, abs=2e-6)
    back = map_datums.gcj02_to_wgs84(lon, lat)
    assert back == pytest.approx((116.404, 39.915), abs=1e-8)  # about a millimetre
    zhengzhou = map_datums.convert(113.66, 34.80, Datum.WGS84, Datum.GCJ02)
    assert 0.003 < abs(zhengzhou[0] - 113.66) + abs(zhengzhou[1] - 34.80) < 0.01


def test_cgcs2000_is_wgs84_and_outside_china_nothing_moves() -> None:
    assert map_datums.convert(113.66, 34.80, Datum.CGCS2000, Datum.WGS84) == (113.66, 34.80)
    assert map_datums.convert(113.66, 34.80, Datum.GCJ02, Datum.GCJ02) == (113.66, 34.80)
    assert map_datums.convert(2.35, 48.85, Datum.WGS84, Datum.GCJ02) == (2.35, 48.85)  # Paris
    moved = map_datums.convert(113.66, 34.80, Datum.CGCS2000, Datum.GCJ02)
    assert moved == map_datums.wgs84_to_gcj02(113.66, 34.80)
    square = rectangle(113.6, 34.7, 113.7, 34.8)
    converted = map_datums.convert_geometry(square, Datum.GCJ02, Datum.WGS84)
    first = converted["coordinates"][0][0]
    assert first == [round(c, 6) for c in map_datums.gcj02_to_wgs84(113.6, 34.7)]


# Reading GeoJSON ---------------------------------------------------------------------------------


def _document(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_read_features_keeps_good_shapes_and_says_why_others_are_refused() -> None:
    good = feature("410105", rectangle(113.6, 34.7, 113.7, 34.8))
    multi = feature("410106", {"type": "MultiPolygon", "coordinates": [rectangle(113.3, 34.7, 113.4, 34.8)["coordinates"]]})
    open_ring = feature(
        "410102", {"type": "Polygon", "coordinates": [[[113.6, 34.7], [113.7, 34.7], [113.7, 34.8], [113.6, 34.8]]]}
    )
    swapped = feature("410103", rectangle(34.7, 113.6, 34.8, 113.7))  # latitude first: refused, not guessed
    point = feature("410104", {"type": "Point", "coordinates": [113.6, 34.7]})
    nameless = {"type": "Feature", "properties": {"name": "金水区"}, "geometry": rectangle(113.6, 34.7, 113.7, 34.8)}
    again = feature("410105", rectangle(113.6, 34.7, 113.7, 34.8))
    text = feature("410108", {"type": "Polygon", "coordinates": [[["113.6", "34.7"]] * 4]})
    huge_ring = [[113.6 + i * 1e-5, 34.7] for i in range(region_shapes.MAX_VERTICES)] + [[113.6, 34.8], [113.6, 34.7]]
    huge = feature("410171", {"type": "Polygon", "coordinates": [huge_ring]})
    shapes, refused = region_shapes.read_features(
        b"\xef\xbb\xbf" + _document(good, multi, open_ring, swapped, point, nameless, again, text, huge)
    )
    assert [(s.feature, s.code, s.vertices) for s in shapes] == [(1, "410105", 5), (2, "410106", 5)]
    assert shapes[0].bbox == (113.6, 34.7, 113.7, 34.8)
    reasons = {r.feature: r.reason for r in refused}
    assert "end where it starts" in reasons[3]
    assert "longitude first" in reasons[4]
    assert "'Point'" in reasons[5]
    assert "'code'" in reasons[6]
    assert "second shape" in reasons[7]
    assert "numbers only" in reasons[8]
    assert "simplify" in reasons[9]
    alt = region_shapes.read_features(_document(feature("x", rectangle(1, 1, 2, 2), region="410105")), "region")[0]
    assert [s.code for s in alt] == ["410105"]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "holds an object"),
        (b'{"type": "Polygon"}', "FeatureCollection"),
        (b"\xff\xfe{", "UTF-8"),
    ],
)
def test_a_file_that_is_not_geojson_is_refused_whole(data: bytes, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        region_shapes.read_features(data)


# The import command ------------------------------------------------------------------------------


@pytest.fixture
def small_registry(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'regions.sqlite3'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as c:
        c.execute(insert(Region), [{"id": 1, "code": "4101", "name": "郑州市", "level": RegionLevel.CITY, "path": "4101"}])
        c.execute(
            insert(Region),
            [{"id": 2, "code": "410105", "name": "金水区", "level": RegionLevel.DISTRICT, "parent_id": 1, "path": "4101/410105"}],
        )
    yield url, engine
    engine.dispose()


def test_import_regions_stores_shapes_with_their_datum_and_replaces_on_reimport(
    small_registry: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = small_registry
    source = write_outlines(
        tmp_path / "cells.geojson",
        {
            "type": "FeatureCollection",
            "features": [
                feature("4101", rectangle(113.2, 34.4, 114.0, 35.0)),
                feature("410105", rectangle(113.62, 34.76, 113.70, 34.84)),
                feature("999999", rectangle(113.0, 34.0, 113.1, 34.1)),  # no such region
                feature("410106", {"type": "LineString", "coordinates": [[113.3, 34.8], [113.4, 34.8]]}),
            ],
        },
    )
    code = cli.main(["--database-url", url, "import-regions", str(source), "--datum", "gcj02", "--operator", "gis"])
    summary = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_PARTIAL
    assert (summary["features"], summary["imported"], summary["replaced"], summary["rejected"]) == (4, 2, 0, 2)
    assert {r["code"]: r["reason"] for r in summary["rejections"]} == {
        "999999": "no region with this code",
        "410106": "the geometry is a 'LineString', not a Polygon or MultiPolygon",
    }
    with engine.connect() as c:
        rows = c.execute(select(RegionShape.region_id, RegionShape.datum, RegionShape.vertices, RegionShape.min_lon)).all()
        assert sorted(rows) == [(1, Datum.GCJ02, 5, 113.2), (2, Datum.GCJ02, 5, 113.62)]
        assert c.scalar(select(AuditEntry.actor).where(AuditEntry.action == "import_region_shapes")) == "cli:gis"

    again = write_outlines(
        tmp_path / "again.geojson", {"type": "Feature", "properties": {"code": "410105"}, "geometry": rectangle(1, 2, 3, 4)}
    )
    assert cli.main(["--database-url", url, "import-regions", str(again), "--datum", "cgcs2000"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["replaced"] == 1
    with engine.connect() as c:
        assert c.execute(select(RegionShape.datum, RegionShape.max_lat).where(RegionShape.region_id == 2)).one() == (
            Datum.CGCS2000,
            4.0,
        )
        assert c.scalar(select(func.count()).select_from(RegionShape)) == 2


def test_import_regions_refuses_a_missing_datum_a_bad_file_and_a_missing_file(
    small_registry: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = small_registry
    source = write_outlines(tmp_path / "ok.geojson")
    with pytest.raises(SystemExit):  # the datum is the bureau's statement: never assumed
        cli.main(["--database-url", url, "import-regions", str(source)])
    bad = tmp_path / "bad.geojson"
    bad.write_text("{", encoding="utf-8")
    assert cli.main(["--database-url", url, "import-regions", str(bad), "--datum", "wgs84"]) == cli.EXIT_ERROR
    assert "not JSON" in capsys.readouterr().err
    assert (
        cli.main(["--database-url", url, "import-regions", str(tmp_path / "none.geojson"), "--datum", "wgs84"]) == cli.EXIT_ERROR
    )
    assert "cannot read" in capsys.readouterr().err


# Configuration and CSP ---------------------------------------------------------------------------


def test_tile_settings_come_from_the_environment_and_are_checked() -> None:
    config = from_env(
        {
            "REGISTRY_MAP_TILE_URL": f"{TIANDITU} {TIANDITU.replace('vec_w', 'cva_w')}",
            "REGISTRY_MAP_TILE_SUBDOMAINS": "01234567",
            "REGISTRY_MAP_TILE_ATTRIBUTION": "© 天地图",
            "REGISTRY_MAP_TILE_DATUM": "CGCS2000",
            "REGISTRY_MAP_STATION_DATUM": "gcj02",
        }
    )
    assert len(config.map_tile_urls) == 2 and config.map_tile_datum is Datum.CGCS2000 and config.map_station_datum is Datum.GCJ02
    layer = TileLayer.of(config)
    assert layer is not None and layer.origins() == [f"https://t{n}.tianditu.gov.cn" for n in range(8)]
    assert image_sources(config) == "".join(f" https://t{n}.tianditu.gov.cn" for n in range(8))
    assert image_sources(RegistryConfig()) == "" and TileLayer.of(RegistryConfig()) is None
    osm = replace(RegistryConfig(), map_tile_urls=("https://{s}.tile.example.org/{z}/{x}/{y}.png",))
    assert TileLayer.of(osm).origins() == [f"https://{s}.tile.example.org" for s in "abc"]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="REGISTRY_MAP_TILE_DATUM"):
        from_env({"REGISTRY_MAP_TILE_DATUM": "bd09"})
    with pytest.raises(ConfigError, match="REGISTRY_MAP_TILE_URL"):
        from_env({"REGISTRY_MAP_TILE_URL": "ftp://tiles.example.org/{z}/{x}/{y}.png"})
    with pytest.raises(ConfigError, match="REGISTRY_MAP_TILE_URL"):
        from_env({"REGISTRY_MAP_TILE_URL": "https://tiles.example.org/tile.png"})


def _app(seeded: tuple[Engine, str], **settings: Any) -> Flask:
    """The dashboard over the seeded database with some map settings."""
    app = create_app(RegistryConfig(database_url=seeded[1], **settings), engine=seeded[0], clock=Clock())
    register_dashboard(app, secret_key="dashboard-test-secret")
    return app


@pytest.fixture
def bureau(client: FlaskClient) -> FlaskClient:
    assert form_sign_in(client, "bureau").status_code == 302
    return client


def test_the_page_script_is_a_file_and_the_csp_admits_only_the_tile_servers(
    bureau: FlaskClient, seeded: tuple[Engine, str]
) -> None:
    response = bureau.get("/dashboard/overview")
    text = response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "img-src 'self' data:;" in policy and "unsafe" not in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, re.S)
    assert scripts and all(' src="/dashboard/static/' in attrs and not body.strip() for attrs, body in scripts)
    config = json.loads(re.search(r"data-config='([^']+)'", text).group(1).replace("&#34;", '"').replace("&amp;", "&"))  # type: ignore[union-attr]
    assert config["tiles"] == [] and config["stations"].startswith("/dashboard/map/stations.geojson?since=2026-11-09")
    assert "map_note_outlines" not in text and "未配置底图" in text

    tiled = _app(
        seeded,
        map_tile_urls=(TIANDITU,),
        map_tile_subdomains="01",
        map_tile_attribution="© 天地图 <b>",
        map_tile_datum=Datum.CGCS2000,
    )
    client = tiled.test_client()
    form_sign_in(client, "bureau")
    response = client.get("/dashboard/overview")
    assert (
        "img-src 'self' data: https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn;"
        in response.headers["Content-Security-Policy"]
    )
    text = response.get_data(as_text=True)
    assert "&lt;b&gt;" in text.replace("\\u003c", "&lt;").replace("\\u003e", "&gt;") and '<b>"' not in text


def test_stations_route_needs_a_bureau_user(client: FlaskClient) -> None:
    anonymous = client.get("/dashboard/map/stations.geojson")
    assert anonymous.status_code == 302 and "/dashboard/sign-in" in anonymous.headers["Location"]
    assert client.get("/dashboard/map/regions.geojson").status_code == 302
    form_sign_in(client, "centre1")
    assert client.get("/dashboard/map/stations.geojson").status_code == 403
    assert client.get("/dashboard/map/regions.geojson").status_code == 403


def test_stations_carry_counts_rates_and_links(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    engine = seeded[0]
    response = bureau.get("/dashboard/map/stations.geojson")
    assert response.mimetype == "application/geo+json" and response.headers["Cache-Control"] == "no-store"
    document = response.get_json()
    with engine.connect() as c:
        stations = {
            code: (lat, lon, sid)
            for code, lat, lon, sid in c.execute(select(Station.code, Station.latitude, Station.longitude, Station.id))
        }
    assert document["truncated"] is False and len(document["features"]) == len(stations)
    busiest = max(document["features"], key=lambda f: f["properties"]["problems"])
    p = busiest["properties"]
    lat, lon, sid = stations[p["code"]]
    assert busiest["geometry"]["coordinates"] == [lon, lat]  # WGS84 stations on a WGS84 map: unchanged
    problems = count_events(
        engine,
        *DEFAULT_RANGE,
        ScanEvent.station_id == sid,
        ScanEvent.outcome.in_([o.value for o in (Outcome.REFUSED, Outcome.OVERRIDDEN, Outcome.WOULD_REFUSE)]),
    )
    total = count_events(engine, *DEFAULT_RANGE, ScanEvent.station_id == sid)
    assert (p["problems"], p["total"]) == (problems, total) and p["rate"] == pytest.approx(problems / total)
    assert p["colour"] == map_data.band(problems / total) and p["label"] == ZH.percent(problems / total)
    assert p["title"].startswith(p["name"] + "：") and p["href"].startswith(f"/dashboard/stations/{p['code']}?since=")

    district = bureau.get("/dashboard/map/stations.geojson?region=410105&lang=en").get_json()
    codes = {f["properties"]["code"] for f in district["features"]}
    assert codes and all(code.startswith("ST-410105-") for code in codes)
    assert " problem attempts of " in district["features"][0]["properties"]["title"]
    quiet = bureau.get("/dashboard/map/stations.geojson?since=2020-01-01&until=2020-01-02").get_json()
    assert {f["properties"]["colour"] for f in quiet["features"]} == {map_data.NO_ATTEMPTS}
    assert bureau.get("/dashboard/map/stations.geojson?region=nowhere").status_code == 404


def test_stations_are_moved_to_the_tiles_datum(seeded: tuple[Engine, str]) -> None:
    client = _app(seeded, map_tile_urls=("https://tiles.example.org/{z}/{x}/{y}.png",), map_tile_datum=Datum.GCJ02).test_client()
    form_sign_in(client, "bureau")
    moved = client.get("/dashboard/map/stations.geojson?region=410105").get_json()["features"][0]
    with seeded[0].connect() as c:
        lat, lon = c.execute(select(Station.latitude, Station.longitude).where(Station.code == moved["properties"]["code"])).one()
    assert lat is not None and lon is not None
    expected = [round(v, 6) for v in map_datums.wgs84_to_gcj02(lon, lat)]
    assert moved["geometry"]["coordinates"] == expected != [lon, lat]


def test_region_outlines_are_the_area_and_its_children(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    assert bureau.get("/dashboard/map/regions.geojson").get_json()["features"] == []  # nothing imported
    with imported_outlines(seeded[0], Datum.GCJ02):
        city = bureau.get("/dashboard/map/regions.geojson").get_json()
        roles = [(f["properties"]["code"], f["properties"]["role"]) for f in city["features"]]
        assert roles[0] == ("4101", "current") and len(roles) == 11
        child = next(f for f in city["features"] if f["properties"]["code"] == "410105")
        assert child["properties"]["href"] == "/dashboard/overview?since=2026-11-09&until=2026-11-22&region=410105"
        square = next(f for f in demo_outlines()["features"] if f["properties"]["code"] == "410105")["geometry"]
        corner = square["coordinates"][0][0]
        assert child["geometry"]["coordinates"][0][0] == [round(c, 6) for c in map_datums.gcj02_to_wgs84(*corner)]
        district = bureau.get("/dashboard/map/regions.geojson?region=410105").get_json()
        assert [f["properties"]["code"] for f in district["features"]][:2] == ["410105", "410105-01"]
        assert len(district["features"]) == 1 + 6


# Charts and presets ------------------------------------------------------------------------------


def _days(first: date, count: int) -> list[charts.DayCounts]:
    from datetime import timedelta

    return [
        charts.DayCounts(first + timedelta(days=n), {"refused": n % 3, "overridden": 1, "would_refuse": 0}) for n in range(count)
    ]


def test_charts_write_values_on_the_bars_and_mark_the_day_not_over() -> None:
    days = _days(date(2026, 11, 9), 14)
    svg = str(charts.daily_chart(days, ZH, today=date(2026, 11, 22)))
    values = re.findall(r'class="value">([\d,]+)</text>', svg)
    assert values == [str(d.total) for d in days]  # every column's total, readable without hovering
    assert svg.count('class="partial"') == 1 and 'data-partial="2026-11-22"' in svg and "截至目前" in svg
    assert 'fill-opacity="0.5" data-series="refused" data-day="2026-11-22"' in svg
    assert "截至目前" not in str(charts.daily_chart(days, ZH, today=date(2026, 12, 1)))  # a past range is whole
    rows = str(charts.daily_rows(days, EN, today=date(2026, 11, 22)))
    assert rows.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="chart-rows"')
    assert re.findall(r'class="value">([\d,]+)</text>', rows) == values and "So far" in rows and "Nov 22" in rows


def test_long_ranges_are_drawn_per_week_or_month() -> None:
    assert charts.chart_unit(_days(date(2026, 1, 1), 31)) == "day"
    weeks = charts.buckets(_days(date(2026, 9, 1), 90), today=date(2026, 11, 29))
    assert weeks[0].start == date(2026, 9, 1) and weeks[1].start == date(2026, 9, 7)  # Mondays after the first
    assert sum(b.total for b in weeks) == sum(d.total for d in _days(date(2026, 9, 1), 90)) and weeks[-1].partial
    year = _days(date(2026, 1, 1), 326)
    months = charts.buckets(year, today=date(2026, 11, 22))
    assert [b.start.month for b in months] == list(range(1, 12)) and [b.partial for b in months][-2:] == [False, True]
    svg = str(charts.daily_chart(year, ZH, today=date(2026, 11, 22)))
    assert "11月" in svg and svg.count('class="value"') == 11
    assert "每月问题加气次数" in svg


def test_presets_are_explicit_days_and_the_shown_one_is_marked() -> None:
    today = date(2026, 11, 22)
    query = parse_query({"since": "2026-11-16", "until": "2026-11-22", "region": "410105"}, NOW, 8)
    found = {p.key: p for p in presets(query, today)}
    assert [(p.since, p.until) for p in found.values()] == [
        (today, today),
        (date(2026, 11, 16), today),
        (date(2026, 10, 24), today),
        (date(2026, 1, 1), today),
    ]
    assert [p.key for p in found.values() if p.current] == ["7d"]
    assert found["year"].query_string(query) == "since=2026-01-01&until=2026-11-22&region=410105"


def test_overview_links_the_presets_and_shows_rates(bureau: FlaskClient, seeded: tuple[Engine, str]) -> None:
    text = bureau.get("/dashboard/overview?since=2026-11-16&until=2026-11-22").get_data(as_text=True)
    links = re.findall(r'<a href="(/dashboard/overview\?since=[^"]+)"( class="on" aria-current="true")?>([^<]+)</a>', text)
    assert [(href, bool(on), name) for href, on, name in links] == [
        ("/dashboard/overview?since=2026-11-22&amp;until=2026-11-22", False, "今天"),
        ("/dashboard/overview?since=2026-11-16&amp;until=2026-11-22", True, "近7天"),
        ("/dashboard/overview?since=2026-10-24&amp;until=2026-11-22", False, "近30天"),
        ("/dashboard/overview?since=2026-01-01&amp;until=2026-11-22", False, "今年"),
    ]
    total = count_events(seeded[0], "2026-11-16", "2026-11-22")
    refused = count_events(seeded[0], "2026-11-16", "2026-11-22", ScanEvent.outcome == Outcome.REFUSED)
    rate = re.search(r'id="rate-refused">([^<]+)<', text).group(1)  # type: ignore[union-attr]
    assert rate == f"占全部加气 {ZH.percent(refused / total)}（共 {ZH.integer(total)} 次）"
    assert 'data-partial="2026-11-22"' in text  # the clock's day is not over
    assert re.search(r'<td class="num rate">\d+\.\d%</td>', text)


# In Chromium, under the page's own CSP -----------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_peer() as instance:
        yield instance


@pytest.fixture(scope="module")
def base_url(seeded: tuple[Engine, str]) -> Iterator[str]:
    with imported_outlines(seeded[0]), serve(make_app(seeded[0], seeded[1], Clock())) as url:
        yield url


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_the_map_draws_every_station_over_the_outlines(
    browser: Any, base_url: str, seeded: tuple[Engine, str], viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []  # CSP refusals and script errors are logged to the console
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") and "Failed to load" not in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None)
    try:
        sign_in(page, base_url, "bureau", PASSWORD)
        page.wait_for_url(re.compile(r"/dashboard/overview"))
        page.wait_for_selector("#map[data-ready]")
        with seeded[0].connect() as c:
            stations = c.scalar(select(func.count()).select_from(Station).where(Station.latitude.is_not(None)))
        assert page.get_attribute("#map", "data-ready") == str(stations)
        assert page.locator("#map path.station-point").count() == stations
        labels = page.locator(".leaflet-tooltip.station-label").all_text_contents()
        assert len(labels) == stations and all(re.fullmatch(r"\d+\.\d%|–", label) for label in labels)
        # Labels that would overlap give way; the rest are read without hovering.
        shown = page.locator(".leaflet-tooltip.station-label:not(.label-hidden)").count()
        assert 0 < shown <= stations
        assert page.locator("#map .leaflet-overlay-pane path:not(.station-point)").count() == 11  # city + districts
        assert page.locator("#map .leaflet-control-zoom-in").get_attribute("title") == "放大"
        assert problems == [], problems  # no CSP refusal, no script error
        name = "10-overview-map" if viewport["width"] > 1000 else "11-overview-map-phone"
        directory = screenshot_dir()  # the map's card only: the whole overview is another test's picture
        directory.mkdir(parents=True, exist_ok=True)
        page.locator("#map-card").screenshot(path=str(directory / f"{name}.png"))
        page.locator("#map path.station-point").first.click(force=True)
        link = page.locator(".leaflet-popup-content a")
        assert link.inner_text() == "打开加气站页面 ›"
        assert re.match(r"/dashboard/stations/ST-\d+-\d+\?since=2026-11-09&until=2026-11-22$", link.get_attribute("href") or "")
        link.evaluate("a => a.click()")  # the popup may still be panning into view on a phone
        page.wait_for_url(re.compile(r"/dashboard/stations/ST-"))
    finally:
        context.close()


def _png() -> bytes:
    """A 1x1 grey PNG: what a tile server answers, as small as it gets."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xcc")) + chunk(b"IEND", b"")


def test_tiles_from_another_origin_load_under_the_csp(browser: Any, seeded: tuple[Engine, str]) -> None:
    tile_server = Flask("tiles")
    asked: list[str] = []

    @tile_server.get("/<int:z>/<int:x>/<int:y>.png")
    def tile(z: int, x: int, y: int) -> Any:
        asked.append(f"{z}/{x}/{y}")
        return _png(), 200, {"Content-Type": "image/png"}

    with serve(tile_server) as tiles:
        app = _app(seeded, map_tile_urls=(tiles + "/{z}/{x}/{y}.png",), map_tile_attribution="© 测试底图 <script>")
        with serve(app) as base:
            context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            try:
                sign_in(page, base, "bureau", PASSWORD)
                page.wait_for_selector("#map[data-ready]")
                page.wait_for_selector("#map img.leaflet-tile-loaded")
                assert asked and refused == []
                assert page.locator(".leaflet-control-attribution").inner_text().endswith("© 测试底图 <script>")  # as text
                assert page.locator("#map").get_attribute("class").split().count("no-tiles") == 0
            finally:
                context.close()
