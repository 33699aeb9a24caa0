"""Region outlines from GeoJSON (`cylinder-registry import-regions`): validated, stored one per
region with the datum they were drawn in (models/shapes.py), and read back for the dashboard's map.

A file is a GeoJSON FeatureCollection (or one Feature) whose features name a region by a property
(`code` unless told otherwise) and carry a Polygon or MultiPolygon. Each feature stands alone, as a
row of a CSV import does: a bad one is reported with its position in the file and the others load.
Coordinates are kept as given (longitude, latitude; an altitude is dropped); which datum they are
in is the caller's statement, since GeoJSON files from Chinese sources rarely say (docs/map.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import InvalidInput
from registry_service.models import Datum, Region, RegionShape
from registry_service.services import audit

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FEATURES = 20_000
# A grid cell's outline has tens of points; a district's a few thousand. The map sends the shapes of
# one drill-down level at a time, so this bounds what one page asks a browser to draw.
MAX_VERTICES = 20_000
MAX_REJECTIONS_LISTED = 100

Position = list[float]
Bbox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


class ShapeError(ValueError):
    """Why one feature's geometry is refused (the file's other features still load)."""


@dataclass(frozen=True)
class ShapeInput:
    feature: int  # 1-based position in the file
    code: str
    geometry: dict[str, Any]  # Polygon or MultiPolygon, positions reduced to [lon, lat]
    bbox: Bbox
    vertices: int


@dataclass(frozen=True)
class Rejected:
    feature: int
    code: str | None
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"feature": self.feature, "code": self.code, "reason": self.reason}


@dataclass
class ImportReport:
    features: int = 0
    imported: int = 0
    replaced: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        listed = sorted(self.rejected, key=lambda r: r.feature)[:MAX_REJECTIONS_LISTED]
        return {
            "features": self.features,
            "imported": self.imported,
            "replaced": self.replaced,
            "rejected": len(self.rejected),
            "rejections": [r.to_json() for r in listed],
        }


@dataclass(frozen=True)
class StoredShape:
    region_id: int
    datum: Datum
    geometry: dict[str, Any]
    bbox: Bbox


def read_features(data: bytes, code_property: str = "code") -> tuple[list[ShapeInput], list[Rejected]]:
    """The file's usable shapes and its refused features; InvalidInput when it is not GeoJSON at all."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text (GeoJSON is UTF-8)") from exc
    except ValueError as exc:
        raise InvalidInput(f"the file is not JSON: {exc}") from exc
    features = _features(document)
    shapes: list[ShapeInput] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for index, feature in enumerate(features, start=1):
        code = _code(feature, code_property)
        try:
            if code is None:
                raise ShapeError(f"no {code_property!r} property naming a region")
            if code in seen:
                raise ShapeError("a second shape for this region in the same file")
            geometry, bbox, vertices = checked_geometry(feature.get("geometry") if isinstance(feature, dict) else None)
        except ShapeError as error:
            rejected.append(Rejected(index, code, str(error)))
            continue
        seen.add(code)
        shapes.append(ShapeInput(index, code, geometry, bbox, vertices))
    return shapes, rejected


def _features(document: object) -> list[Any]:
    if not isinstance(document, dict):
        raise InvalidInput("a GeoJSON file holds an object (a FeatureCollection)")
    if document.get("type") == "Feature":
        return [document]
    if document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
        raise InvalidInput("a GeoJSON FeatureCollection with a list of features is expected")
    features: list[Any] = document["features"]
    if len(features) > MAX_FEATURES:
        raise InvalidInput(f"more than {MAX_FEATURES} features")
    return features


def _code(feature: object, code_property: str) -> str | None:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return None
    value = feature["properties"].get(code_property)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= 64 else None


def checked_geometry(geometry: object) -> tuple[dict[str, Any], Bbox, int]:
    """A Polygon or MultiPolygon, normalised to [lon, lat] positions, with its bounding box and size."""
    if not isinstance(geometry, dict):
        raise ShapeError("no geometry")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [_polygon(coordinates)]
        normalised: dict[str, Any] = {"type": "Polygon", "coordinates": polygons[0]}
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise ShapeError("a MultiPolygon needs at least one polygon")
        polygons = [_polygon(polygon) for polygon in coordinates]
        normalised = {"type": "MultiPolygon", "coordinates": polygons}
    else:
        raise ShapeError(f"the geometry is a {kind!r}, not a Polygon or MultiPolygon")
    positions = [p for polygon in polygons for ring in polygon for p in ring]
    if len(positions) > MAX_VERTICES:
        raise ShapeError(f"{len(positions)} points; at most {MAX_VERTICES} per region (simplify the outline)")
    lons, lats = [p[0] for p in positions], [p[1] for p in positions]
    return normalised, (min(lons), min(lats), max(lons), max(lats)), len(positions)


def _polygon(rings: object) -> list[list[Position]]:
    if not isinstance(rings, list) or not rings:
        raise ShapeError("a polygon needs an outer ring")
    return [_ring(ring) for ring in rings]


def _ring(ring: object) -> list[Position]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ShapeError("a ring needs at least four positions (the first repeated as the last)")
    positions = [_position(p) for p in ring]
    if positions[0] != positions[-1]:
        raise ShapeError("a ring must end where it starts")
    return positions


def _position(value: object) -> Position:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise ShapeError("a position is [longitude, latitude]")
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in value):
        raise ShapeError("a position holds numbers only")
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ShapeError(f"[{lon}, {lat}] is not a longitude and latitude (longitude first, as GeoJSON orders them)")
    return [lon, lat]


def import_shapes(
    session: Session,
    read: tuple[list[ShapeInput], list[Rejected]],
    datum: Datum,
    now: datetime,
    operator: str,
    source: str,
) -> ImportReport:
    """Store each shape read (read_features) for its region, replacing an earlier one; unknown region
    codes are refused like the features the reading refused."""
    shapes, refused = read
    report = ImportReport(features=len(shapes) + len(refused), rejected=list(refused))
    regions = _region_ids(session, {shape.code for shape in shapes})
    existing = {s.region_id: s for s in session.scalars(select(RegionShape).where(RegionShape.region_id.in_(regions.values())))}
    for shape in shapes:
        region_id = regions.get(shape.code)
        if region_id is None:
            report.rejected.append(Rejected(shape.feature, shape.code, "no region with this code"))
            continue
        row = existing.get(region_id)
        if row is None:
            row = RegionShape(region_id=region_id)
            session.add(row)
            report.imported += 1
        else:
            report.replaced += 1
        row.datum = datum
        row.geometry = json.dumps(shape.geometry, separators=(",", ":"))
        row.min_lon, row.min_lat, row.max_lon, row.max_lat = shape.bbox
        row.vertices = shape.vertices
        row.imported_at = now
    audit.record(
        session,
        operator,
        "import_region_shapes",
        "region_shapes",
        source,
        now,
        datum=datum.value,
        imported=report.imported,
        replaced=report.replaced,
    )
    return report


def _region_ids(session: Session, codes: Collection[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), 500):  # bounded IN lists
        chunk = ordered[start : start + 500]
        found.update({code: rid for rid, code in session.execute(select(Region.id, Region.code).where(Region.code.in_(chunk)))})
    return found


def shapes_of(session: Session, region_ids: Collection[int]) -> Iterator[StoredShape]:
    """The stored shapes of these regions (those that have one)."""
    if not region_ids:
        return
    rows = session.scalars(select(RegionShape).where(RegionShape.region_id.in_(list(region_ids))).order_by(RegionShape.region_id))
    for row in rows:
        yield StoredShape(
            row.region_id, row.datum, json.loads(row.geometry), (row.min_lon, row.min_lat, row.max_lon, row.max_lat)
        )
