"""station-agent run | check-config | hash-password | outbox salvage.

Exit codes: 0 fine, 1 runtime failure (outbox, interlock, reader), 2 bad configuration or usage.
Whatever happens, the interlock is driven off before the process exits on purpose. A start that
cannot succeed (the relay module does not answer, the page's port is taken) exits 1 at once, so
that systemd restarts the agent; meanwhile the relay module's own watchdog holds the pump off.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType

from cryptography.x509 import Certificate

from station_agent.agent import Agent, utc_now
from station_agent.clock_offset import ClockOffset
from station_agent.config import StationConfig, load_config
from station_agent.errors import ConfigError, InterlockError, StationAgentError
from station_agent.interlock import Interlock, open_interlock
from station_agent.lifecycle import file_sha256
from station_agent.outbox import Outbox
from station_agent.passwords import hash_password
from station_agent.registry_client import HttpRegistryClient
from station_agent.salvage import add_salvage_command
from station_agent.sync import TrustCache
from station_agent.tagsource import TagSource, open_tag_source
from station_agent.totaliser import ModbusTotaliser, TotaliserError, open_totaliser
from station_agent.web import AttendantServer
from tag_tools import pki, private_files
from tag_tools.errors import TrustError

log = logging.getLogger(__name__)


def load_root(config: StationConfig) -> Certificate:
    try:
        return pki.load_certificate(config.root_certificate.read_bytes())
    except OSError as error:
        raise ConfigError(f"trust.root_certificate: cannot read {config.root_certificate}: {error.strerror}") from error
    except (TrustError, ValueError) as error:
        raise ConfigError(f"trust.root_certificate: {config.root_certificate} is not a certificate: {error}") from error


def build_agent(
    config: StationConfig,
    *,
    source: TagSource | None = None,
    interlock: Interlock | None = None,
    wall_clock: Callable[[], datetime] = utc_now,
    config_sha256: str | None = None,
) -> Agent:
    """Everything `run` wires together, so tests and the benchmark can swap the source or the output.
    `config_sha256`: the config file's hash, for the agent_started and config_changed reports."""
    root = load_root(config)
    initial = None
    if config.initial_trust_list is not None:
        try:
            initial = config.initial_trust_list.read_bytes()
        except OSError as error:
            raise ConfigError(f"trust.initial_trust_list: cannot read {config.initial_trust_list}: {error.strerror}") from error
    outbox = Outbox(config.outbox_path, pump=config.pump, clock=wall_clock)
    meter: ModbusTotaliser | None = None
    try:
        cache = TrustCache(
            outbox,
            root,
            config.policy.trust_list_max_age,
            initial,
            clock=wall_clock,
        )
        clock_offset = ClockOffset()
        client = (
            HttpRegistryClient(
                config.registry.url,
                config.registry.token or "",
                timezone=config.policy.timezone,
                clock_offset=clock_offset,
                wall_clock=wall_clock,
            )
            if config.registry.url
            else None
        )
        # Opening connects nothing: a meter that is down is a fault once running, never a failed start.
        meter = open_totaliser(config.totaliser) if config.totaliser is not None else None
        return Agent(
            config,
            source=source or open_tag_source(config.reader_path, repeat_after_s=config.repeat_after.total_seconds()),
            interlock=interlock or open_interlock(config.interlock_path),
            outbox=outbox,
            cache=cache,
            client=client,
            clock_offset=clock_offset,
            clock=wall_clock,
            echo=lambda line: print(line, flush=True),
            meter=meter,
            config_sha256=config_sha256,
        )
    except BaseException:
        if meter is not None:
            meter.close()
        outbox.close()
        raise


def _force_off(config: StationConfig) -> None:
    """Startup failed: still try to leave the pump disabled."""
    try:
        interlock = open_interlock(config.interlock_path)
        try:
            interlock.set_enabled(False)
        finally:
            interlock.close()
    except (InterlockError, OSError) as error:
        log.error("could not drive the interlock off: %s", error)


def cmd_run(args: argparse.Namespace, wall_clock: Callable[[], datetime] = utc_now) -> int:
    config = load_config(Path(args.config))
    try:
        agent = build_agent(config, wall_clock=wall_clock, config_sha256=file_sha256(Path(args.config)))
    except ConfigError:
        _force_off(config)
        raise
    except StationAgentError as error:
        print(f"station-agent: {error}", file=sys.stderr)
        _force_off(config)
        return 1
    try:
        agent.start()
    except InterlockError as error:
        print(f"station-agent: cannot drive the pump interlock off at start: {error}", file=sys.stderr)
        _shut_down(agent)
        return 1
    try:
        server = AttendantServer(agent, config.listen_host, config.listen_port)
    except OSError as error:
        print(
            f"station-agent: cannot serve the attendant page on {config.listen_host}:{config.listen_port}: {error}",
            file=sys.stderr,
        )
        _shut_down(agent)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        agent.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    if config.metrics_listen is not None:
        # A port of its own: booth_guard keeps the booth page's port to the page (station_agent/metrics.py).
        try:
            agent.metrics.serve(*config.metrics_listen)
        except OSError as error:  # the pump works without its metrics: say so and go on
            log.error("cannot serve metrics on %s:%d: %s", *config.metrics_listen, error)
    try:
        print(
            f"station-agent: station {config.station_code} pump {config.pump}, {config.policy.mode} mode, "
            f"attendant page {server.url}",
            flush=True,
        )
        agent.run()
    finally:
        server.stop()
        _shut_down(agent)
    return 0


def _shut_down(agent: Agent) -> None:
    """Pump off, threads stopped, reader and outbox released (also after a failed start)."""
    try:
        agent.stop()
    finally:
        agent.outbox.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    load_root(config)
    open_interlock(config.interlock_path).close()
    meter = _meter_check(config)
    print(
        f"ok: station {config.station_code} pump {config.pump}, reader {config.reader_path}, "
        f"interlock {config.interlock_path}, {config.policy.mode} mode, "
        f"registry {config.registry.url or 'none (offline only)'}, {len(config.supervisors)} supervisor(s), "
        f"totaliser {meter}"
    )
    return 0


def _meter_check(config: StationConfig) -> str:
    """The totaliser's reading now, to compare with the dispenser's display (docs/station.md).
    A meter that does not answer is said, not fatal: the agent runs without it."""
    if config.totaliser is None:
        return "none (unmetered)"
    meter = open_totaliser(config.totaliser)
    try:
        return f"{meter.read():.3f} {meter.unit}"
    except TotaliserError as error:
        print(f"station-agent: warning: {error}", file=sys.stderr)
        return "unreadable"
    finally:
        meter.close()


def cmd_hash_password(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("supervisor password: ")
    if not args.stdin and getpass.getpass("again: ") != password:
        print("station-agent: the passwords differ", file=sys.stderr)
        return 2
    if len(password) < 8:
        print("station-agent: use at least 8 characters", file=sys.stderr)
        return 2
    try:
        print(hash_password(password))  # Argon2id, OWASP's cost (tag_tools.passwords)
    except ValueError as error:  # a control character, or longer than any password may be
        print(f"station-agent: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None, *, wall_clock: Callable[[], datetime] | None = None) -> int:
    """The command line. `wall_clock` replaces the system's UTC clock for `run` (fault-injection
    tests step it for this process only); monotonic time is never replaced."""
    parser = argparse.ArgumentParser(prog="station-agent", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    run = partial(cmd_run, wall_clock=wall_clock or utc_now)
    for name, handler in (("run", run), ("check-config", cmd_check_config)):
        command = sub.add_parser(name)
        command.add_argument("--config", required=True, help="path to station.toml")
        command.set_defaults(handler=handler)
    hashing = sub.add_parser("hash-password", help="print an Argon2id hash for [[supervisors]] password_hash")
    hashing.add_argument("--stdin", action="store_true", help="read the password from standard input")
    hashing.set_defaults(handler=cmd_hash_password)
    add_salvage_command(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        with private_files.private_umask():  # the outbox, its folder and anything else made: 0600 / 0700
            return int(args.handler(args))
    except ConfigError as error:
        print(f"station-agent: configuration error: {error}", file=sys.stderr)
        return 2
    except StationAgentError as error:
        print(f"station-agent: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
