"""Registry configuration: a frozen dataclass passed to create_app; only `from_env` reads the
environment, and only when a command asks for it (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from registry_service.errors import ConfigError
from registry_service.models.shapes import Datum

DEFAULT_DATABASE_URL = "sqlite:///registry.sqlite3"


@dataclass(frozen=True)
class RegistryConfig:
    database_url: str = DEFAULT_DATABASE_URL
    # PEM of the bureau root that signs trust lists; uploads are verified against it.
    bureau_root_pem: bytes | None = None
    pool_size: int = 10
    max_overflow: int = 20
    pool_timeout_s: float = 5.0
    pool_pre_ping: bool = False
    # The bureau's queries, exports and reports go to this database when it is a replica that has
    # replayed to within reader_max_lag_s of its leader, else to database_url (db.ReportRoute).
    # On a Patroni cluster: a libpq multi-host URL with target_session_attrs=prefer-standby.
    reader_database_url: str | None = None
    reader_max_lag_s: float = 5.0
    # How long a request keeps retrying a lost database connection before it is answered 503 with
    # Retry-After (db.Reconnect). 0: three quick tries. On a Patroni cluster a few seconds, longer
    # than a planned switchover and shorter than a station's upload timeout (10 s).
    reconnect_wait_s: float = 0.0
    # How long a COMMIT may wait for a synchronous standby (strict synchronous replication with no
    # standby streaming) before it is cancelled and answered 503 (sync_commit.py). 0: no bound.
    commit_wait_s: float = 0.0
    # How long a request waits for another writer's lock (SQLite's busy timeout, PostgreSQL's
    # lock_timeout) before it is answered 503 with Retry-After: a station's upload gets a quick
    # "come back in a second" instead of being held for SQLite's default 30 s.
    lock_wait_s: float = 0.25
    # PostgreSQL statement_timeout on the station paths (status reads, scan-event and fault
    # uploads): a station stops waiting long before this; the registry should stop working too.
    station_statement_timeout_s: float = 5.0
    # Largest accepted request body and batch; bound the work one request can cause.
    max_body_bytes: int = 4 * 1024 * 1024
    max_scan_batch: int = 1000
    max_status_cylinders: int = 8
    max_status_events: int = 50  # scan events riding on one status request (api/status.py)
    max_page_size: int = 1000
    due_soon_days: int = 30
    # Seconds a resolved token stays cached on a node after its lookup (REGISTRY_TOKEN_CACHE_S)
    # while its token watch does not listen (SQLite; PostgreSQL unreachable): a token revoked on
    # another node or by the CLI keeps working here for up to this long (docs/security.md).
    token_cache_s: float = 10.0
    # The same while the node hears revocations as they commit (PostgreSQL, token_watch.py;
    # REGISTRY_TOKEN_CACHE_LISTENING_S): long enough that a station's requests, a minute or so
    # apart, find their token cached; it bounds only how long a revocation waits if a message is lost.
    token_cache_listening_s: float = 600.0
    # Clone detection: faster than this between two stations means two tags.
    max_plausible_speed_kmh: float = 150.0
    # Reports count days in the bureau's local time (China: UTC+8).
    report_utc_offset_hours: int = 8
    # IANA zone whose date is "today" for a status request that names no zone (the station's own
    # zone, sent with the request, wins: record dates are local calendar dates).
    default_timezone: str = "Asia/Shanghai"
    echo_sql: bool = False
    # Signs the dashboard's session cookie; the same on every node (None: a random per-process key).
    dashboard_secret_key: str | None = None
    # Mark the dashboard's session cookie Secure: set it when the registry is served over HTTPS.
    dashboard_secure_cookies: bool = False
    # The list signer's Unix socket (docs/signer.md). When set, `serve` publishes the status lists
    # in the background every status_list_interval_s if anything changed (see status_publisher.py).
    signer_socket: str | None = None
    status_list_interval_s: float = 60.0
    status_list_validity_h: float = 48.0  # the signer refuses more than 15 days
    status_list_ttl_s: int = 300  # how long a station may keep a list before asking again
    # A station whose newest heartbeat is older than this while it is open gets a silent alarm
    # (services/station_health.py); `serve` sweeps every silent_sweep_interval_s.
    silent_after_s: float = 600.0
    silent_sweep_interval_s: float = 60.0
    # Meter readings (services/meters.py): an agent_started totaliser this far above the last reading
    # held (in the meter's unit, kg or Nm3) opens an unexplained_quantity alarm.
    meter_tolerance: float = 0.05
    # A JSON file changing the station grading rules and patrol checklist (registry_service/grading_rules.py).
    grading_rules_path: str | None = None
    # Cases (docs/grid.md): a JSON file changing the step deadlines (registry_service/case_rules.py);
    # `serve` escalates cases past their deadline every case_sweep_interval_s (case_sweeper.py).
    case_rules_path: str | None = None
    case_sweep_interval_s: float = 60.0
    # The overview's per-region day totals (services/region_rollups.py): `serve` rolls every
    # region_rollup_interval_s the local days that ended at least region_rollup_lag_s ago (the lag
    # must exceed the longest upload and the nodes' clock differences; later days are read from
    # the per-station totals, so the figures are exact whatever the lag).
    region_rollup_interval_s: float = 300.0
    region_rollup_lag_s: float = 3600.0
    # The clone watch (services/clones.py, clone_watch.py): `serve` judges the scans uploaded since
    # its last round every clone_watch_interval_s, so a suspect and its case appear about that
    # long after the scan arrives (REGISTRY_CLONE_WATCH_INTERVAL_MS).
    clone_watch_interval_s: float = 1.0
    # Where the registry keeps files that are not rows: case photos (None: photos are refused).
    data_dir: str | None = None
    # The dashboard's map (docs/map.md). Tile URL templates with {z}, {x}, {y} (and {s} for one of
    # map_tile_subdomains): a base layer, then overlays such as 天地图's labels. None: the map
    # draws the stations over the region outlines imported with `import-regions`.
    map_tile_urls: tuple[str, ...] = ()
    map_tile_attribution: str = ""  # plain text, e.g. "© 天地图" or "© OpenStreetMap contributors"
    map_tile_subdomains: str = ""
    # The datum the tiles are drawn in (天地图: cgcs2000, AMap: gcj02, OpenStreetMap: wgs84) and the
    # one station coordinates were recorded in; the map converts everything to the tiles' datum.
    map_tile_datum: Datum = Datum.WGS84
    map_station_datum: Datum = Datum.WGS84
    extra: Mapping[str, str] = field(default_factory=dict)

    def with_database(self, url: str) -> RegistryConfig:
        return replace(self, database_url=url)

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.default_timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ConfigError(f"default time zone {self.default_timezone!r} is not an IANA name (e.g. Asia/Shanghai)") from exc


def from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> RegistryConfig:
    """Build a config from REGISTRY_* variables; explicit overrides win."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if url := env.get("REGISTRY_DATABASE_URL"):
        values["database_url"] = url
    if root := env.get("REGISTRY_BUREAU_ROOT"):
        values["bureau_root_pem"] = read_pem(root)
    if secret := env.get("REGISTRY_DASHBOARD_SECRET"):
        values["dashboard_secret_key"] = secret
    if env.get("REGISTRY_DASHBOARD_SECURE_COOKIES", "").lower() in {"1", "true", "yes"}:
        values["dashboard_secure_cookies"] = True
    for name, key in (("pool_size", "REGISTRY_POOL_SIZE"), ("max_overflow", "REGISTRY_MAX_OVERFLOW")):
        if key in env:
            try:
                values[name] = int(env[key])
            except ValueError as exc:
                raise ConfigError(f"{key} must be an integer, not {env[key]!r}") from exc
    if zone := env.get("REGISTRY_TIMEZONE"):
        values["default_timezone"] = zone
    if socket := env.get("REGISTRY_SIGNER_SOCKET"):
        values["signer_socket"] = socket
    if "REGISTRY_MAX_BODY_BYTES" in env:  # the app and waitress (`serve`) refuse larger bodies with 413
        values["max_body_bytes"] = _bounded_int(
            env["REGISTRY_MAX_BODY_BYTES"], "REGISTRY_MAX_BODY_BYTES", 1024, 1024 * 1024 * 1024
        )
    if reader := env.get("REGISTRY_READER_DATABASE_URL"):
        values["reader_database_url"] = reader
    for name, key in (
        ("lock_wait_s", "REGISTRY_LOCK_WAIT_MS"),
        ("reader_max_lag_s", "REGISTRY_READER_MAX_LAG_MS"),
        ("reconnect_wait_s", "REGISTRY_RECONNECT_WAIT_MS"),
        ("commit_wait_s", "REGISTRY_COMMIT_WAIT_MS"),
        ("clone_watch_interval_s", "REGISTRY_CLONE_WATCH_INTERVAL_MS"),
    ):
        if key in env:
            values[name] = _milliseconds(env[key], key)
    if "REGISTRY_SILENT_AFTER_S" in env:
        values["silent_after_s"] = float(
            _bounded_int(env["REGISTRY_SILENT_AFTER_S"], "REGISTRY_SILENT_AFTER_S", 60, 7 * 24 * 3600)
        )
    if "REGISTRY_TOKEN_CACHE_S" in env:  # 0 turns the cache off; see docs/security.md for a longer one
        values["token_cache_s"] = float(_bounded_int(env["REGISTRY_TOKEN_CACHE_S"], "REGISTRY_TOKEN_CACHE_S", 0, 3600))
    if "REGISTRY_TOKEN_CACHE_LISTENING_S" in env:
        values["token_cache_listening_s"] = float(
            _bounded_int(env["REGISTRY_TOKEN_CACHE_LISTENING_S"], "REGISTRY_TOKEN_CACHE_LISTENING_S", 0, 3600)
        )
    if rules := env.get("REGISTRY_GRADING_RULES"):
        values["grading_rules_path"] = rules
    if case_rules := env.get("REGISTRY_CASE_RULES"):
        values["case_rules_path"] = case_rules
    if data_dir := env.get("REGISTRY_DATA_DIR"):
        values["data_dir"] = data_dir
    if "REGISTRY_METER_TOLERANCE" in env:
        values["meter_tolerance"] = _tolerance(env["REGISTRY_METER_TOLERANCE"])
    values.update(_map_values(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = RegistryConfig(**values)  # type: ignore[arg-type]
    config.zone()  # a wrong zone fails at start, not on the first status request
    return config


def _map_values(env: Mapping[str, str]) -> dict[str, object]:
    """The map's REGISTRY_MAP_* settings; REGISTRY_MAP_TILE_URL holds one or more templates, space-separated."""
    values: dict[str, object] = {}
    urls = tuple(env.get("REGISTRY_MAP_TILE_URL", "").split())
    for url in urls:
        if not url.startswith(("https://", "http://")) or not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise ConfigError(f"REGISTRY_MAP_TILE_URL: {url!r} is not an http(s) URL template with {{z}}, {{x}} and {{y}}")
    if urls:
        values["map_tile_urls"] = urls
    for name, key in (
        ("map_tile_attribution", "REGISTRY_MAP_TILE_ATTRIBUTION"),
        ("map_tile_subdomains", "REGISTRY_MAP_TILE_SUBDOMAINS"),
    ):
        if text := env.get(key, "").strip():
            values[name] = text
    for name, key in (("map_tile_datum", "REGISTRY_MAP_TILE_DATUM"), ("map_station_datum", "REGISTRY_MAP_STATION_DATUM")):
        if text := env.get(key, "").strip():
            try:
                values[name] = Datum(text.lower())
            except ValueError as exc:
                raise ConfigError(f"{key} must be one of {', '.join(Datum)}, not {text!r}") from exc
    return values


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise ConfigError(f"REGISTRY_METER_TOLERANCE must be a number, not {text!r}") from exc
    if not 0 <= value <= 1000:  # nan fails this too
        raise ConfigError("REGISTRY_METER_TOLERANCE must be between 0 and 1000 (kg or Nm3)")
    return value


def _bounded_int(text: str, key: str, low: int, high: int) -> int:
    if not text.strip().isascii() or not text.strip().isdigit():
        raise ConfigError(f"{key} must be a whole number, not {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ConfigError(f"{key} must be between {low} and {high}")
    return value


def _milliseconds(text: str, key: str) -> float:
    try:
        value = int(text)
    except ValueError as exc:
        raise ConfigError(f"{key} must be an integer number of milliseconds, not {text!r}") from exc
    if not 1 <= value <= 600_000:
        raise ConfigError(f"{key} must be between 1 and 600000 milliseconds")
    return value / 1000


def read_pem(path: str | Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read bureau root certificate {path}: {exc.strerror}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ConfigError(f"{path} is not a PEM certificate")
    return data
