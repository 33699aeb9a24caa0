"""station.toml: one file per pump, parsed into frozen dataclasses with typed, key-naming errors.

Nothing reads the environment or the file system at import time; `load_config` is the only entry.
Durations carry their unit in the key name (`budget_ms`, `session_window_s`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from station_agent import page_words
from station_agent.errors import ConfigError
from station_agent.passwords import check_hash_format
from station_agent.reasons import KNOWN_REASONS, OVERRIDABLE_BY_DEFAULT
from tag_tools import private_files
from tag_tools.fields import ATTENDANT, SUPERVISOR, FieldError, TextRule
from tag_tools.messages import locale_names

Mode = Literal["enforce", "monitor"]

# Reasons an override may clear without the policy naming them: the reason catalogue's overridable
# ones (trust_list_stale, issued_in_future, chip_not_genuine, refilled_too_soon). Overdue, failed,
# scrapped, past-life, forged and moved records are deliberately not: only an explicit list admits them.
DEFAULT_OVERRIDABLE = OVERRIDABLE_BY_DEFAULT
DEFAULT_LANGUAGE = "zh"  # served by the zh_CN catalogue


@dataclass(frozen=True)
class Policy:
    mode: Mode = "enforce"
    warning_days: int = 30
    trust_list_max_age: timedelta = timedelta(days=7)
    refuse_non_genuine_chip: bool = True
    timezone: str = "Asia/Shanghai"
    session_window: timedelta = timedelta(seconds=120)
    min_refill_interval: timedelta = timedelta(hours=1)  # Peru's rule; zero disables it
    overridable: frozenset[str] = frozenset(DEFAULT_OVERRIDABLE)

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"


@dataclass(frozen=True)
class Supervisor:
    id: str
    name: str
    password_hash: str


@dataclass(frozen=True)
class RegistrySettings:
    url: str | None = None  # base URL ending in /api/v1; None: this station runs offline only
    token: str | None = None
    budget: timedelta = timedelta(milliseconds=300)
    sync_interval: timedelta = timedelta(minutes=15)  # trust data; a revocation reaches the station within this
    upload_batch: int = 200
    max_backoff: timedelta = timedelta(minutes=5)
    upload_debounce: timedelta = timedelta(seconds=300)  # an event not carried by a status request by then is uploaded
    heartbeat: timedelta = timedelta(seconds=60)  # the agent's heartbeat to the registry (station_agent/heartbeat.py)


RegisterType = Literal["holding", "input"]
MeterDataType = Literal["uint16", "uint32", "int32", "uint64", "float32", "float64"]
WordOrder = Literal["big", "little"]
MeterUnit = Literal["kg", "Nm3"]


@dataclass(frozen=True)
class TotaliserSettings:
    """[totaliser]: where the dispenser's running total lives (docs/station.md "Dispenser totaliser")."""

    path: str  # modbus-tcp://HOST[:PORT]/UNIT or modbus-rtu:///dev/ttyX?unit=N[&baud=&parity=]
    address: int
    register_type: RegisterType = "holding"
    data_type: MeterDataType = "uint32"
    word_order: WordOrder = "big"
    scale: float = 1.0  # value = raw * scale, in `unit`
    unit: MeterUnit = "kg"
    poll: timedelta = timedelta(seconds=30)  # between fills
    tolerance: float = 0.05  # in `unit`: smaller advances are the meter's noise, not gas
    flow_stop: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class StationConfig:
    station_code: str
    pump: int
    state_dir: Path
    reader_path: str
    interlock_path: str
    root_certificate: Path
    initial_trust_list: Path | None = None
    attendant: str = "attendant"
    repeat_after: timedelta = timedelta(seconds=3)
    fill_timeout: timedelta = timedelta(minutes=10)
    heartbeat: timedelta = timedelta(seconds=1)
    outbox_retention: timedelta = timedelta(days=30)  # delivered events are kept this long, then pruned
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    language: str = DEFAULT_LANGUAGE  # the booth page's first language: any with an "attendant" catalogue
    # Host headers the booth page answers besides its own address and localhost (a display on the
    # station LAN that opens the page by name); see station_agent.booth_guard.
    allowed_hosts: tuple[str, ...] = ()
    override_lock_after: int = 5  # wrong supervisor passwords (per supervisor, per client) before a lock
    override_lock: timedelta = timedelta(minutes=15)
    # The booth page sounds a refusal (a tone it makes itself; docs/station.md "What the attendant
    # sees" gives the kiosk browser's flags that let it play without a tap first).
    refusal_sound: bool = True
    policy: Policy = field(default_factory=Policy)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    supervisors: tuple[Supervisor, ...] = ()
    # [metrics] listen: Prometheus /metrics on an address of its own, never the booth page's (None: off)
    metrics_listen: tuple[str, int] | None = None
    totaliser: TotaliserSettings | None = None  # [totaliser]: None, no metering

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    def supervisor(self, supervisor_id: str) -> Supervisor | None:
        """The supervisor with this id (ids are compared as tag_tools.fields.SUPERVISOR normalises them)."""
        return next((s for s in self.supervisors if s.id == supervisor_id), None)


def load_config(path: Path) -> StationConfig:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error
    # Warn, not refuse: a refused start keeps the pump off at the whole station (docs/station.md).
    private_files.warn_if_open(path, "supervisor password hashes and the registry token")
    return parse_config(document, base=path.parent)


def parse_config(document: dict[str, Any], base: Path = Path(".")) -> StationConfig:
    """Build the configuration from a parsed TOML document; relative paths are relative to `base`."""
    _only(
        document,
        "",
        {"station", "reader", "interlock", "registry", "trust", "policy", "attendant", "supervisors", "metrics", "totaliser"},
    )
    station = _table(document, "station")
    reader = _table(document, "reader")
    interlock = _table(document, "interlock")
    trust = _table(document, "trust")
    screen = _table(document, "attendant", required=False)
    _only(station, "station", {"code", "pump", "state_dir", "attendant", "outbox_retention_days"})
    _only(reader, "reader", {"path", "repeat_after_s"})
    _only(interlock, "interlock", {"path", "fill_timeout_s", "heartbeat_s"})
    _only(trust, "trust", {"root_certificate", "initial_trust_list"})
    _only(screen, "attendant", {"listen", "language", "allowed_hosts", "lock_after_failures", "lock_minutes", "refusal_sound"})
    host, port = _listen(_get(screen, "attendant.listen", str, "127.0.0.1:8080"))
    language = _language(_get(screen, "attendant.language", str, DEFAULT_LANGUAGE))
    allowed_hosts = _allowed_hosts(_get(screen, "attendant.allowed_hosts", list, []))
    if host in ("0.0.0.0", "::", "") and not allowed_hosts:
        raise ConfigError(
            "attendant.listen on every interface needs attendant.allowed_hosts (the name or "
            'address the booth display opens, e.g. ["192.168.1.20:8080"])'
        )
    lock_minutes = _number(screen, "attendant.lock_minutes", 15.0)
    if not 0 < lock_minutes <= 24 * 60:
        raise ConfigError("attendant.lock_minutes must be more than 0 and at most 1440")
    initial = _get(trust, "trust.initial_trust_list", str, None)
    metrics = _table(document, "metrics", required=False)
    _only(metrics, "metrics", {"listen"})
    metrics_listen = _get(metrics, "metrics.listen", str, None)
    return StationConfig(
        station_code=_get(station, "station.code", str),
        pump=_int(station, "station.pump", None, 1, 64),
        state_dir=base / _get(station, "station.state_dir", str),
        attendant=_text(ATTENDANT, "station.attendant", _get(station, "station.attendant", str, "attendant")),
        outbox_retention=timedelta(days=_number(station, "station.outbox_retention_days", 30.0)),
        reader_path=_get(reader, "reader.path", str),
        repeat_after=_seconds(reader, "reader.repeat_after_s", 3.0),
        interlock_path=_get(interlock, "interlock.path", str),
        fill_timeout=_seconds(interlock, "interlock.fill_timeout_s", 600.0),
        heartbeat=_seconds(interlock, "interlock.heartbeat_s", 1.0),
        root_certificate=base / _get(trust, "trust.root_certificate", str),
        initial_trust_list=base / initial if initial else None,
        listen_host=host,
        listen_port=port,
        language=language,
        allowed_hosts=allowed_hosts,
        override_lock_after=_int(screen, "attendant.lock_after_failures", 5, 1, 100),
        override_lock=timedelta(minutes=lock_minutes),
        refusal_sound=_get(screen, "attendant.refusal_sound", bool, True),
        policy=_policy(_table(document, "policy", required=False)),
        registry=_registry(_table(document, "registry", required=False), base),
        supervisors=_supervisors(document.get("supervisors", [])),
        metrics_listen=_listen(metrics_listen, "metrics.listen") if metrics_listen is not None else None,
        totaliser=_totaliser(document["totaliser"]) if "totaliser" in document else None,
    )


def _policy(table: dict[str, Any]) -> Policy:
    _only(
        table,
        "policy",
        {
            "mode",
            "warning_days",
            "trust_list_max_age_h",
            "refuse_non_genuine_chip",
            "timezone",
            "session_window_s",
            "min_refill_interval_min",
            "overridable",
        },
    )
    mode = _get(table, "policy.mode", str, "enforce")
    if mode not in ("enforce", "monitor"):
        raise ConfigError('policy.mode must be "enforce" or "monitor"')
    zone = _get(table, "policy.timezone", str, "Asia/Shanghai")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"policy.timezone {zone!r} is not a known IANA time zone") from None
    overridable = _get(table, "policy.overridable", list, list(DEFAULT_OVERRIDABLE))
    unknown = [r for r in overridable if r not in KNOWN_REASONS]
    if unknown:
        raise ConfigError(f"policy.overridable names unknown reason codes: {', '.join(map(str, unknown))}")
    return Policy(
        mode=mode,
        warning_days=_int(table, "policy.warning_days", 30, 0, 3650),
        trust_list_max_age=timedelta(hours=_number(table, "policy.trust_list_max_age_h", 168.0)),
        refuse_non_genuine_chip=_get(table, "policy.refuse_non_genuine_chip", bool, True),
        timezone=zone,
        session_window=_seconds(table, "policy.session_window_s", 120.0),
        min_refill_interval=timedelta(minutes=_number(table, "policy.min_refill_interval_min", 60.0)),
        overridable=frozenset(overridable),
    )


def _registry(table: dict[str, Any], base: Path) -> RegistrySettings:
    _only(
        table,
        "registry",
        {
            "url",
            "token",
            "token_file",
            "budget_ms",
            "sync_interval_s",
            "upload_batch",
            "max_backoff_s",
            "upload_debounce_s",
            "heartbeat_s",
        },
    )
    token = _get(table, "registry.token", str, None)
    token_file = _get(table, "registry.token_file", str, None)
    if token and token_file:
        raise ConfigError("give registry.token or registry.token_file, not both")
    if token_file:
        try:
            token = (base / token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"registry.token_file: cannot read {base / token_file}: {error.strerror}") from error
        private_files.warn_if_open(base / token_file, "the registry token")
    url = _get(table, "registry.url", str, None)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError("registry.url must start with http:// or https://")
    if url and not token:
        raise ConfigError("registry.url needs registry.token or registry.token_file")
    return RegistrySettings(
        url=url.rstrip("/") if url else None,
        token=token,
        budget=timedelta(milliseconds=_number(table, "registry.budget_ms", 300.0)),
        sync_interval=_seconds(table, "registry.sync_interval_s", 900.0),
        upload_batch=_int(table, "registry.upload_batch", 200, 1, 1000),
        max_backoff=_seconds(table, "registry.max_backoff_s", 300.0),
        upload_debounce=_seconds(table, "registry.upload_debounce_s", 300.0),
        heartbeat=_heartbeat_interval(table),
    )


def _heartbeat_interval(table: dict[str, Any]) -> timedelta:
    """[registry] heartbeat_s: the registry alarms on a station silent for 10 minutes (by default)."""
    seconds = _number(table, "registry.heartbeat_s", 60.0)
    if not 1 <= seconds <= 3600:
        raise ConfigError("registry.heartbeat_s must be between 1 and 3600 seconds")
    return timedelta(seconds=seconds)


def _totaliser(table: object) -> TotaliserSettings:
    if not isinstance(table, dict):
        raise ConfigError("totaliser must be a table")
    _only(
        table,
        "totaliser",
        {"path", "register_type", "address", "data_type", "word_order", "scale", "unit", "poll_s", "tolerance", "flow_stop_s"},
    )
    path = _get(table, "totaliser.path", str)
    if not path.startswith(("modbus-tcp://", "modbus-rtu://")):
        raise ConfigError("totaliser.path must be modbus-tcp://HOST[:PORT]/UNIT or modbus-rtu:///dev/ttyX?unit=N")
    choices = (
        ("register_type", "holding", ("holding", "input")),
        ("data_type", "uint32", ("uint16", "uint32", "int32", "uint64", "float32", "float64")),
        ("word_order", "big", ("big", "little")),
        ("unit", "kg", ("kg", "Nm3")),
    )
    chosen: dict[str, Any] = {}
    for key, default, allowed in choices:
        chosen[key] = _get(table, f"totaliser.{key}", str, default)
        if chosen[key] not in allowed:
            raise ConfigError(f"totaliser.{key} must be one of {', '.join(allowed)}, not {chosen[key]!r}")
    scale = _number(table, "totaliser.scale", 1.0)
    if scale == 0:
        raise ConfigError("totaliser.scale must be more than 0")
    poll = _number(table, "totaliser.poll_s", 30.0)
    flow_stop = _number(table, "totaliser.flow_stop_s", 30.0)
    if not 1 <= poll <= 3600 or not 2 <= flow_stop <= 3600:
        raise ConfigError("totaliser.poll_s must be 1-3600 and totaliser.flow_stop_s 2-3600 seconds")
    return TotaliserSettings(
        path=path,
        address=_int(table, "totaliser.address", None, 0, 65535),
        scale=scale,
        poll=timedelta(seconds=poll),
        tolerance=_number(table, "totaliser.tolerance", 0.05),
        flow_stop=timedelta(seconds=flow_stop),
        **chosen,
    )


def _supervisors(entries: object) -> tuple[Supervisor, ...]:
    if not isinstance(entries, list):
        raise ConfigError("supervisors must be an array of tables ([[supervisors]])")
    result = []
    for index, entry in enumerate(entries):
        where = f"supervisors[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        _only(entry, where, {"id", "name", "password_hash"})
        password_hash = _get(entry, f"{where}.password_hash", str)
        try:
            check_hash_format(password_hash)
        except ConfigError as error:
            raise ConfigError(f"{where}.password_hash: {error}") from None
        supervisor_id = _text(SUPERVISOR, f"{where}.id", _get(entry, f"{where}.id", str))
        result.append(Supervisor(supervisor_id, _get(entry, f"{where}.name", str, ""), password_hash))
    ids = [s.id for s in result]
    if len(set(ids)) != len(ids):
        raise ConfigError("supervisors: the same id appears twice")
    return tuple(result)


_MISSING: Any = object()


def _table(document: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = document.get(key, _MISSING)
    if value is _MISSING:
        if required:
            raise ConfigError(f"missing [{key}] table")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table")
    return value


def _only(table: dict[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"unknown setting {prefix}{unknown[0]} (allowed: {', '.join(sorted(allowed))})")


def _get(table: dict[str, Any], dotted: str, kind: type, default: Any = _MISSING) -> Any:
    key = dotted.rpartition(".")[2]
    if key not in table:
        if default is _MISSING:
            raise ConfigError(f"missing setting {dotted}")
        return default
    value = table[key]
    if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
        raise ConfigError(f"{dotted} must be a {kind.__name__}, not {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{dotted} must not be empty")
    return value


def _number(table: dict[str, Any], dotted: str, default: float) -> float:
    key = dotted.rpartition(".")[2]
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{dotted} must be a non-negative number")
    return float(value)


def _seconds(table: dict[str, Any], dotted: str, default: float) -> timedelta:
    return timedelta(seconds=_number(table, dotted, default))


def _int(table: dict[str, Any], dotted: str, default: int | None, low: int, high: int) -> int:
    value = _get(table, dotted, int, _MISSING if default is None else default)
    if not low <= value <= high:
        raise ConfigError(f"{dotted} must be between {low} and {high}")
    return int(value)


def _text(rule: TextRule, dotted: str, value: str) -> str:
    """A typed identifier checked with the rule the booth and the registry use for the same field,
    so a configured value can never make an event the registry refuses."""
    try:
        return rule.check(value)
    except FieldError as error:
        raise ConfigError(f"{dotted}: {error.field} {error.rule}") from None


# A host name or IPv4 address, or a bracketed IPv6 address, with an optional port.
_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::[0-9]{1,5})?"
)


def _allowed_hosts(entries: list[Any]) -> tuple[str, ...]:
    hosts = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str) or _HOST.fullmatch(entry.strip().lower()) is None:
            raise ConfigError(
                f"attendant.allowed_hosts[{index}] must be HOST or HOST:PORT (no scheme, path or wildcard), not {entry!r}"
            )
        hosts.append(entry.strip().lower())
    return tuple(hosts)


def _language(name: str) -> str:
    """attendant.language: a locale or language with an "attendant" catalogue installed (built in, or
    in CYLINDER_LOCALE_PATH), so the page has its words in it: "zh", "zh_CN", "en", ..."""
    installed = locale_names(page_words.DOMAIN)
    if name not in installed:
        raise ConfigError(f"attendant.language must be an installed language ({', '.join(installed)}), not {name!r}")
    return name


def _listen(text: str, setting: str = "attendant.listen") -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{setting} must be HOST:PORT, not {text!r}")
    return host, int(port)
