"""The map's tile layer, from the registry's configuration (map_tile_* in config.py, docs/map.md):
what the page's script is told, and which origins the page's Content-Security-Policy must let
images come from (tiles are images from the tile server; nothing else of the page's leaves it)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from registry_service.config import RegistryConfig
from registry_service.models import Datum

LEAFLET_SUBDOMAINS = "abc"  # Leaflet's own default for {s}


@dataclass(frozen=True)
class TileLayer:
    urls: tuple[str, ...]  # a base layer, then overlays
    attribution: str
    subdomains: str
    datum: Datum

    @classmethod
    def of(cls, config: RegistryConfig) -> TileLayer | None:
        if not config.map_tile_urls:
            return None
        subdomains = config.map_tile_subdomains or LEAFLET_SUBDOMAINS
        return cls(config.map_tile_urls, config.map_tile_attribution, subdomains, config.map_tile_datum)

    def origins(self) -> list[str]:
        """scheme://host[:port] of every server the templates name, one per subdomain for {s}."""
        found: list[str] = []
        for url in self.urls:
            # Leaflet reads a subdomains string letter by letter ("abc", 天地图's "01234567").
            for subdomain in list(self.subdomains) if "{s}" in url else [""]:
                parts = urlsplit(url.replace("{s}", subdomain))
                origin = f"{parts.scheme}://{parts.netloc}"
                if parts.scheme in ("http", "https") and parts.netloc and origin not in found:
                    found.append(origin)
        return found


def display_datum(config: RegistryConfig) -> Datum:
    """The datum everything is drawn in: the tiles' own, or WGS84 when there are none."""
    layer = TileLayer.of(config)
    return layer.datum if layer else Datum.WGS84


def image_sources(config: RegistryConfig) -> str:
    """Extra `img-src` sources for the page's CSP: the tile servers, or nothing."""
    layer = TileLayer.of(config)
    return "".join(" " + origin for origin in layer.origins()) if layer else ""
