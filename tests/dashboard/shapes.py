"""Region outlines for the demo city, as a bureau would import them with `import-regions`: the
city, its districts and their street cells as rectangles around the seed's district centres
(registry_service/seed.py), in WGS84. Made up, but shaped like the real thing: nested, closed,
longitude first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete

from registry_service.db import make_session_factory, run_in_transaction
from registry_service.models import Datum, RegionShape
from registry_service.seed import CITY, DISTRICTS
from registry_service.services import region_shapes
from tests.dashboard.world import NOW

HALF = 0.036  # degrees: the seed puts a district's stations within ±0.03° of its centre


def rectangle(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def feature(code: str, geometry: dict[str, Any], **properties: object) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, **properties}, "geometry": geometry}


def demo_outlines() -> dict[str, Any]:
    features = []
    lats = [d[2] for d in DISTRICTS]
    lons = [d[3] for d in DISTRICTS]
    features.append(feature(CITY[0], rectangle(min(lons) - HALF, min(lats) - HALF, max(lons) + HALF, max(lats) + HALF)))
    for code, _name, lat, lon, streets in DISTRICTS:
        features.append(feature(code, rectangle(lon - HALF, lat - HALF, lon + HALF, lat + HALF)))
        width = 2 * HALF / len(streets)
        for index in range(len(streets)):  # vertical strips, west to east
            west = lon - HALF + index * width
            features.append(feature(f"{code}-{index + 1:02d}", rectangle(west, lat - HALF, west + width, lat + HALF)))
    return {"type": "FeatureCollection", "features": features}


def write_outlines(path: Path, document: dict[str, Any] | None = None) -> Path:
    path.write_text(json.dumps(document or demo_outlines(), ensure_ascii=False), encoding="utf-8")
    return path


@contextmanager
def imported_outlines(engine: Engine, datum: Datum = Datum.WGS84) -> Iterator[region_shapes.ImportReport]:
    """The demo outlines in the (shared) seeded database while the block runs, gone afterwards."""
    read = region_shapes.read_features(json.dumps(demo_outlines()).encode())
    sessions = make_session_factory(engine)
    report = run_in_transaction(sessions, lambda s: region_shapes.import_shapes(s, read, datum, NOW, "test", "demo.geojson"))
    try:
        yield report
    finally:
        with engine.begin() as connection:
            connection.execute(delete(RegionShape))
