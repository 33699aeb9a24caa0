"""Outlines of the bureau's regions (city, district, grid cell) for the dashboard's map.

Imported from GeoJSON (`cylinder-registry import-regions`), one shape per region, kept as the file
gave it: the geometry in its own coordinate datum, and that datum beside it. China's maps do not
share one datum (docs/map.md): 天地图 draws CGCS2000, AMap and other web maps GCJ-02 (shifted by
several hundred metres), GNSS receivers give WGS84. The dashboard converts to the datum of the map
it draws on when it reads a shape, so a shape is never converted twice or silently.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry_service.models.base import Base, UTCDateTime, str_enum


class Datum(enum.StrEnum):
    WGS84 = "wgs84"  # GNSS, OpenStreetMap
    CGCS2000 = "cgcs2000"  # 天地图 and China's official surveying; within centimetres of WGS84
    GCJ02 = "gcj02"  # AMap, Tencent and other Chinese web maps: WGS84 with a deliberate offset


class RegionShape(Base):
    __tablename__ = "region_shapes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), unique=True)
    datum: Mapped[Datum] = mapped_column(str_enum(Datum))
    # A GeoJSON Polygon or MultiPolygon geometry object, as JSON text, in `datum`.
    geometry: Mapped[str] = mapped_column(Text)
    # Its bounding box (in `datum`) and size, so a map can be framed and bounded without parsing it.
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    vertices: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
