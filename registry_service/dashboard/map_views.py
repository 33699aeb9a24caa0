"""The overview's map: two GeoJSON routes (the stations with their problem rates, the region
outlines), signed in as for the page, and what the page tells its script (static/map.js) in a
data attribute, since the dashboard's CSP runs no inline script."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request, url_for

from registry_service.dashboard import map_data
from registry_service.dashboard.filters import DashboardQuery, parse_query
from registry_service.dashboard.languages import words
from registry_service.dashboard.map_tiles import TileLayer, display_datum
from registry_service.dashboard.web import allow, blueprint, now, offset_hours, read, reg
from registry_service.models import Role

GEOJSON = "application/geo+json"


def _datums() -> map_data.Datums:
    config = reg().config
    return map_data.Datums(display=display_datum(config), stations=config.map_station_datum)


def _geojson(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document, ensure_ascii=False, separators=(",", ":")), mimetype=GEOJSON)


@blueprint.get("/map/stations.geojson")
@allow(Role.BUREAU)
def map_stations() -> Response:
    query = parse_query(request.args, now(), offset_hours())
    w, datums = words(), _datums()

    def link(code: str) -> str:
        return url_for("dashboard.station", code=code) + "?" + query.query_string(region=None, page=None)

    return _geojson(read(lambda s: map_data.station_points(s, query, now(), offset_hours(), datums, w, link)))


@blueprint.get("/map/regions.geojson")
@allow(Role.BUREAU)
def map_regions() -> Response:
    query = parse_query(request.args, now(), offset_hours())
    datums = _datums()

    def drill(code: str) -> str:
        return url_for("dashboard.overview") + "?" + query.query_string(region=code, page=None)

    return _geojson(read(lambda s: map_data.region_outlines(s, query, datums, drill)))


def map_config(query: DashboardQuery) -> dict[str, Any]:
    """Everything static/map.js needs: where the data is, the tiles, and its few words."""
    w = words()
    layer = TileLayer.of(reg().config)
    params = query.query_string(page=None)
    return {
        "stations": url_for("dashboard.map_stations") + "?" + params,
        "regions": url_for("dashboard.map_regions") + "?" + params,
        "tiles": list(layer.urls) if layer else [],
        "subdomains": layer.subdomains if layer else "",
        "attribution": layer.attribution if layer else "",
        "words": {
            "zoomIn": w.gettext("map_zoom_in"),
            "zoomOut": w.gettext("map_zoom_out"),
            "failed": w.gettext("map_failed"),
            "empty": w.gettext("map_empty"),
            "truncated": w.gettext("map_truncated"),
            "open": w.gettext("map_open_station"),
        },
    }


@blueprint.context_processor
def _map_context() -> dict[str, Any]:
    return {
        "map_config": map_config,
        "map_legend": lambda: map_data.legend(words()),
        "map_tiles": lambda: TileLayer.of(reg().config),
    }
