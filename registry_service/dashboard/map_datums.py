"""Coordinates between the datums China's maps use, so stations and outlines land where the tiles
draw them (docs/map.md).

- WGS84 (GNSS) and CGCS2000 (天地图, official surveying) differ by centimetres: the map treats them
  as one.
- GCJ-02 (AMap, Tencent and most Chinese web maps) is WGS84 moved by a published nonlinear offset
  of a few hundred metres inside China (none outside). WGS84 → GCJ-02 is that formula; GCJ-02 →
  WGS84 has no closed form and is found by iterating the formula to within a few millimetres.
"""

from __future__ import annotations

import math
from typing import Any

from registry_service.models import Datum

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses it
_EE = 0.00669342162296594323  # its first eccentricity squared
_SAME = {Datum.WGS84, Datum.CGCS2000}


def out_of_china(lon: float, lat: float) -> bool:
    """The GCJ-02 offset applies only inside this box (the formula's own rule)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 minus WGS84 at a WGS84 point, in degrees of longitude and latitude."""
    x, y = lon - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    w_lon, w_lat = lon, lat
    for _ in range(30):  # converges in a handful of steps: the offset changes slowly with position
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if abs(e_lon) < 1e-9 and abs(e_lat) < 1e-9:
            break
    return w_lon, w_lat


def convert(lon: float, lat: float, source: Datum, target: Datum) -> tuple[float, float]:
    """A point drawn in `source` as it lies in `target`."""
    if source == target or (source in _SAME and target in _SAME):
        return lon, lat
    if target == Datum.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    return gcj02_to_wgs84(lon, lat)


def convert_geometry(geometry: dict[str, Any], source: Datum, target: Datum, digits: int = 6) -> dict[str, Any]:
    """A Polygon or MultiPolygon (as region_shapes stores them) in `target`, rounded to `digits`
    decimals (0.1 m at 6: finer only makes the JSON longer)."""

    def ring(positions: list[list[float]]) -> list[list[float]]:
        return [[round(c, digits) for c in convert(p[0], p[1], source, target)] for p in positions]

    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(r) for r in geometry["coordinates"]]}
    return {"type": "MultiPolygon", "coordinates": [[ring(r) for r in polygon] for polygon in geometry["coordinates"]]}
