"""A highly available PostgreSQL on this machine: etcd and a three-member Patroni cluster with
synchronous replication, in a throw-away folder on free ports, for tests/registry/test_patroni.py
and bench/bench_failover.py.

The router is libpq's multi-host connection string, not HAProxy:

- the writer URL lists every member with `target_session_attrs=read-write`: libpq tries them in
  turn and keeps the one that accepts writes, so after a failover or a switchover the next new
  connection finds the new leader by itself;
- the reader URL lists them with `target_session_attrs=prefer-standby` and
  `load_balance_hosts=random`: a replica if one is up, spread over the replicas, else the leader.

HAProxy (with Patroni's REST health checks) would be a second service to run, keep highly
available and monitor on every registry node, one more network hop per query, and it learns of a
new leader only at its next health check. libpq needs none of that: a refused or read-only member
is skipped at connect time, and the registry already reconnects when a pooled connection dies
(registry_service/db.py). Its cost: a member whose machine is gone (not refusing, silent) costs
every new connection up to `connect_timeout` before libpq tries the next host; the pool keeps its
connections, so only reconnects pay it, and `load_balance_hosts=random` keeps the dead host from
always being tried first. A deployment whose clients cannot use libpq 16+ parameters should put
HAProxy in front instead (docs/operations.md).

PostgreSQL refuses to run as root: when the tests run as root, Patroni (which starts postgres)
runs as the `postgres` user, as tests/registry/pg_cluster.py does for its throw-away server.
When a binary or the cluster cannot start the caller gets `peer_unavailable` (a failure under
CI=true).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.peers import free_tcp_port as free_port
from tests.peers import peer_unavailable
from tests.registry.pg_cluster import PG_BIN

ETCD = Path("/usr/bin/etcd")
PATRONI = Path("/usr/bin/patroni")

# Patroni's timings (its DCS settings), all in seconds.
# - A dead leader's key expires at most TTL after its last refresh; the synchronous standby notices
#   within LOOP_WAIT and promotes itself: ~10 s measured from the kill. Writes resume once the other
#   replica streams from the new leader (strict synchronous mode acknowledges nothing before): ~13 s
#   measured, well within the 30 s goal (bench/bench_failover.py).
# - Safe: a leader that cannot reach etcd keeps retrying for RETRY_TIMEOUT and then demotes itself.
#   LOOP_WAIT + 2 * RETRY_TIMEOUT (9) <= TTL (10), Patroni's rule, so a leader cut off from etcd has
#   stopped accepting writes before its key can expire and another member can be promoted: never
#   two leaders. (Strict synchronous mode guards too: a leader whose standby follows someone else
#   acknowledges no commit.) RETRY_TIMEOUT of 4 s rides out etcd or disk hiccups on a loaded
#   machine; a smaller TTL would fail over sooner but demote a healthy leader starved of CPU.
TTL_S = 10
LOOP_WAIT_S = 1
RETRY_TIMEOUT_S = 4
START_TIMEOUT_S = 120.0


@dataclass
class Member:
    name: str
    root: Path
    pg_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "patroni.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.pg_port}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def postmaster_pid(self) -> int | None:
        """The running postmaster of this member's data folder (not a stale pid file's reused pid)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.data).encode() in command else None

    def url(self, database: str = "postgres") -> str:
        """This member alone (whatever its role)."""
        return f"postgresql+psycopg://postgres@{self.host}/{database}"


def _http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0, method: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class PatroniCluster:
    """etcd plus `size` Patroni members; `start()` returns once a leader and a synchronous standby
    stream and every member is running."""

    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        self.scope = f"cg-{uuid.uuid4().hex[:8]}"
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.etcd: subprocess.Popen[bytes] | None = None
        self.members = [Member(f"pg{i}", root / f"pg{i}") for i in range(size)]

    @classmethod
    def in_temp_folder(cls, size: int = 3) -> PatroniCluster:
        # Not under pytest's tmp_path: its parents are private to root, and postgres must reach it.
        return cls(Path(tempfile.mkdtemp(prefix="registry-patroni-")), size)

    # --- URLs -----------------------------------------------------------------------------------

    def _hosts(self) -> str:
        return "&".join(f"host={m.host}" for m in self.members)

    def writer_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?{self._hosts()}&target_session_attrs=read-write"

    def reader_url(self, database: str = "postgres") -> str:
        return (
            f"postgresql+psycopg://postgres@/{database}?{self._hosts()}"
            "&target_session_attrs=prefer-standby&load_balance_hosts=random"
        )

    # --- starting and stopping ------------------------------------------------------------------

    def start(self) -> PatroniCluster:
        for binary in (ETCD, PATRONI, PG_BIN / "postgres"):
            if not binary.exists():
                peer_unavailable("Patroni cluster", f"{binary} not found (Debian packages etcd-server, patroni, postgresql)")
        self.root.mkdir(parents=True, exist_ok=True)
        self._start_etcd()
        for member in self.members:
            self._write_config(member)
            self.start_member(member)
        try:
            self.wait_healthy(START_TIMEOUT_S)
        except TimeoutError as exc:
            self.destroy(keep_logs=True)
            peer_unavailable("Patroni cluster", f"{exc}; logs in {self.root}")
        return self

    def _start_etcd(self) -> None:
        data = self.root / "etcd"
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        log = (self.root / "etcd.log").open("wb")
        self.etcd = subprocess.Popen(
            [
                str(ETCD),
                "--name=etcd0",
                f"--data-dir={data}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=etcd0={peer}",
                f"--initial-cluster-token={self.scope}",
                "--initial-cluster-state=new",
                "--logger=zap",
                "--log-level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _http_json(f"{client}/health", timeout=2)
                if status == 200 and isinstance(body, dict) and body.get("health") == "true":
                    return
            except OSError:
                pass
            if self.etcd.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "etcd.log").read_text(errors="replace")[-1000:]
                self.destroy(keep_logs=True)
                peer_unavailable("etcd", tail or "did not answer /health")
            time.sleep(0.1)

    def _write_config(self, member: Member) -> None:
        member.root.mkdir(parents=True, exist_ok=True)
        config = {
            "scope": self.scope,
            "name": member.name,
            "restapi": {"listen": f"127.0.0.1:{member.api_port}", "connect_address": f"127.0.0.1:{member.api_port}"},
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
            "log": {"level": "INFO"},
            "watchdog": {"mode": "off"},  # no /dev/watchdog here; production: "required" with softdog
            "bootstrap": {
                "dcs": {
                    "ttl": TTL_S,
                    "loop_wait": LOOP_WAIT_S,
                    "retry_timeout": RETRY_TIMEOUT_S,
                    # An acknowledged commit is on the synchronous standby too, and only it may be
                    # promoted; strict: with no standby left the leader stops acknowledging writes
                    # rather than accept ones a failover could lose.
                    "synchronous_mode": True,
                    "synchronous_mode_strict": True,
                    "postgresql": {
                        "use_pg_rewind": True,  # a killed leader rejoins as a replica
                        "parameters": {
                            "wal_level": "replica",
                            "wal_log_hints": "on",  # pg_rewind needs it
                            "hot_standby": "on",
                            # Long bureau queries on a replica are not cancelled by the cleanup
                            # of rows they still see.
                            "hot_standby_feedback": "on",
                            "max_connections": 100,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "128MB",
                            # A replica whose leader went away retries streaming (from the new
                            # leader, once Patroni points it there) after 1 s, not 5: strict
                            # synchronous mode accepts no commit until a standby streams again.
                            "wal_retrieve_retry_interval": "1s",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}, "no-sync"],
            },
            "postgresql": {
                "listen": member.host,
                "connect_address": member.host,
                "data_dir": str(member.data),
                "bin_dir": str(PG_BIN),
                "pgpass": str(member.root / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "replicator", "password": "replicator"},
                },
                "parameters": {"unix_socket_directories": str(member.root)},
                # Throw-away cluster on the loopback interface only: trust, as pg_cluster.py does.
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication replicator 127.0.0.1/32 trust",
                ],
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
            },
        }
        # JSON is YAML: no YAML writer needed.
        (member.root / "patroni.yml").write_text(json.dumps(config, indent=2))
        if os.geteuid() == 0:
            for path in (self.root, member.root, member.root / "patroni.yml"):
                shutil.chown(path, "postgres", "postgres")
            self.root.chmod(0o755)  # etcd's folder inside stays root's
            member.root.chmod(0o700)

    def start_member(self, member: Member) -> None:
        """Start (or restart) the member's Patroni; it starts postgres, as a replica if a leader exists."""
        log = member.log.open("ab")
        as_postgres: dict[str, Any] = {}
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            account = pwd.getpwnam("postgres")
            as_postgres = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            env.update(HOME=account.pw_dir, USER="postgres", LOGNAME="postgres")
        member.process = subprocess.Popen(
            [str(PATRONI), str(member.root / "patroni.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=member.root,
            env=env,
            start_new_session=True,  # its own process group: kill() must not reach the test runner
            **as_postgres,
        )
        log.close()

    def kill(self, member: Member) -> None:
        """Lose the member's node: SIGKILL its Patroni and its postgres (postmaster and backends,
        which Patroni starts in a session of their own) together. A postgres killed alone would be
        restarted in place by its Patroni."""
        postmaster = member.postmaster_pid()
        groups = []
        if member.process is not None and member.process.poll() is None:
            groups.append(member.process.pid)
        if postmaster is not None:
            try:
                groups.append(os.getpgid(postmaster))
            except ProcessLookupError:
                pass
        own = os.getpgrp()
        for group in groups:
            if group != own:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if member.process is not None:
            member.process.wait(timeout=30)

    def stop_member(self, member: Member) -> None:
        """A clean stop: Patroni stops its postgres (fast shutdown) and leaves the cluster."""
        if member.process is not None and member.process.poll() is None:
            member.process.terminate()
            try:
                member.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill(member)

    def destroy(self, keep_logs: bool = False) -> None:
        for member in self.members:
            self.kill(member)
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.kill()
            self.etcd.wait(timeout=30)
        if not keep_logs:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- the cluster's state --------------------------------------------------------------------

    def state(self) -> list[dict[str, Any]]:
        """Patroni's view of the members (GET /cluster on any member that answers)."""
        for member in self.members:
            if not member.running():
                continue
            try:
                status, body = _http_json(f"{member.api}/cluster", timeout=3)
            except OSError:
                continue
            if status == 200 and isinstance(body, dict):
                return list(body.get("members", []))
        return []

    def leader(self) -> Member | None:
        names = [m["name"] for m in self.state() if m.get("role") == "leader" and m.get("state") == "running"]
        return self.member(names[0]) if names else None

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def replicas(self) -> list[Member]:
        leader = self.leader()
        return [m for m in self.members if m is not leader and m.running()]

    def wait_healthy(self, timeout_s: float = 60.0) -> Member:
        """Wait until one running leader, a synchronous standby, and every running member running
        and caught up; returns the leader."""
        deadline = time.monotonic() + timeout_s
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            seen = self.state()
            running = {m.name for m in self.members if m.running()}
            if not running:
                raise TimeoutError(f"no Patroni member is running (see {self.root}/pg*/patroni.log)")
            by_name = {m["name"]: m for m in seen}
            leaders = [m for m in seen if m.get("role") == "leader" and m.get("state") == "running"]
            healthy = (
                len(leaders) == 1
                and any(m.get("role") == "sync_standby" and m.get("state") == "running" for m in seen)
                and running <= set(by_name)
                and all(by_name[n].get("state") == "running" for n in running)
                and all(by_name[n].get("lag", 0) in (0, None) for n in running if by_name[n].get("role") != "leader")
            )
            if healthy:
                return self.member(leaders[0]["name"])
            time.sleep(0.3)
        raise TimeoutError(f"Patroni cluster not healthy within {timeout_s:.0f} s: {seen}")

    def wait_leader(self, other_than: Member | None = None, timeout_s: float = 60.0) -> Member:
        """Wait for a running leader (not `other_than`) that accepts writes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader is not other_than and self._writable(leader):
                return leader
            time.sleep(0.1)
        raise TimeoutError(f"no new leader within {timeout_s:.0f} s: {self.state()}")

    def _writable(self, member: Member) -> bool:
        engine = create_engine(member.url(), connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as connection:
                return connection.scalar(text("SELECT NOT pg_is_in_recovery()")) is True
        except Exception:  # any failure means "not yet"
            return False
        finally:
            engine.dispose()

    def switchover(self, candidate: Member | None = None, timeout_s: float = 60.0) -> Member:
        """A planned switchover through Patroni's REST API (what `patronictl switchover` does);
        returns the new leader."""
        leader = self.wait_healthy(timeout_s)
        body: dict[str, Any] = {"leader": leader.name}
        if candidate is not None:
            body["candidate"] = candidate.name
        status, answer = _http_json(f"{leader.api}/switchover", body, timeout=timeout_s)
        if status != 200:
            raise RuntimeError(f"switchover refused ({status}): {answer}")
        return self.wait_leader(other_than=leader, timeout_s=timeout_s)

    def set_synchronous_mode(self, on: bool, timeout_s: float = 30.0) -> None:
        """Turn Patroni's strict synchronous replication on or off cluster-wide (PATCH /config) and
        wait until the leader's synchronous_standby_names says so: what a commit waits for changes
        only then. Used to measure what synchronous replication costs under the same load."""
        leader = self.wait_leader(timeout_s=timeout_s)  # with it off there is no sync standby to wait for
        body = {"synchronous_mode": on, "synchronous_mode_strict": on}
        status, answer = _http_json(f"{leader.api}/config", body, method="PATCH")
        if status != 200:
            raise RuntimeError(f"configuration refused ({status}): {answer}")
        engine = create_engine(leader.url(), connect_args={"connect_timeout": 2})
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                with engine.connect() as connection:
                    names = connection.scalar(text("SHOW synchronous_standby_names")) or ""
                if bool(names.strip()) == on:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"synchronous_standby_names is {names!r} {timeout_s:.0f} s after asking for {on}")
                time.sleep(0.2)
        finally:
            engine.dispose()
        if on:
            self.wait_healthy(timeout_s)

    def set_replica_parameters(self, parameters: dict[str, Any], timeout_s: float = 30.0) -> None:
        """Change PostgreSQL parameters cluster-wide (PATCH /config, as `patronictl edit-config`
        does; None removes one) and wait until every replica shows them (recovery settings such as
        recovery_min_apply_delay are given to replicas only)."""
        leader = self.wait_healthy(timeout_s)
        status, answer = _http_json(f"{leader.api}/config", {"postgresql": {"parameters": parameters}}, method="PATCH")
        if status != 200:
            raise RuntimeError(f"configuration refused ({status}): {answer}")
        deadline = time.monotonic() + timeout_s
        for member in self.replicas():
            engine = create_engine(member.url(), connect_args={"connect_timeout": 2})
            try:
                for name, value in parameters.items():
                    while True:
                        with engine.connect() as connection:
                            shown = connection.scalar(
                                text("SELECT setting || coalesce(unit, '') FROM pg_settings WHERE name = :n"), {"n": name}
                            )
                            default = connection.scalar(
                                text("SELECT boot_val || coalesce(unit, '') FROM pg_settings WHERE name = :n"), {"n": name}
                            )
                        if shown == (default if value is None else str(value)):
                            break
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"{member.name}: {name} is {shown!r}, not {value!r}")
                        time.sleep(0.2)
            finally:
                engine.dispose()

    def create_database(self, name: str) -> None:
        engine = create_engine(self.writer_url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
