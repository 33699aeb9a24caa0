"""What the overview's map draws, as GeoJSON: the stations of the chosen area coloured by their
problem rate over the chosen days, and the outlines of that area and of its children.

The registry decides everything the map shows (colour, label, title, link); the page's script only
draws it. Coordinates are converted to the datum of the map they are drawn on (map_datums.py). Both
answers are bounded, so a province's worth of stations or outlines cannot swamp a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry_service.dashboard.filters import DashboardQuery
from registry_service.dashboard.i18n import Words
from registry_service.dashboard.map_datums import convert, convert_geometry
from registry_service.dashboard.reports import PROBLEMS, root_regions
from registry_service.models import Datum, Region, Station
from registry_service.services import places, queries, region_shapes

MAX_STATIONS = 5_000
MAX_OUTLINE_VERTICES = 200_000  # one answer's outlines, all shapes together


@dataclass(frozen=True)
class Band:
    """A class of problem rates: below `below` (None: no upper bound), drawn in `colour`."""

    below: float | None
    colour: str


# ColorBrewer's YlOrRd: each class darker than the one before, so they differ for colour-blind eyes
# and in grey print too; the rate is also written beside each station.
BANDS = (
    Band(0.02, "#ffffb2"),
    Band(0.05, "#fecc5c"),
    Band(0.10, "#fd8d3c"),
    Band(0.20, "#f03b20"),
    Band(None, "#bd0026"),
)
NO_ATTEMPTS = "#ffffff"  # a station with no attempts in the days has no rate


@dataclass(frozen=True)
class Datums:
    display: Datum  # the tiles' (map_tiles.display_datum)
    stations: Datum  # what station coordinates were recorded in (config.map_station_datum)


def band(rate: float | None) -> str:
    if rate is None:
        return NO_ATTEMPTS
    return next(b.colour for b in BANDS if b.below is None or rate < b.below)


def legend(words: Words) -> list[tuple[str, str]]:
    """(colour, words) per class, e.g. ("#ffffb2", "< 2.0%"), then the no-attempts mark."""
    items, low = [], None
    for b in BANDS:
        if low is None:
            text = f"< {words.percent(b.below or 0)}"
        elif b.below is None:
            text = f"≥ {words.percent(low)}"
        else:
            text = f"{words.percent(low)} – {words.percent(b.below)}"
        items.append((b.colour, text))
        low = b.below
    items.append((NO_ATTEMPTS, words.gettext("map_no_attempts")))
    return items


def selected_region(session: Session, query: DashboardQuery) -> Region | None:
    """The area the page is about: the query's region, else the one city when there is one (as
    the area table chooses)."""
    if query.events.region:
        return places.region_by_code(session, query.events.region)
    roots = root_regions(session)
    return roots[0] if len(roots) == 1 else None


def station_points(
    session: Session,
    query: DashboardQuery,
    now: datetime,
    utc_offset_hours: int,
    datums: Datums,
    words: Words,
    link: Callable[[str], str],
) -> dict[str, Any]:
    """A FeatureCollection of the area's stations that have coordinates, with their counts, rate
    and the link to the station's page."""
    region = selected_region(session, query)
    statement = (
        select(Station.code, Station.name, Station.latitude, Station.longitude)
        .join(Region, Region.id == Station.region_id)
        .where(Station.latitude.is_not(None), Station.longitude.is_not(None))
        .order_by(Station.code)
        .limit(MAX_STATIONS + 1)
    )
    if region is not None:
        statement = statement.where(or_(Region.path == region.path, Region.path.startswith(region.path + "/", autoescape=True)))
    stations = session.execute(statement).all()
    flt = query.with_region(region.code if region else None).event_filter(utc_offset_hours)
    counts = {g["key"]: g for g in queries.aggregate(session, flt, now, "station", utc_offset_hours)["groups"]}
    features = []
    for code, name, latitude, longitude in stations[:MAX_STATIONS]:
        if latitude is None or longitude is None:  # excluded by the query; says so to the type checker
            continue
        lon, lat = convert(longitude, latitude, datums.stations, datums.display)
        feature = _station(code, name, round(lon, 6), round(lat, 6), counts.get(code, {}), words)
        feature["properties"]["href"] = link(code)
        features.append(feature)
    return {"type": "FeatureCollection", "features": features, "truncated": len(stations) > MAX_STATIONS}


def _station(code: str, name: str, lon: float, lat: float, group: dict[str, Any], words: Words) -> dict[str, Any]:
    total = int(group.get("total", 0))
    problems = sum(int(group.get(o.value, 0)) for o in PROBLEMS)
    rate = problems / total if total else None
    label = words.percent(rate) if rate is not None else "–"
    title = words.gettext("map_station_title", name=name, problems=problems, total=total, rate=label)
    properties = {"code": code, "name": name, "problems": problems, "total": total, "rate": rate}
    properties |= {"colour": band(rate), "label": label, "title": title}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def region_outlines(session: Session, query: DashboardQuery, datums: Datums, drill: Callable[[str], str]) -> dict[str, Any]:
    """A FeatureCollection of the area's outline ("current") and its children's ("child", with the
    link that drills down to them), for the regions that have an imported shape."""
    region = selected_region(session, query)
    children = list(
        session.scalars(
            select(Region).where(Region.parent_id == region.id if region else Region.parent_id.is_(None)).order_by(Region.code)
        )
    )
    regions = {r.id: r for r in ([region] if region else []) + children}
    features, vertices, truncated = [], 0, False
    for shape in _current_first(region_shapes.shapes_of(session, regions.keys()), region):
        size = _vertices(shape.geometry)
        if vertices + size > MAX_OUTLINE_VERTICES:
            truncated = True
            continue
        vertices += size
        place = regions[shape.region_id]
        current = region is not None and place.id == region.id
        properties = {"code": place.code, "name": place.name, "role": "current" if current else "child"}
        if not current:
            properties["href"] = drill(place.code)
        geometry = convert_geometry(shape.geometry, shape.datum, datums.display)
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}


def _current_first(shapes: Iterable[region_shapes.StoredShape], region: Region | None) -> list[region_shapes.StoredShape]:
    return sorted(shapes, key=lambda s: (region is None or s.region_id != region.id, s.region_id))


def _vertices(geometry: dict[str, Any]) -> int:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return sum(len(ring) for polygon in polygons for ring in polygon)
